//! The rule engine's semantics, one property per test: which rule decides an operation, what
//! `disarm`, `Nth` + `persistent`, probabilities, roles set after a file was opened, the trace
//! and the counters do. Each test fails on a one-line change of the engine (`ci/mutants.sh`).

use crate::common::*;
use std::sync::{Arc, Mutex};
use vfs_faults::*;

fn write_rule(when: Occurrence, action: Action) -> Rule {
    rule(&[OpKind::Write], Some(FileKind::MainDb), when, action)
}

fn update(c: &rusqlite::Connection, i: i64) -> rusqlite::Result<usize> {
    c.execute("UPDATE t SET v = ?1 WHERE id = 1", [format!("v{i}")])
}

#[test]
fn disarm_stops_the_plan_and_arm_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    setup(&db, 3);
    let v = vfs(
        "disarm",
        plan(vec![write_rule(
            Occurrence::Every,
            err(ErrorCode::IoerrWrite, false),
        )]),
    );
    let c = open(&db, &v).unwrap();
    assert!(update(&c, 1).is_err());
    v.disarm();
    update(&c, 2).expect("disarmed: no fault");
    // Still disarmed while something else (the trace) makes the VFS look at every op.
    v.set_trace(true);
    update(&c, 4).expect("disarmed and tracing: no fault");
    v.set_trace(false);
    let fired = v.rule_hits()[0].fired;
    v.arm();
    assert!(update(&c, 3).is_err());
    assert!(v.rule_hits()[0].fired > fired);
}

#[test]
fn a_persistent_error_at_the_nth_op_keeps_failing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    setup(&db, 3);
    let v = vfs(
        "nth-persistent",
        plan(vec![rule(
            &[OpKind::Sync],
            None,
            Occurrence::Nth(1),
            err(ErrorCode::IoerrFsync, true),
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    assert!(update(&c, 1).is_err(), "the first sync fails");
    // Occurrence 2, 3, ... do not match Nth(1), but a persistent error sticks.
    assert!(update(&c, 2).is_err(), "and every later one");
    assert!(v.rule_hits()[0].fired >= 2);
}

#[test]
fn the_first_rule_that_acts_decides_and_only_it_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    setup(&db, 3);
    let sync = |when, action| rule(&[OpKind::Sync], Some(FileKind::MainJournal), when, action);
    let v = vfs(
        "first",
        plan(vec![
            // A torn write does not apply to a sync: rule 0 matches syncs but never acts.
            rule(
                &[OpKind::Sync],
                Some(FileKind::MainJournal),
                Occurrence::Every,
                Action::TornWrite {
                    keep_sectors: 0,
                    keep_bytes: None,
                    then: None,
                },
            ),
            sync(Occurrence::Nth(1), err(ErrorCode::Full, false)),
            sync(Occurrence::Nth(1), err(ErrorCode::IoerrFsync, false)),
        ]),
    );
    let seen: Arc<Mutex<Vec<usize>>> = Arc::default();
    let s = seen.clone();
    v.on_fire(move |f| s.lock().unwrap().push(f.rule));
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    let e = update(&c, 1).unwrap_err();
    // Rule 1 (FULL) decides the sync, not rule 2 after it, nor the torn write before it.
    assert_eq!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DiskFull),
        "{e}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![1],
        "only the rule that acted is reported"
    );
    let hits = v.rule_hits();
    assert_eq!(
        (hits[0].fired, hits[1].fired, hits[2].fired),
        (0, 1, 0),
        "{hits:?}"
    );
    assert!(
        hits[0].matched >= 1 && hits[2].matched >= 1,
        "they matched, they did not act"
    );
}

#[test]
fn probability_zero_never_fires_and_one_always_does() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pr.db");
    setup(&db, 3);
    let never = vfs(
        "p0",
        plan(vec![write_rule(
            Occurrence::Probability(0.0),
            err(ErrorCode::IoerrWrite, false),
        )]),
    );
    let c = open(&db, &never).unwrap();
    for i in 0..20 {
        update(&c, i).unwrap();
    }
    assert_eq!(never.rule_hits()[0].fired, 0);
    assert!(never.rule_hits()[0].matched >= 20);
    drop(c);
    let always = vfs(
        "p1",
        plan(vec![write_rule(
            Occurrence::Probability(1.0),
            err(ErrorCode::IoerrWrite, false),
        )]),
    );
    let c = open(&db, &always).unwrap();
    for i in 0..5 {
        assert!(update(&c, 100 + i).is_err());
    }
    let h = &always.rule_hits()[0];
    assert_eq!(h.fired, h.matched);
}

#[test]
fn a_role_given_after_the_file_was_opened_applies_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    setup(&db, 3);
    let mut r = write_rule(Occurrence::Every, err(ErrorCode::IoerrWrite, false));
    r.select.role = Some("destination".into());
    let v = vfs("late-role", plan(vec![r]));
    let c = open(&db, &v).unwrap();
    update(&c, 1).expect("no role yet");
    v.set_role(db.to_str().unwrap(), "destination");
    assert!(update(&c, 2).is_err(), "the role reaches the open file");
}

#[test]
fn the_trace_numbers_operations_and_clear_trace_restarts_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    setup(&db, 3);
    let v = vfs("trace", FaultPlan::default());
    v.set_trace(true);
    let c = open(&db, &v).unwrap();
    update(&c, 1).unwrap();
    let t = v.trace();
    assert!(t.len() > 5);
    let idx: Vec<u64> = t.iter().map(|e| e.index).collect();
    assert_eq!(idx, (0..t.len() as u64).collect::<Vec<_>>());
    v.clear_trace();
    assert!(v.trace().is_empty());
    update(&c, 2).unwrap();
    assert_eq!(v.trace()[0].index, 0);
}

#[test]
fn counters_list_only_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    setup(&db, 3);
    let v = vfs("counters", FaultPlan::default());
    let c = open(&db, &v).unwrap();
    update(&c, 1).unwrap();
    let k = v.counters();
    assert!(k.total(OpKind::Write) > 0);
    for (op, files) in &k.by_op {
        for (file, n) in files {
            assert!(*n > 0, "{op} {file} listed with 0");
        }
    }
}

#[test]
fn after_an_in_process_cut_old_files_and_cut_paths_are_dead_new_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cut.db");
    let other = dir.path().join("other.db");
    setup(&db, 3);
    setup(&other, 3);
    let bystander = dir.path().join("bystander.db");
    setup(&bystander, 2);
    let v = vfs("dead", FaultPlan::default());
    v.set_power_tracking(true);
    assert!(!v.has_unsynced(), "nothing written yet");
    // Open at the cut, with nothing unsynced: dead all the same (the power is gone).
    let b = open(&bystander, &v).unwrap();
    b.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA synchronous=OFF; PRAGMA journal_mode=OFF;")
        .unwrap();
    update(&c, 1).unwrap();
    assert!(v.has_unsynced());
    v.power_cut_now(PowerCutMode::InProcess, Unsynced::Revert)
        .expect("cut");
    assert!(b
        .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        .is_err());
    // The file open at the cut is dead: even a read fails.
    assert!(c
        .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        .is_err());
    // A file opened after the cut, on a path the cut did not touch, reads.
    let o = open(&other, &v).unwrap();
    let n: i64 = o
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    // The cut path stays dead even when opened again.
    let again = open(&db, &v)
        .and_then(|c2| c2.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)));
    assert!(again.is_err(), "{again:?}");
}

/// The VFS passes the base file's sector size and device characteristics through: SQLite
/// lays out its journal from them, so the same transaction leaves the same journal through
/// the fault VFS as through the platform VFS.
#[test]
fn sector_size_and_device_characteristics_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let journal_len = |db: &std::path::Path, c: rusqlite::Connection| {
        c.execute_batch("PRAGMA journal_mode=PERSIST").unwrap();
        update(&c, 1).unwrap();
        drop(c);
        std::fs::metadata(db.with_file_name(format!(
            "{}-journal",
            db.file_name().unwrap().to_string_lossy()
        )))
        .unwrap()
        .len()
    };
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    setup(&a, 30);
    setup(&b, 30);
    let plain_len = journal_len(&a, plain(&a));
    let v = vfs("info", FaultPlan::default());
    let ours = journal_len(&b, open(&b, &v).unwrap());
    assert_eq!(ours, plain_len);
    let k = v.counters();
    assert!(k.total(OpKind::SectorSize) + k.total(OpKind::DeviceCharacteristics) > 0);
}

/// The base's device characteristics reach SQLite unchanged, not only the powersafe-overwrite
/// bit: the unix VFS also reports `SQLITE_IOCAP_SUBPAGE_READ`, which lets SQLite read the end
/// of an overflow chain straight from the file, less than a page at a time. Through the fault
/// VFS such reads must still happen (a VFS that lost the bit would read whole pages only).
#[test]
fn overflow_chains_are_read_less_than_a_page_at_a_time_as_through_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blob.db");
    let c = plain(&db);
    c.execute_batch("PRAGMA page_size=4096; CREATE TABLE b(x BLOB);")
        .unwrap();
    // 41,000 bytes: 489 on the leaf, 9 full overflow pages and a last one of 3,686 bytes.
    c.execute("INSERT INTO b VALUES(?1)", [vec![7u8; 41_000]])
        .unwrap();
    drop(c);
    let v = vfs("subpage", FaultPlan::default());
    v.set_trace(true);
    let c = open(&db, &v).unwrap();
    let blob: Vec<u8> = c.query_row("SELECT x FROM b", [], |r| r.get(0)).unwrap();
    assert_eq!(blob.len(), 41_000);
    drop(c);
    let partial = v
        .trace()
        .iter()
        .filter(|e| e.op == OpKind::Read && e.file == FileKind::MainDb)
        .filter(|e| e.len.is_some_and(|l| l < 4096) && e.offset.is_some_and(|o| o >= 4096))
        .count();
    assert!(partial > 0, "no sub-page read of an overflow page");
}

/// A terminal action only acts on the operations it can change: an error on calls that return
/// no code, a lost write on a read, a short read on a write, a power cut on an informational
/// call never fire (they match, they do not act), and the operation goes through.
#[test]
fn actions_that_cannot_act_on_an_operation_never_fire() {
    let cases: Vec<(&[OpKind], Action)> = vec![
        (
            &[OpKind::SectorSize, OpKind::DeviceCharacteristics],
            err(ErrorCode::IoerrRead, false),
        ),
        (&[OpKind::Read], Action::LostWrite),
        (&[OpKind::Write], Action::ShortRead { keep_bytes: 0 }),
        (
            &[OpKind::SectorSize, OpKind::DeviceCharacteristics],
            Action::PowerCut {
                mode: PowerCutMode::InProcess,
                unsynced: Unsynced::Revert,
                metadata: MetadataOrder::Ordered,
            },
        ),
    ];
    for (i, (ops, action)) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("n.db");
        setup(&db, 3);
        let v = vfs(
            &format!("cannot-{i}"),
            plan(vec![rule(ops, None, Occurrence::Every, action.clone())]),
        );
        let c = open(&db, &v).unwrap();
        update(&c, 1).unwrap_or_else(|e| panic!("{action:?}: {e}"));
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3, "{action:?}");
        let h = &v.rule_hits()[0];
        assert!(h.matched > 0, "{action:?}: {h:?}");
        assert_eq!(h.fired, 0, "{action:?}: {h:?}");
    }
}
