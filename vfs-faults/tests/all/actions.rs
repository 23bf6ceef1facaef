//! Each action, as a SQLite user sees it.

use crate::common::*;
use std::time::{Duration, Instant};
use vfs_faults::*;

#[test]
fn passthrough_rollback_counts_and_classifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let v = vfs("pass", FaultPlan::default());
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES(1,'a');")
        .unwrap();
    assert_eq!(count(&c).unwrap(), 1);
    let k = v.counters();
    assert!(k.get(OpKind::Write, FileKind::MainDb) > 0);
    assert!(k.get(OpKind::Write, FileKind::MainJournal) > 0);
    assert!(k.get(OpKind::Open, FileKind::MainJournal) > 0);
    assert!(k.get(OpKind::Delete, FileKind::MainJournal) > 0);
    assert!(k.get(OpKind::Sync, FileKind::MainDb) > 0);
    drop(c);
    assert_eq!(count(&plain(&db)).unwrap(), 1);
}

#[test]
fn last_op_names_what_the_connection_did_last() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let v = vfs("lastop", FaultPlan::default());
    assert_eq!(v.last_op(), (None, 0));
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA journal_mode=DELETE; CREATE TABLE t(x);")
        .unwrap();
    let (last, n) = v.last_op();
    let total: u64 = v.counters().by_op.values().flat_map(|m| m.values()).sum();
    assert_eq!(n, total);
    // The commit ends by unlocking the database file.
    assert_eq!(last, Some((OpKind::Unlock, FileKind::MainDb)));
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(v.last_op().0, Some((OpKind::Lock, FileKind::MainDb)));
}

#[test]
fn wal_several_connections() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let v = vfs("wal", FaultPlan::default());
    let a = open(&db, &v).unwrap();
    a.pragma_update(None, "journal_mode", "WAL").unwrap();
    a.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v);")
        .unwrap();
    let b = open(&db, &v).unwrap();
    for i in 0..50 {
        a.execute("INSERT INTO t VALUES(?1, 'x')", [i]).unwrap();
        assert_eq!(count(&b).unwrap(), i + 1);
    }
    // a reader holds a snapshot while the writer goes on
    b.execute_batch("BEGIN").unwrap();
    let before = count(&b).unwrap();
    a.execute("INSERT INTO t VALUES(1000, 'y')", []).unwrap();
    assert_eq!(count(&b).unwrap(), before);
    b.execute_batch("COMMIT").unwrap();
    assert_eq!(count(&b).unwrap(), before + 1);
    a.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    let k = v.counters();
    assert!(k.get(OpKind::Write, FileKind::Wal) > 0);
    assert!(k.total(OpKind::ShmMap) > 0);
    assert!(k.total(OpKind::ShmLock) > 0);
}

#[test]
fn ioerr_fsync_on_journal_keeps_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    setup(&db, 10);
    let v = vfs(
        "fsync",
        plan(vec![rule(
            &[OpKind::Sync],
            Some(FileKind::MainJournal),
            Occurrence::Nth(1),
            err(ErrorCode::IoerrFsync, false),
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    let r = c.execute("UPDATE t SET v = 'new'", []);
    assert!(r.is_err(), "the commit must fail");
    drop(c);
    let p = plain(&db);
    let n: i64 = p
        .query_row("SELECT count(*) FROM t WHERE v = 'new'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(integrity(&p), "ok");
    assert_eq!(v.rule_hits()[0].fired, 1);
}

/// The op each error code is injected on, and the journal mode that makes the op happen.
fn target(code: ErrorCode) -> (OpKind, Option<FileKind>, &'static str) {
    match code {
        ErrorCode::IoerrRead | ErrorCode::IoerrShortRead => {
            (OpKind::Read, Some(FileKind::MainDb), "DELETE")
        }
        ErrorCode::IoerrWrite | ErrorCode::Full | ErrorCode::Busy => {
            (OpKind::Write, Some(FileKind::MainDb), "DELETE")
        }
        ErrorCode::IoerrFsync => (OpKind::Sync, Some(FileKind::MainDb), "DELETE"),
        ErrorCode::IoerrTruncate => (OpKind::Truncate, Some(FileKind::MainJournal), "TRUNCATE"),
        ErrorCode::IoerrDelete => (OpKind::Delete, Some(FileKind::MainJournal), "DELETE"),
        ErrorCode::IoerrUnlock => (OpKind::Unlock, Some(FileKind::MainDb), "DELETE"),
        ErrorCode::Cantopen => (OpKind::Open, Some(FileKind::MainDb), "DELETE"),
    }
}

fn attempt(db: &std::path::Path, v: &FaultVfs, mode: &str, i: i64) -> rusqlite::Result<()> {
    let c = open(db, v)?;
    c.pragma_update(None, "journal_mode", mode)?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.execute("INSERT INTO t VALUES(?1, 'n')", [1000 + i])?;
    Ok(())
}

#[test]
fn every_error_code_transient_and_persistent() {
    let codes = [
        ErrorCode::IoerrRead,
        ErrorCode::IoerrShortRead,
        ErrorCode::IoerrWrite,
        ErrorCode::IoerrFsync,
        ErrorCode::IoerrTruncate,
        ErrorCode::IoerrDelete,
        ErrorCode::IoerrUnlock,
        ErrorCode::Full,
        ErrorCode::Busy,
        ErrorCode::Cantopen,
    ];
    for code in codes {
        for persistent in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("e.db");
            setup(&db, 20);
            let (op, file, mode) = target(code);
            {
                let c = plain(&db);
                c.pragma_update(None, "journal_mode", mode).unwrap();
            }
            let v = vfs(
                "codes",
                plan(vec![rule(
                    &[op],
                    file,
                    Occurrence::Every,
                    err(code, persistent),
                )]),
            );
            // Only the first matching op of each attempt may fail when transient: re-arm.
            let first = attempt(&db, &v, mode, 0);
            assert!(
                first.is_err(),
                "{code:?} persistent={persistent}: first attempt must fail"
            );
            let fired_after_first = v.rule_hits()[0].fired;
            assert!(fired_after_first >= 1);
            if !persistent {
                v.set_plan(plan(vec![rule(
                    &[op],
                    file,
                    Occurrence::Nth(1),
                    err(code, false),
                )]));
                let again = attempt(&db, &v, mode, 1);
                // The transient error hits once; the statement may fail once more, then works.
                if again.is_err() {
                    attempt(&db, &v, mode, 2).unwrap_or_else(|e| panic!("{code:?}: {e}"));
                }
                assert_eq!(v.rule_hits()[0].fired, 1, "{code:?}: transient fires once");
            } else {
                let again = attempt(&db, &v, mode, 1);
                assert!(again.is_err(), "{code:?}: persistent error must fail again");
                assert!(v.rule_hits()[0].fired > fired_after_first);
            }
            v.set_plan(FaultPlan::default());
            let p = plain(&db);
            assert_eq!(integrity(&p), "ok", "{code:?}");
        }
    }
}

#[test]
fn lost_write_is_caught_by_content_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    setup(&db, 100);
    let v = vfs(
        "lost",
        plan(vec![rule(
            &[OpKind::Write],
            Some(FileKind::MainDb),
            Occurrence::Every,
            Action::LostWrite,
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.execute("UPDATE t SET v = 'changed'", [])
        .expect("a lost write reports success");
    drop(c);
    assert!(v.rule_hits()[0].fired > 0);
    let p = plain(&db);
    let n: i64 = p
        .query_row("SELECT count(*) FROM t WHERE v = 'changed'", [], |r| {
            r.get(0)
        })
        .unwrap_or(-1);
    assert_ne!(n, 100, "the committed update must be missing");
}

#[test]
fn torn_write_corrupts_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    setup(&db, 200);
    let v = vfs(
        "torn",
        plan(vec![rule(
            &[OpKind::Write],
            Some(FileKind::MainDb),
            Occurrence::Every,
            Action::TornWrite {
                keep_sectors: 0,
                keep_bytes: Some(100),
                then: None,
            },
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.execute("UPDATE t SET v = 'torn-' || id", [])
        .expect("torn writes report OK");
    drop(c);
    assert!(v.rule_hits()[0].fired > 0);
    let p = plain(&db);
    let ok = integrity(&p) == "ok";
    let n: i64 = p
        .query_row("SELECT count(*) FROM t WHERE v LIKE 'torn-%'", [], |r| {
            r.get(0)
        })
        .unwrap_or(-1);
    assert!(
        !ok || n != 200,
        "torn pages must show: integrity={ok} n={n}"
    );

    // With `then`, the writer is told.
    let dir2 = tempfile::tempdir().unwrap();
    let db2 = dir2.path().join("t2.db");
    setup(&db2, 10);
    v.set_plan(plan(vec![rule(
        &[OpKind::Write],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        Action::TornWrite {
            keep_sectors: 1,
            keep_bytes: None,
            then: Some(ErrorCode::IoerrWrite),
        },
    )]));
    let c = open(&db2, &v).unwrap();
    assert!(c.execute("UPDATE t SET v = 'x'", []).is_err());
    drop(c);
    assert_eq!(v.rule_hits()[0].fired, 1);
    assert_eq!(
        integrity(&plain(&db2)),
        "ok",
        "the journal repairs a reported torn write"
    );
}

#[test]
fn short_read_is_visible() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    setup(&db, 300);
    let v = vfs(
        "short",
        plan(vec![rule(
            &[OpKind::Read],
            Some(FileKind::MainDb),
            Occurrence::Range {
                from: 3,
                to: 1_000_000,
            },
            Action::ShortRead { keep_bytes: 0 },
        )]),
    );
    let c = open(&db, &v).unwrap();
    let r = c.query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    });
    assert!(v.rule_hits()[0].fired > 0);
    match r {
        Err(_) => {}
        Ok((n, _)) => assert_ne!(n, 300, "zeroed pages must change what is read"),
    }
    v.set_plan(FaultPlan::default());
    drop(c);
    assert_eq!(count(&open(&db, &v).unwrap()).unwrap(), 300);
}

#[test]
fn delay_slows_the_operation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    setup(&db, 1);
    let v = vfs(
        "delay",
        plan(vec![rule(
            &[OpKind::Sync],
            None,
            Occurrence::Nth(1),
            Action::Delay { ms: 300 },
        )]),
    );
    let c = open(&db, &v).unwrap();
    let t = Instant::now();
    c.execute("INSERT INTO t VALUES(99, 'd')", []).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(290),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(v.rule_hits()[0].fired, 1);
}

/// An injected write error writes nothing: with the journal off nothing could repair a write
/// that happened anyway, so the file must be byte for byte what it was.
#[test]
fn a_failed_write_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wf.db");
    setup(&db, 30);
    let before = std::fs::read(&db).unwrap();
    let v = vfs(
        "write-fails",
        plan(vec![rule(
            &[OpKind::Write],
            Some(FileKind::MainDb),
            Occurrence::Every,
            err(ErrorCode::IoerrWrite, true),
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA journal_mode=OFF").unwrap();
    assert!(c.execute("UPDATE t SET v = 'new'", []).is_err());
    drop(c);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(v.rule_hits()[0].fired > 0);
}

/// xSync reaches the base VFS: a fault VFS stacked on another one (as its base) passes every
/// sync down, so the inner one counts as many as the outer one saw.
#[test]
fn syncs_reach_the_base_vfs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sync.db");
    setup(&db, 5);
    let inner = vfs("sync-inner", FaultPlan::default());
    let outer = FaultVfs::register_with(
        &format!("sync-outer-{}", std::process::id()),
        Options {
            base: Some(inner.name().to_string()),
            ..Options::default()
        },
    )
    .unwrap();
    let c = open(&db, &outer).unwrap();
    c.execute_batch("PRAGMA synchronous=FULL").unwrap();
    c.execute("UPDATE t SET v = 'new'", []).unwrap();
    drop(c);
    let synced = outer.counters().total(OpKind::Sync);
    assert!(synced >= 2, "journal and database synced: {synced}");
    assert_eq!(inner.counters().total(OpKind::Sync), synced);
    assert_eq!(
        inner.counters().total(OpKind::Write),
        outer.counters().total(OpKind::Write)
    );
}
