//! Kills, power cuts and two processes: the child side re-runs this binary (`child_main`).

use crate::common::*;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use vfs_faults::*;

const CHILD: &str = "VFS_FAULTS_CHILD";
const DB: &str = "VFS_FAULTS_TEST_DB";

/// The child process: does nothing unless started by a test below.
#[test]
fn child_main() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    let db = PathBuf::from(std::env::var(DB).unwrap());
    let p = FaultPlan::from_env(PLAN_ENV).unwrap().unwrap_or_default();
    let v = FaultVfs::register("faults", p).unwrap();
    v.set_role(db.to_str().unwrap(), "destination");
    match mode.as_str() {
        "update" => {
            let c = open(&db, &v).unwrap();
            c.pragma_update(None, "synchronous", "FULL").unwrap();
            let _ = c.execute("UPDATE t SET v = 'new'", []);
        }
        "wal-writer" => {
            let c = open(&db, &v).unwrap();
            c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
            for i in 0..200 {
                c.execute("INSERT INTO t VALUES(?1, 'w')", [10_000 + i])
                    .unwrap();
            }
        }
        other => panic!("unknown child mode {other}"),
    }
    std::process::exit(0);
}

fn child(db: &Path, mode: &str, p: &FaultPlan) -> std::process::ExitStatus {
    run_child(
        "crash::child_main",
        &[
            (CHILD, mode.to_string()),
            (DB, db.display().to_string()),
            (PLAN_ENV, p.to_env_value()),
        ],
    )
}

fn new_rows(db: &Path) -> i64 {
    let c = plain(db);
    assert_eq!(integrity(&c), "ok");
    c.query_row("SELECT count(*) FROM t WHERE v = 'new'", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn kill_before_journal_delete_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    setup(&db, 20);
    let mut r = rule(
        &[OpKind::Delete],
        Some(FileKind::MainJournal),
        Occurrence::Nth(1),
        Action::Kill {
            when: KillWhen::Before,
        },
    );
    r.select.role = Some("destination".into());
    let st = child(&db, "update", &plan(vec![r]));
    assert_eq!(st.signal(), Some(9), "{st:?}");
    assert!(
        db.with_file_name("k.db-journal").exists(),
        "hot journal left behind"
    );
    assert_eq!(new_rows(&db), 0, "next open rolls back");
}

#[test]
fn kill_after_journal_delete_keeps_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    setup(&db, 20);
    let r = rule(
        &[OpKind::Delete],
        Some(FileKind::MainJournal),
        Occurrence::Nth(1),
        Action::Kill {
            when: KillWhen::After,
        },
    );
    let st = child(&db, "update", &plan(vec![r]));
    assert_eq!(st.signal(), Some(9), "{st:?}");
    assert!(!db.with_file_name("k.db-journal").exists());
    assert_eq!(new_rows(&db), 20, "committed before the kill");
}

#[test]
fn kill_after_nth_db_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    setup(&db, 200);
    let before = std::fs::read(&db).unwrap();
    let mut r = rule(
        &[OpKind::Write],
        Some(FileKind::MainDb),
        Occurrence::Nth(2),
        Action::Kill {
            when: KillWhen::After,
        },
    );
    r.select.role = Some("destination".into());
    let st = child(&db, "update", &plan(vec![r]));
    assert_eq!(st.signal(), Some(9));
    assert_ne!(
        std::fs::read(&db).unwrap(),
        before,
        "two pages were written before the kill"
    );
    assert_eq!(new_rows(&db), 0, "hot journal rolls back");
}

#[test]
fn power_cut_exit_mode_in_child() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    setup(&db, 50);
    let r = rule(
        &[OpKind::Sync],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        Action::PowerCut {
            mode: PowerCutMode::Exit,
            unsynced: Unsynced::Revert,
            metadata: MetadataOrder::Ordered,
        },
    );
    let st = child(&db, "update", &plan(vec![r]));
    assert_eq!(st.code(), Some(POWER_CUT_EXIT_CODE), "{st:?}");
    assert!(db.with_file_name("p.db-journal").exists());
    assert_eq!(new_rows(&db), 0);
}

#[test]
fn power_cut_random_mode_is_seeded() {
    // Keep-or-garble per sector: the same seed gives the same bytes.
    let mut images = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.db");
        setup(&db, 50);
        let mut p = plan(vec![rule(
            &[OpKind::Sync],
            Some(FileKind::MainDb),
            Occurrence::Nth(1),
            Action::PowerCut {
                mode: PowerCutMode::Exit,
                unsynced: Unsynced::Random,
                metadata: MetadataOrder::Ordered,
            },
        )]);
        p.seed = 42;
        let st = child(&db, "update", &p);
        assert_eq!(st.code(), Some(POWER_CUT_EXIT_CODE));
        images.push(std::fs::read(&db).unwrap());
    }
    assert_eq!(images[0], images[1]);
}

#[test]
fn wal_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    {
        let c = plain(&db);
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);")
            .unwrap();
    }
    let v = vfs("wal2", FaultPlan::default());
    let reader = open(&db, &v).unwrap();
    reader
        .busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "crash::child_main",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, "wal-writer")
    .env(DB, db.display().to_string())
    .env_remove(PLAN_ENV)
    .stdout(std::process::Stdio::null());
    let mut ch = cmd.spawn().unwrap();
    let mut last = 0;
    let mut seen_between = false;
    loop {
        let n = count(&reader).unwrap();
        assert!(n >= last, "counts never go back");
        if n > 0 && n < 200 {
            seen_between = true;
        }
        last = n;
        if let Some(st) = ch.try_wait().unwrap() {
            assert!(st.success(), "{st:?}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(count(&reader).unwrap(), 200);
    let _ = seen_between; // timing-dependent; the final count is the check
    assert!(v.counters().total(OpKind::ShmMap) > 0);
}
