//! In-process power cuts: the files are left in the crash state, the VFS fails later ops.
mod common;

use common::*;
use vfs_faults::*;

fn new_rows(db: &std::path::Path) -> i64 {
    let c = plain(db);
    assert_eq!(integrity(&c), "ok");
    c.query_row("SELECT count(*) FROM t WHERE v = 'new'", [], |r| r.get(0))
        .unwrap()
}

fn cut(unsynced: Unsynced) -> Action {
    Action::PowerCut {
        mode: PowerCutMode::InProcess,
        unsynced,
    }
}

#[test]
fn cut_between_journal_sync_and_delete_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    setup(&db, 30);
    let v = vfs(
        "pc1",
        plan(vec![rule(
            &[OpKind::Delete],
            Some(FileKind::MainJournal),
            Occurrence::Nth(1),
            cut(Unsynced::Revert),
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    assert!(c.execute("UPDATE t SET v = 'new'", []).is_err());
    // Every later op on these files fails and writes nothing.
    assert!(c.execute("UPDATE t SET v = 'later'", []).is_err());
    drop(c);
    assert_eq!(v.rule_hits()[0].fired, 1);
    assert!(db.with_file_name("a.db-journal").exists());
    assert_eq!(new_rows(&db), 0, "the hot journal rolls the commit back");
}

#[test]
fn deleted_journal_comes_back_without_dir_sync() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    setup(&db, 30);
    let mut after = rule(
        &[OpKind::Unlock],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        cut(Unsynced::Revert),
    );
    after.select.after_marker = Some("journal-deleted".into());
    let v = vfs(
        "pc2",
        plan(vec![
            rule(
                &[OpKind::Delete],
                Some(FileKind::MainJournal),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "journal-deleted".into(),
                },
            ),
            after,
        ]),
    );
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    let _ = c.execute("UPDATE t SET v = 'new'", []);
    drop(c);
    assert_eq!(v.rule_hits()[1].fired, 1);
    let report = v.last_power_cut().unwrap();
    assert!(report.entries_reverted >= 1, "{report:?}");
    assert!(
        db.with_file_name("b.db-journal").exists(),
        "the journal came back"
    );
    assert_eq!(new_rows(&db), 0, "and the next open rolls back");
}

#[test]
fn deleted_journal_stays_deleted_with_synchronous_extra() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    setup(&db, 30);
    let mut after = rule(
        &[OpKind::Unlock],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        cut(Unsynced::Revert),
    );
    after.select.after_marker = Some("journal-deleted".into());
    let v = vfs(
        "pc3",
        plan(vec![
            rule(
                &[OpKind::Delete],
                Some(FileKind::MainJournal),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "journal-deleted".into(),
                },
            ),
            after,
        ]),
    );
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "EXTRA").unwrap();
    let _ = c.execute("UPDATE t SET v = 'new'", []);
    drop(c);
    assert_eq!(v.rule_hits()[1].fired, 1);
    assert!(!db.with_file_name("c.db-journal").exists());
    assert_eq!(
        new_rows(&db),
        30,
        "the directory sync made the commit durable"
    );
}

#[test]
fn unsynced_wal_frames_are_lost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    setup(&db, 10);
    {
        let c = plain(&db);
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
    }
    let v = vfs("pc4", FaultPlan::default());
    v.set_power_tracking(true);
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "OFF").unwrap();
    c.execute("UPDATE t SET v = 'new'", []).unwrap();
    assert_eq!(count(&c).unwrap(), 10);
    assert!(v.has_unsynced());
    let report = v
        .power_cut_now(PowerCutMode::InProcess, Unsynced::Revert)
        .unwrap();
    // Never synced: the WAL file itself was not durable (created since the last dir sync).
    assert!(report.reverted + report.entries_reverted > 0, "{report:?}");
    assert!(count(&c).is_err(), "the dead connection fails");
    drop(c);
    assert_eq!(new_rows(&db), 0, "unsynced WAL frames are gone");
}

#[test]
fn keep_policy_is_like_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    setup(&db, 10);
    let v = vfs("pc5", FaultPlan::default());
    v.set_power_tracking(true);
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "OFF").unwrap();
    c.execute("UPDATE t SET v = 'new'", []).unwrap();
    v.power_cut_now(PowerCutMode::InProcess, Unsynced::Keep)
        .unwrap();
    drop(c);
    assert_eq!(new_rows(&db), 10);
}
