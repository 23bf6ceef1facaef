//! The storage VFS: a database kept in a Rust `Storage` (here a map of in-memory files) is a
//! real SQLite database, byte for byte, and errors from the storage reach SQLite with the
//! operation's code.

use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use vfs_faults::storage::SharedBytes;
use vfs_faults::{
    register_storage, retire_storage, MemFile, OpenRequest, Storage, StorageError, StoredFile,
};

#[derive(Default)]
struct MapStorage {
    files: Mutex<HashMap<String, SharedBytes>>,
    fail_syncs: Arc<AtomicBool>,
}

struct FailingSync {
    inner: MemFile,
    fail: Arc<AtomicBool>,
}

impl StoredFile for FailingSync {
    fn read(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, StorageError> {
        self.inner.read(buf, offset)
    }
    fn write(&mut self, buf: &[u8], offset: u64) -> Result<(), StorageError> {
        self.inner.write(buf, offset)
    }
    fn truncate(&mut self, size: u64) -> Result<(), StorageError> {
        self.inner.truncate(size)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::Io("link down".into()));
        }
        self.inner.sync()
    }
    fn size(&mut self) -> Result<u64, StorageError> {
        self.inner.size()
    }
}

impl Storage for MapStorage {
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn StoredFile>, StorageError> {
        let Some(path) = &req.path else {
            return Ok(Box::new(MemFile::anonymous()));
        };
        let mut files = self.files.lock().unwrap();
        let bytes = match files.get(path) {
            Some(b) => b.clone(),
            None if req.create => files.entry(path.clone()).or_default().clone(),
            None => return Err(StorageError::CantOpen(path.clone())),
        };
        Ok(Box::new(FailingSync {
            inner: MemFile::new(bytes),
            fail: self.fail_syncs.clone(),
        }))
    }
    fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.files
            .lock()
            .unwrap()
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| StorageError::Io(format!("{path}: no such file")))
    }
    fn exists(&self, path: &str) -> bool {
        self.files.lock().unwrap().contains_key(path)
    }
}

fn bytes_of(storage: &MapStorage, path: &str) -> Vec<u8> {
    storage.files.lock().unwrap()[path].lock().unwrap().clone()
}

#[test]
fn a_database_in_storage_is_a_real_sqlite_file_and_its_journal_comes_and_goes() {
    let storage = Arc::new(MapStorage::default());
    register_storage("storage-test-1", storage.clone()).unwrap();
    assert!(register_storage("storage-test-1", storage.clone()).is_err());
    let conn = Connection::open_with_flags_and_vfs(
        "/virtual/a.db",
        OpenFlags::default(),
        "storage-test-1",
    )
    .unwrap();
    conn.execute_batch(
        "CREATE TABLE t(x);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
         INSERT INTO t SELECT randomblob(3000) FROM n;",
    )
    .unwrap();
    // The rollback journal was created and deleted through the storage.
    assert!(!storage.exists("/virtual/a.db-journal"));
    drop(conn);

    // The stored bytes, written to a real file, are the same database.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::write(&copy, bytes_of(&storage, "/virtual/a.db")).unwrap();
    let c = Connection::open(&copy).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 50);
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn a_retired_storage_is_dropped_and_its_name_can_be_registered_again() {
    let storage = Arc::new(MapStorage::default());
    register_storage("storage-test-4", storage.clone()).unwrap();
    let conn = Connection::open_with_flags_and_vfs(
        "/virtual/d.db",
        OpenFlags::default(),
        "storage-test-4",
    )
    .unwrap();
    conn.execute_batch("CREATE TABLE t(x)").unwrap();
    drop(conn);
    assert_eq!(Arc::strong_count(&storage), 2);
    retire_storage("storage-test-4").unwrap();
    assert_eq!(
        Arc::strong_count(&storage),
        1,
        "the VFS still holds the storage"
    );
    assert!(Connection::open_with_flags_and_vfs(
        "/virtual/d.db",
        OpenFlags::default(),
        "storage-test-4"
    )
    .is_err());
    register_storage("storage-test-4", Arc::new(MapStorage::default())).unwrap();
    assert!(retire_storage("no-such-vfs").is_err());
    assert!(
        retire_storage("unix").is_err(),
        "only storage VFSes are retired"
    );
}

#[test]
fn a_failing_sync_is_an_fsync_error_and_the_commit_rolls_back() {
    let storage = Arc::new(MapStorage::default());
    register_storage("storage-test-2", storage.clone()).unwrap();
    let conn = Connection::open_with_flags_and_vfs(
        "/virtual/b.db",
        OpenFlags::default(),
        "storage-test-2",
    )
    .unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    storage.fail_syncs.store(true, Ordering::SeqCst);
    let err = conn.execute("INSERT INTO t VALUES (2)", []).unwrap_err();
    let code = err.sqlite_error().map(|e| e.extended_code);
    assert_eq!(code, Some(rusqlite::ffi::SQLITE_IOERR_FSYNC), "{err}");
    storage.fail_syncs.store(false, Ordering::SeqCst);
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_wal_flagged_database_opens_in_exclusive_locking_mode() {
    // A backup copies the source's journal-mode bytes: a replica of a WAL source says WAL.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    let s = Connection::open(&src).unwrap();
    s.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (7);")
        .unwrap();
    drop(s);
    let storage = Arc::new(MapStorage::default());
    storage.files.lock().unwrap().insert(
        "/virtual/c.db".into(),
        Arc::new(Mutex::new(std::fs::read(&src).unwrap())),
    );
    register_storage("storage-test-3", storage.clone()).unwrap();
    let conn = Connection::open_with_flags_and_vfs(
        "/virtual/c.db",
        OpenFlags::default(),
        "storage-test-3",
    )
    .unwrap();
    conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE").unwrap();
    conn.execute("INSERT INTO t VALUES (8)", []).unwrap();
    let n: i64 = conn
        .query_row("SELECT sum(x) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 15);
}
