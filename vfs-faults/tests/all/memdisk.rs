//! The in-memory disk: a WAL database on it works as on disk (shared memory, the WAL locks
//! between two connections), and the fault VFS stacked on it leaves, after a power cut at any
//! write, exactly the bytes it leaves on real files.

use crate::common::*;
use rusqlite::{Connection, ErrorCode as SqliteCode, OpenFlags};
use std::path::Path;
use std::sync::Arc;
use vfs_faults::*;

fn mem_open(path: &str, vfs: &str) -> Connection {
    Connection::open_with_flags_and_vfs(path, flags(), vfs).expect("open on the memdisk")
}

#[test]
fn a_wal_database_on_a_memdisk_shares_its_index_and_its_write_lock() {
    let disk = MemDisk::new();
    register_storage("md-wal", disk.clone()).unwrap();
    let a = mem_open("/md/w.db", "md-wal");
    let mode: String = a
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    a.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES(1);")
        .unwrap();
    let b = mem_open("/md/w.db", "md-wal");
    b.busy_timeout(std::time::Duration::ZERO).unwrap();
    assert_eq!(count_x(&b), 1, "the second connection reads the WAL");
    a.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES(2);")
        .unwrap();
    let busy = b.execute_batch("BEGIN IMMEDIATE").unwrap_err();
    assert_eq!(busy.sqlite_error_code(), Some(SqliteCode::DatabaseBusy));
    assert_eq!(count_x(&b), 1, "an open write transaction is not seen");
    a.execute_batch("COMMIT").unwrap();
    assert_eq!(count_x(&b), 2);
    b.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES(3); COMMIT;")
        .unwrap();
    assert_eq!(count_x(&a), 3);
    assert!(disk.len("/md/w.db-wal").is_some_and(|n| n > 0));
    drop(a);
    drop(b);
    // The last close checkpoints and deletes the WAL, as on disk.
    assert_eq!(disk.paths(), vec!["/md/w.db".to_string()]);
    let c = mem_open("/md/w.db", "md-wal");
    assert_eq!(count_x(&c), 3);
    assert_eq!(integrity(&c), "ok");
}

fn count_x(c: &Connection) -> i64 {
    c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

/// What a cut left: the database's bytes, the journal's length (its header holds a random
/// nonce, different in every run), and the database's bytes once SQLite recovered it.
#[derive(Debug, PartialEq)]
struct Left {
    db: u64,
    journal_len: Option<u64>,
    recovered: u64,
}

fn hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Updates every other row of a 30-row database in one transaction through `vfs`, with the
/// power cut at the `nth` write (seeded `seed`); returns what the cut left, and whether it fired.
fn cut_at(
    db: &str,
    vfs: &str,
    base: Option<&str>,
    disk: Arc<dyn Disk>,
    nth: u64,
    seed: u64,
) -> (Left, u64) {
    let v = FaultVfs::register_with(
        vfs,
        Options {
            base: base.map(str::to_string),
            disk: Some(Arc::clone(&disk)),
            ..Options::default()
        },
    )
    .unwrap();
    let c = Connection::open_with_flags_and_vfs(db, flags(), vfs).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<30)
         INSERT INTO t SELECT i, printf('%.*c', 300, 'x') FROM n;",
    )
    .unwrap();
    v.set_plan(FaultPlan {
        seed,
        rules: vec![rule(
            &[OpKind::Write],
            None,
            Occurrence::Nth(nth),
            Action::PowerCut {
                mode: PowerCutMode::InProcess,
                unsynced: Unsynced::Random,
                metadata: MetadataOrder::Ordered,
            },
        )],
    });
    let _ = c.execute_batch("UPDATE t SET v = printf('%.*c', 300, 'y') WHERE id % 2 = 0");
    drop(c);
    let fired = v.rule_hits()[0].fired;
    let left_db = disk.read(db).unwrap();
    let journal_len = disk.len(&format!("{db}-journal"));
    // The next open (through the base, nothing armed) recovers it.
    let plain = Connection::open_with_flags_and_vfs(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        base.unwrap_or("unix"),
    )
    .unwrap();
    let _ = integrity(&plain);
    drop(plain);
    let left = Left {
        db: hash(&left_db),
        journal_len,
        recovered: hash(&disk.read(db).unwrap()),
    };
    (left, fired)
}

#[test]
fn power_cuts_leave_the_same_bytes_on_a_memdisk_as_on_real_files() {
    let mem = MemDisk::new();
    register_storage("md-cut", mem.clone()).unwrap();
    let mut fired = 0;
    let mut differ = 0;
    for nth in 1..=18u64 {
        let seed = 7 + nth;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("c.db");
        let real = real.to_str().unwrap();
        let on_disk = cut_at(
            real,
            &format!("md-cut-disk-{nth}"),
            None,
            Arc::new(RealDisk),
            nth,
            seed,
        );
        let path = format!("/md/{nth}/c.db");
        let in_mem = cut_at(
            &path,
            &format!("md-cut-mem-{nth}"),
            Some("md-cut"),
            mem.clone(),
            nth,
            seed,
        );
        assert_eq!(on_disk.1, in_mem.1, "write {nth}: fired on one only");
        fired += in_mem.1;
        assert_eq!(on_disk.0, in_mem.0, "write {nth}: the files differ");
        differ += usize::from(on_disk.0.db != on_disk.0.recovered);
        assert!(Path::new(real).exists());
    }
    assert!(fired >= 6, "the cuts fired {fired} times");
    assert!(
        differ > 0,
        "no cut left a journal for the recovery to roll back"
    );
}

#[test]
fn a_memdisk_database_reads_back_through_a_plain_connection_after_a_cut() {
    let mem = MemDisk::new();
    register_storage("md-plain", mem.clone()).unwrap();
    let (left, fired) = cut_at(
        "/md/p/c.db",
        "md-plain-f",
        Some("md-plain"),
        mem.clone(),
        3,
        1,
    );
    assert_eq!(fired, 1);
    assert!(left.journal_len.is_some(), "the cut left a journal");
    // The next open rolls the journal back, as SQLite does on disk.
    let c = Connection::open_with_flags_and_vfs(
        "/md/p/c.db",
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        "md-plain",
    )
    .unwrap();
    assert_eq!(integrity(&c), "ok");
    let odd: i64 = c
        .query_row("SELECT count(*) FROM t WHERE v LIKE 'y%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(odd, 0, "the update was rolled back");
}
