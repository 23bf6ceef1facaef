//! Power cuts at the device's granularity: the sectors and powersafe-overwrite property the
//! base reports, writes whose old bytes cannot be read, a database grown by a size hint.

use crate::common::*;
use vfs_faults::*;

/// A rollback-journal database of 512-byte pages with table t(id, v) holding `rows` rows.
fn setup_small_pages(path: &std::path::Path, rows: i64) {
    setup_paged(path, rows, 512);
}

/// How many `sector`-byte sectors differ between `a` and `b` (the shorter one zero-padded).
fn sectors_differing(a: &[u8], b: &[u8], sector: usize) -> u64 {
    let n = a.len().max(b.len());
    let at = |buf: &[u8], i: usize| buf.get(i).copied().unwrap_or(0);
    (0..n)
        .step_by(sector)
        .filter(|&s| (s..(s + sector).min(n)).any(|i| at(a, i) != at(b, i)))
        .count() as u64
}

/// The cut keeps, reverts or garbles whole sectors of the size the device reports (4096
/// bytes with the unix VFS), even when SQLite writes 512-byte pages.
#[test]
fn the_cut_works_in_the_sectors_the_device_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sec.db");
    setup_small_pages(&db, 200);
    let before = std::fs::read(&db).unwrap();
    let v = vfs("pc-sector", FaultPlan::default());
    v.set_power_tracking(true);
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        .unwrap();
    c.execute("UPDATE t SET v = 'new' WHERE id % 8 = 0", [])
        .unwrap();
    let after = std::fs::read(&db).unwrap();
    let report = v
        .power_cut_now(PowerCutMode::InProcess, Unsynced::Keep)
        .unwrap();
    drop(c);
    let (big, small) = (
        sectors_differing(&before, &after, 4096),
        sectors_differing(&before, &after, 512),
    );
    assert!(
        small > big,
        "some 4096-byte sector holds several written pages"
    );
    assert_eq!(report.kept, big, "{report:?}");
}

/// The byte ranges the traced writes to files of `kind` covered.
fn written(v: &FaultVfs, kind: FileKind) -> Vec<(usize, usize)> {
    v.trace()
        .iter()
        .filter(|e| e.op == OpKind::Write && e.file == kind)
        .map(|e| {
            let off = e.offset.unwrap() as usize;
            (off, off + e.len.unwrap() as usize)
        })
        .collect()
}

/// Whether some `sector` of the `len`-byte file is partly covered by `written`.
fn partly_written_sector(len: usize, written: &[(usize, usize)], sector: usize) -> bool {
    (0..len).step_by(sector).any(|s| {
        let covered = (s..(s + sector).min(len))
            .filter(|&i| written.iter().any(|&(f, t)| f <= i && i < t))
            .count();
        covered > 0 && covered < (s + sector).min(len) - s
    })
}

/// A database file around a cut.
struct CutFile {
    before: Vec<u8>,
    after: Vec<u8>,
    /// The byte ranges written to it in between.
    written: Vec<(usize, usize)>,
    report: CutReport,
}

impl CutFile {
    /// Whether some byte no write covered changed.
    fn changed_unwritten(&self) -> bool {
        assert_eq!(self.before.len(), self.after.len());
        (0..self.before.len()).any(|i| {
            self.before[i] != self.after[i] && !self.written.iter().any(|&(f, t)| f <= i && i < t)
        })
    }
}

/// A database of 512-byte pages opened with the URI parameters `params`, cut with seed
/// `seed` after an unsynced delete of many rows. Its writes leave some 4096-byte sector
/// partly unwritten (even with `psow=0`, where SQLite writes whole sectors: a page the
/// delete freed is not written).
fn cut_delete(dir: &std::path::Path, params: &str, seed: u64) -> CutFile {
    let db = dir.join(format!("del-{seed}.db"));
    setup_small_pages(&db, 200);
    let before = std::fs::read(&db).unwrap();
    let v = vfs(
        "pc-del",
        FaultPlan {
            seed,
            rules: vec![],
        },
    );
    v.set_power_tracking(true);
    v.set_trace(true);
    let c = rusqlite::Connection::open_with_flags_and_vfs(
        format!("file:{}{params}", db.display()),
        flags() | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        v.name(),
    )
    .unwrap();
    c.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA secure_delete=OFF;")
        .unwrap();
    c.execute("DELETE FROM t WHERE id BETWEEN 40 AND 120", [])
        .unwrap();
    let written = written(&v, FileKind::MainDb);
    assert!(
        partly_written_sector(before.len(), &written, 4096),
        "some sector is partly written: {written:?}"
    );
    let report = v
        .power_cut_now(PowerCutMode::InProcess, Unsynced::Random)
        .unwrap();
    drop(c);
    CutFile {
        before,
        after: std::fs::read(&db).unwrap(),
        written,
        report,
    }
}

/// The unix VFS promises powersafe overwrite: a garbled sector has garbage only where the
/// writes went, the rest of its 4096 bytes are as they were.
#[test]
fn with_the_devices_powersafe_overwrite_garbage_stays_inside_the_written_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut garbled = 0;
    for seed in 0..16 {
        let cut = cut_delete(dir.path(), "", seed);
        garbled += cut.report.garbled;
        assert!(
            !cut.changed_unwritten(),
            "seed {seed}: a byte outside the written pages changed"
        );
    }
    assert!(garbled > 0, "no seed garbled a sector");
}

/// Opened with `psow=0` the unix VFS promises no powersafe overwrite: a garbled sector can
/// turn to garbage beyond the bytes written, in pages that share the sector.
#[test]
fn without_the_devices_powersafe_overwrite_garbage_can_reach_unwritten_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let hit = (0..16).any(|seed| cut_delete(dir.path(), "?psow=0", seed).changed_unwritten());
    assert!(hit, "no seed garbled a byte outside the written pages");
}

/// The bytes a write overwrites are read through the base VFS before it. If that read fails
/// the write cannot be undone: a revert leaves it as written rather than restoring bytes
/// that were never read.
#[test]
fn a_write_whose_old_bytes_cannot_be_read_is_not_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unread.db");
    setup(&db, 30);
    let inner = vfs("unread-inner", FaultPlan::default());
    let mut fail = rule(
        &[OpKind::Read],
        Some(FileKind::MainDb),
        Occurrence::Every,
        err(ErrorCode::IoerrRead, false),
    );
    fail.select.after_marker = Some("writing".into());
    inner.set_plan(plan(vec![fail]));
    let outer = FaultVfs::register_with(
        &format!("unread-outer-{}", std::process::id()),
        Options {
            base: Some(inner.name().to_string()),
            track_power: true,
            ..Options::default()
        },
    )
    .unwrap();
    let c = open(&db, &outer).unwrap();
    // Exclusive locking and a warm cache: the update itself reads nothing.
    c.execute_batch(
        "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;",
    )
    .unwrap();
    assert_eq!(count(&c).unwrap(), 30);
    inner.emit_marker("writing");
    c.execute("UPDATE t SET v = 'new'", []).unwrap();
    assert!(inner.rule_hits()[0].fired > 0, "the undo reads failed");
    assert!(!outer.has_unsynced(), "nothing could be recorded");
    let after = std::fs::read(&db).unwrap();
    outer
        .power_cut_now(PowerCutMode::InProcess, Unsynced::Revert)
        .unwrap();
    drop(c);
    assert!(std::fs::read(&db).unwrap() == after, "the writes stay");
    assert_eq!(new_rows(&db), 30);
}

/// With memory-mapped I/O SQLite grows the database by a size hint (the base VFS extends the
/// file), then writes the new pages into it: no write changes the size. A cut that keeps
/// everything keeps the grown file and every row in it.
#[test]
fn keep_keeps_a_database_grown_by_a_size_hint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mmap.db");
    setup(&db, 10);
    let v = vfs("pc-mmap", FaultPlan::default());
    v.set_power_tracking(true);
    v.set_trace(true);
    let c = open(&db, &v).unwrap();
    c.execute_batch("PRAGMA mmap_size=16777216; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        .unwrap();
    // An overwrite first: the undo log starts at the file's old size.
    c.execute("UPDATE t SET v = 'new' WHERE id = 0", [])
        .unwrap();
    let old_len = std::fs::metadata(&db).unwrap().len();
    for i in 10..200 {
        c.execute("INSERT INTO t VALUES(?1, ?2)", (i, "y".repeat(200)))
            .unwrap();
    }
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > old_len, "the database grew");
    assert!(
        v.trace().iter().any(|e| e.op == OpKind::FileControl
            && e.len == Some(rusqlite::ffi::SQLITE_FCNTL_SIZE_HINT.into())),
        "through size hints"
    );
    v.power_cut_now(PowerCutMode::InProcess, Unsynced::Keep)
        .unwrap();
    drop(c);
    assert_eq!(std::fs::metadata(&db).unwrap().len(), len);
    let c = plain(&db);
    assert_eq!(integrity(&c), "ok");
    assert_eq!(count(&c).unwrap(), 200);
}
