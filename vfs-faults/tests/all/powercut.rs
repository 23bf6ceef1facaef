//! In-process power cuts: the files are left in the crash state, the VFS fails later ops.

use crate::common::*;
use vfs_faults::*;

fn cut(unsynced: Unsynced) -> Action {
    Action::PowerCut {
        mode: PowerCutMode::InProcess,
        unsynced,
        metadata: MetadataOrder::Ordered,
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

/// Commits one UPDATE at `synchronous` with a power cut (unsynced changes reverted) at the
/// first unlock after the journal's deletion. Returns the database and the VFS.
fn cut_after_journal_delete(
    dir: &std::path::Path,
    name: &str,
    synchronous: &str,
) -> (std::path::PathBuf, FaultVfs) {
    let db = dir.join(format!("{name}.db"));
    setup(&db, 30);
    let mut after = rule(
        &[OpKind::Unlock],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        cut(Unsynced::Revert),
    );
    after.select.after_marker = Some("journal-deleted".into());
    let v = vfs(
        name,
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
    c.pragma_update(None, "synchronous", synchronous).unwrap();
    let _ = c.execute("UPDATE t SET v = 'new'", []);
    drop(c);
    assert_eq!(v.rule_hits()[1].fired, 1, "the cut happened");
    (db, v)
}

#[test]
fn deleted_journal_comes_back_without_dir_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (db, v) = cut_after_journal_delete(dir.path(), "pc2", "FULL");
    let report = v.last_power_cut().unwrap();
    assert!(report.entries_reverted >= 1, "{report:?}");
    assert!(
        db.with_file_name("pc2.db-journal").exists(),
        "the journal came back"
    );
    assert_eq!(new_rows(&db), 0, "and the next open rolls back");
}

#[test]
fn deleted_journal_stays_deleted_with_synchronous_extra() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _v) = cut_after_journal_delete(dir.path(), "pc3", "EXTRA");
    assert!(!db.with_file_name("pc3.db-journal").exists());
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

/// The crash state of [`shrinking_backup_cut`].
struct ShrinkCut {
    /// The deleted journal came back.
    journal: bool,
    /// The destination's bytes after the cut (before any recovery).
    db: Vec<u8>,
    /// Destination size before the backup and after its truncation.
    old_len: u64,
    new_len: u64,
    /// integrity_check after recovery.
    integrity: String,
}

/// A backup that shrinks a rollback-journal destination (synchronous=FULL: the journal is
/// deleted without a directory sync, then the database is truncated), cut right after the
/// truncation, with seeded random unsynced state.
fn shrinking_backup_cut(tag: &str, seed: u64, metadata: MetadataOrder) -> ShrinkCut {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    let db = dir.path().join("dst.db");
    setup(&src, 20);
    setup(&db, 600);
    let old_len = std::fs::metadata(&db).unwrap().len();
    let new_len = std::fs::metadata(&src).unwrap().len();
    assert!(new_len < old_len);
    let mut after = rule(
        &[OpKind::Unlock],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        Action::PowerCut {
            mode: PowerCutMode::InProcess,
            unsynced: Unsynced::Random,
            metadata,
        },
    );
    after.select.after_marker = Some("journal-deleted".into());
    let mut p = plan(vec![
        rule(
            &[OpKind::Delete],
            Some(FileKind::MainJournal),
            Occurrence::Nth(1),
            Action::Marker {
                name: "journal-deleted".into(),
            },
        ),
        after,
    ]);
    p.seed = seed;
    let v = vfs(tag, p);
    {
        let s = plain(&src);
        let mut d = open(&db, &v).unwrap();
        d.pragma_update(None, "synchronous", "FULL").unwrap();
        let b = rusqlite::backup::Backup::new(&s, &mut d).unwrap();
        let _ = b.step(-1);
    }
    assert_eq!(v.rule_hits()[1].fired, 1, "the cut fired");
    let journal = db.with_file_name("dst.db-journal").exists();
    let db_bytes = std::fs::read(&db).unwrap();
    let integrity = integrity(&plain(&db));
    ShrinkCut {
        journal,
        db: db_bytes,
        old_len,
        new_len,
        integrity,
    }
}

#[test]
fn ordered_metadata_reverted_deletion_reverts_later_truncation() {
    // The journal deletion precedes the truncation: if the deletion is undone (the journal
    // comes back), so is the truncation, and the rollback finds the database intact.
    let mut back = 0;
    for seed in 0..24 {
        let r = shrinking_backup_cut("ord", seed, MetadataOrder::Ordered);
        if r.journal {
            back += 1;
            assert_eq!(
                r.db.len() as u64,
                r.old_len,
                "seed {seed}: the truncation persisted after a reverted unlink"
            );
        }
        assert_eq!(r.integrity, "ok", "seed {seed}");
    }
    assert!(back > 0, "some seed reverts the deletion");
}

#[test]
fn independent_metadata_can_keep_truncation_and_revert_deletion() {
    // The POSIX worst case: some seed brings the journal back while the truncation persists.
    let found = (0..64).any(|seed| {
        let r = shrinking_backup_cut("ind", seed, MetadataOrder::Independent);
        r.journal && r.db.len() as u64 == r.new_len
    });
    assert!(found, "no seed reverted the unlink and kept the truncation");
}

#[test]
fn same_seed_same_crash_state() {
    for metadata in [MetadataOrder::Ordered, MetadataOrder::Independent] {
        for seed in [3, 11] {
            let a = shrinking_backup_cut("det", seed, metadata);
            let b = shrinking_backup_cut("det", seed, metadata);
            // (The journal's bytes differ: its header holds a random nonce.)
            assert!(
                a.journal == b.journal && a.db == b.db && a.integrity == b.integrity,
                "seed {seed}, {metadata:?}: journal {} / {}, sizes {} / {}",
                a.journal,
                b.journal,
                a.db.len(),
                b.db.len()
            );
        }
    }
}

/// An overwrite of synced data that was never synced itself is undone by the cut: the old
/// sectors come back (journal off and synchronous off: nothing else could restore them).
#[test]
fn unsynced_overwrites_of_synced_data_are_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ow.db");
    setup(&db, 30);
    let before = std::fs::read(&db).unwrap();
    let v = vfs("pc-overwrite", FaultPlan::default());
    v.set_power_tracking(true);
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        .unwrap();
    c.execute("UPDATE t SET v = 'new'", []).unwrap();
    assert_ne!(
        std::fs::read(&db).unwrap(),
        before,
        "the update reached the file"
    );
    v.power_cut_now(PowerCutMode::InProcess, Unsynced::Revert)
        .expect("a cut with unsynced writes");
    drop(c);
    assert_eq!(new_rows(&db), 0);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "every overwritten sector reverted"
    );
}

/// A sync that was lost (reported OK, never done) makes nothing durable: a later cut still
/// reverts the writes it claimed to sync.
#[test]
fn a_lost_sync_makes_nothing_durable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lost.db");
    setup(&db, 30);
    let before = std::fs::read(&db).unwrap();
    let v = vfs(
        "pc-lost-sync",
        plan(vec![rule(
            &[OpKind::Sync],
            Some(FileKind::MainDb),
            Occurrence::Every,
            Action::LostWrite,
        )]),
    );
    v.set_power_tracking(true);
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=FULL;")
        .unwrap();
    c.execute("UPDATE t SET v = 'new'", []).unwrap();
    assert!(v.rule_hits()[0].fired >= 1, "the commit's sync was lost");
    v.power_cut_now(PowerCutMode::InProcess, Unsynced::Revert)
        .expect("a cut with unsynced writes");
    drop(c);
    assert_eq!(new_rows(&db), 0);
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// What the cut report counts: every unsynced sector is kept, reverted or garbled, as the
/// policy says; a file created since the directory's last sync is an entry the cut reverts.
#[test]
fn the_cut_report_counts_sectors_and_entries_by_policy() {
    let run = |tag: &str, policy: Unsynced| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.db");
        setup(&db, 30);
        let v = vfs(tag, FaultPlan::default());
        v.set_power_tracking(true);
        let c = open(&db, &v).unwrap();
        c.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
            .unwrap();
        c.execute("UPDATE t SET v = 'new'", []).unwrap();
        // A new file, never synced, in a directory never synced since.
        let side = dir.path().join("side.db");
        let s = open(&side, &v).unwrap();
        s.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; CREATE TABLE x(y);")
            .unwrap();
        let r = v.power_cut_now(PowerCutMode::InProcess, policy).unwrap();
        drop((c, s));
        (r, side.exists())
    };
    let (keep, side_kept) = run("pc-report-keep", Unsynced::Keep);
    assert!(keep.kept >= 2, "{keep:?}");
    assert_eq!(
        (keep.reverted, keep.garbled, keep.entries_reverted),
        (0, 0, 0)
    );
    assert!(side_kept, "kept: the new file stays");
    let (rev, side_kept) = run("pc-report-revert", Unsynced::Revert);
    assert!(rev.reverted >= 2, "{rev:?}");
    assert_eq!((rev.kept, rev.garbled), (0, 0));
    assert!(
        rev.entries_reverted >= 1 && !side_kept,
        "the new file is gone: {rev:?}"
    );
    let (rnd, _) = run("pc-report-random", Unsynced::Random);
    // Each unsynced sector counted once, those of a file whose creation was undone not at
    // all: between what a revert counts (the new file gone) and what keeping counts.
    let n = rnd.kept + rnd.reverted + rnd.garbled;
    assert!(
        rev.reverted <= n && n <= keep.kept,
        "{rnd:?} {rev:?} {keep:?}"
    );
}

/// The `-shm` is memory: after a cut its wal-index header (136 bytes) is zero, so the next
/// connection rebuilds it from the WAL.
#[test]
fn a_cut_zeroes_the_wal_index_header() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    setup(&db, 10);
    {
        let c = plain(&db);
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
    }
    let v = vfs("pc-shm", FaultPlan::default());
    v.set_power_tracking(true);
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "OFF").unwrap();
    c.execute("UPDATE t SET v = 'new'", []).unwrap();
    let shm = db.with_file_name("s.db-shm");
    let header = |p: &std::path::Path| std::fs::read(p).unwrap()[..136].to_vec();
    assert!(header(&shm).iter().any(|&b| b != 0), "a live wal-index");
    v.power_cut_now(PowerCutMode::InProcess, Unsynced::Keep)
        .unwrap();
    assert!(header(&shm).iter().all(|&b| b == 0));
    drop(c);
    assert_eq!(integrity(&plain(&db)), "ok");
}
