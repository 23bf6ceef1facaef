//! Each action, as a SQLite user sees it.
mod common;

use common::*;
use std::sync::{Arc, Mutex};
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

#[test]
fn markers_in_order_to_callback_and_fd() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    setup(&db, 1);
    let fd_path = dir.path().join("markers.jsonl");
    let fd_file = std::fs::File::create(&fd_path).unwrap();
    let v = vfs(
        "marker",
        plan(vec![
            rule(
                &[OpKind::Write],
                Some(FileKind::MainJournal),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "journal".into(),
                },
            ),
            rule(
                &[OpKind::Sync],
                Some(FileKind::MainDb),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "db-sync".into(),
                },
            ),
            rule(
                &[OpKind::Delete],
                Some(FileKind::MainJournal),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "commit".into(),
                },
            ),
        ]),
    );
    use std::os::fd::AsRawFd;
    v.set_marker_fd(Some(fd_file.as_raw_fd()));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s2 = Arc::clone(&seen);
    v.on_marker(move |m| s2.lock().unwrap().push(m.to_string()));
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute("INSERT INTO t VALUES(5, 'm')", []).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["journal", "db-sync", "commit"]);
    v.set_marker_fd(None);
    let text = std::fs::read_to_string(&fd_path).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["marker"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, vec!["journal", "db-sync", "commit"]);
}

#[test]
fn after_marker_gates_a_rule() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("am.db");
    setup(&db, 1);
    let mut r = rule(
        &[OpKind::Write],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        err(ErrorCode::IoerrWrite, false),
    );
    r.select.after_marker = Some("go".into());
    let v = vfs("after", plan(vec![r]));
    let c = open(&db, &v).unwrap();
    c.execute("INSERT INTO t VALUES(10, 'a')", []).unwrap();
    c.execute("INSERT INTO t VALUES(11, 'a')", []).unwrap();
    assert_eq!(
        v.rule_hits()[0].matched,
        0,
        "nothing counts before the marker"
    );
    v.emit_marker("go");
    assert!(c.execute("INSERT INTO t VALUES(12, 'a')", []).is_err());
    assert_eq!(v.rule_hits()[0].fired, 1);
}

#[test]
fn roles_select_a_database_and_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    let dst = dir.path().join("dst.db");
    setup(&src, 1);
    setup(&dst, 1);
    let mut r = rule(
        &[OpKind::Sync],
        Some(FileKind::MainJournal),
        Occurrence::Every,
        err(ErrorCode::IoerrFsync, true),
    );
    r.select.role = Some("destination".into());
    let v = vfs("roles", plan(vec![r]));
    v.set_role(dst.to_str().unwrap(), "destination");
    v.set_role(&format!("{}/s*.db", dir.path().display()), "source");
    let s = open(&src, &v).unwrap();
    let d = open(&dst, &v).unwrap();
    d.pragma_update(None, "synchronous", "FULL").unwrap();
    s.pragma_update(None, "synchronous", "FULL").unwrap();
    s.execute("INSERT INTO t VALUES(7, 's')", [])
        .expect("source unaffected");
    assert!(
        d.execute("INSERT INTO t VALUES(7, 'd')", []).is_err(),
        "destination journal sync fails"
    );
    assert!(v.rule_hits()[0].fired >= 1);
    v.set_trace(true);
    s.execute("INSERT INTO t VALUES(8, 's')", []).unwrap();
    assert!(v
        .trace()
        .iter()
        .any(|e| e.role.as_deref() == Some("source") && e.file == FileKind::MainJournal));
}

#[test]
fn a_rule_that_never_fired_shows_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.db");
    setup(&db, 1);
    let v = vfs(
        "never",
        plan(vec![rule(
            &[OpKind::Write],
            None,
            Occurrence::Nth(1_000_000),
            Action::Kill {
                when: KillWhen::Before,
            },
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.execute("INSERT INTO t VALUES(3, 'n')", []).unwrap();
    let h = &v.rule_hits()[0];
    assert!(h.matched > 0);
    assert_eq!(h.fired, 0);
}

#[test]
fn plan_from_env_json_and_toml() {
    let p = plan(vec![rule(
        &[OpKind::Write],
        Some(FileKind::Wal),
        Occurrence::Range { from: 2, to: 4 },
        Action::PowerCut {
            mode: PowerCutMode::InProcess,
            unsynced: Unsynced::Revert,
            metadata: MetadataOrder::Ordered,
        },
    )]);
    std::env::set_var("VFS_FAULTS_TEST_JSON", p.to_env_value());
    assert_eq!(
        FaultPlan::from_env("VFS_FAULTS_TEST_JSON").unwrap(),
        Some(p)
    );
    std::env::set_var(
        "VFS_FAULTS_TEST_TOML",
        "seed = 3\n[[rules]]\nselect = { ops = [\"sync\"], role = \"destination\", when = { nth = 2 } }\naction = { kind = \"error\", code = \"ioerr-fsync\", persistent = true }\n",
    );
    let t = FaultPlan::from_env("VFS_FAULTS_TEST_TOML")
        .unwrap()
        .unwrap();
    assert_eq!(t.seed, 3);
    assert_eq!(t.rules[0].select.when, Occurrence::Nth(2));
    assert_eq!(
        t.rules[0].action,
        Action::Error {
            code: ErrorCode::IoerrFsync,
            persistent: true
        }
    );
    assert_eq!(
        FaultPlan::from_env("VFS_FAULTS_TEST_UNSET_XYZ").unwrap(),
        None
    );
    std::env::set_var("VFS_FAULTS_TEST_BAD", "{\"rules\": 5}");
    assert!(FaultPlan::from_env("VFS_FAULTS_TEST_BAD").is_err());
}

#[test]
fn super_journal_is_classified_and_inherits_role() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    setup(&a, 1);
    setup(&b, 1);
    let mut r = rule(
        &[OpKind::Write],
        Some(FileKind::SuperJournal),
        Occurrence::Every,
        Action::Marker {
            name: "super".into(),
        },
    );
    r.select.role = Some("main".into());
    let v = vfs("super", plan(vec![r]));
    v.set_role(a.to_str().unwrap(), "main");
    let c = open(&a, &v).unwrap();
    c.execute("ATTACH DATABASE ?1 AS other", [b.to_str().unwrap()])
        .unwrap();
    c.execute_batch(
        "BEGIN; INSERT INTO main.t VALUES(50, 'a'); INSERT INTO other.t VALUES(50, 'b'); COMMIT;",
    )
    .unwrap();
    let k = v.counters();
    assert!(k.get(OpKind::Open, FileKind::SuperJournal) > 0);
    assert!(k.get(OpKind::Delete, FileKind::SuperJournal) > 0);
    assert!(
        v.rule_hits()[0].fired > 0,
        "the super-journal has the role of its database"
    );
}

#[test]
fn answers_vfsname_with_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.db");
    let v = vfs("vfsname", FaultPlan::default());
    let c = open(&db, &v).unwrap();
    c.execute_batch("CREATE TABLE x(a)").unwrap();
    assert_eq!(vfs_name(&c, "main").as_deref(), Some(v.name()));
    assert_eq!(vfs_name(&plain(&db), "main").as_deref(), Some("unix"));
}

/// `on_fire` reports each rule that acted, once per action, with the operation and the
/// occurrence, before the action takes effect; a rule whose occurrence never comes is silent.
#[test]
fn on_fire_reports_what_acted_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fire.db");
    setup(&db, 10);
    let mut failing = rule(
        &[OpKind::Sync],
        Some(FileKind::MainJournal),
        Occurrence::Nth(2),
        err(ErrorCode::IoerrFsync, false),
    );
    failing.name = Some("second journal sync".into());
    let never = rule(
        &[OpKind::Write],
        Some(FileKind::MainDb),
        Occurrence::Nth(1_000_000),
        err(ErrorCode::IoerrWrite, false),
    );
    let v = vfs("fire", plan(vec![failing, never]));
    let fired = Arc::new(Mutex::new(Vec::<Fired>::new()));
    let f2 = Arc::clone(&fired);
    v.on_fire(move |f| f2.lock().unwrap().push(f.clone()));
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    assert!(c.execute("UPDATE t SET v = 'x'", []).is_err());
    let fired = fired.lock().unwrap().clone();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].rule, 0);
    assert_eq!(fired[0].name.as_deref(), Some("second journal sync"));
    assert_eq!(
        (fired[0].op, fired[0].file, fired[0].occurrence),
        (OpKind::Sync, FileKind::MainJournal, 2)
    );
    assert_eq!(v.rule_hits()[0].fired, 1);
    assert_eq!(v.rule_hits()[1].fired, 0);
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
