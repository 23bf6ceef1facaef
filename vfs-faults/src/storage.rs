//! A VFS whose files are Rust objects: [`register_storage`] adds a named SQLite VFS that keeps
//! no files of its own and hands every file operation to a [`Storage`] the caller implements.
//!
//! Why it exists: a database's bytes do not always live in a local file. A destination that is
//! shipped to another host, or kept in memory, needs a VFS whose `xWrite` goes somewhere else.
//! Writing one by hand means a few hundred lines of `unsafe` callbacks; this module keeps them in
//! [`crate::ffi`] and gives callers two safe traits. It knows nothing about what the bytes are
//! for.
//!
//! What the VFS does itself, and what it leaves out:
//! - Locking is per file handle and always succeeds: the VFS is meant for one connection per
//!   database (a backup's destination). Two connections on one path would not exclude each other.
//! - No shared memory (`iVersion` 1 file methods): a WAL database opens only in
//!   `PRAGMA locking_mode = EXCLUSIVE`, where SQLite keeps the WAL index in heap memory.
//! - No memory-mapped I/O, no file controls (`SQLITE_NOTFOUND`), sector size 4096, no device
//!   characteristics: SQLite assumes nothing about atomic writes.
//! - `xFullPathname` makes a relative path absolute against the current directory;
//!   randomness, sleep and time come from the default VFS.

use crate::plan::FileKind;
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// What went wrong in a [`Storage`] or [`StoredFile`] operation. The VFS turns it into the
/// SQLite code that fits the operation (`Io` on a write is `SQLITE_IOERR_WRITE`, and so on).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StorageError {
    /// The operation failed; the message is for logs.
    #[error("I/O error: {0}")]
    Io(String),
    /// No room left (`SQLITE_FULL`).
    #[error("no space left")]
    Full,
    /// The file cannot be opened (`SQLITE_CANTOPEN`).
    #[error("cannot open: {0}")]
    CantOpen(String),
}

/// What SQLite asks [`Storage::open`] for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    /// The absolute path (`None`: a temporary file SQLite does not name).
    pub path: Option<String>,
    /// What the file is for, from the open flags.
    pub kind: FileKind,
    /// `SQLITE_OPEN_CREATE`: create the file if it does not exist.
    pub create: bool,
    /// `SQLITE_OPEN_DELETEONCLOSE`: the file is gone when it is closed.
    pub delete_on_close: bool,
}

/// Where the VFS's files live.
pub trait Storage: Send + Sync + 'static {
    /// Opens (or creates) a file.
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn StoredFile>, StorageError>;
    /// Removes `path`. Removing a path that does not exist is an error.
    fn delete(&self, path: &str) -> Result<(), StorageError>;
    /// Whether `path` exists (SQLite asks before it opens a journal or WAL).
    fn exists(&self, path: &str) -> bool;
    /// Whether the VFS gives its files shared memory (the WAL index, in this process's
    /// memory, per path). Without it a WAL database opens only in exclusive locking mode.
    fn shared_memory(&self) -> bool {
        false
    }
}

/// One open file.
pub trait StoredFile: Send {
    /// Reads into `buf` from `offset`; returns how many bytes there were (fewer than
    /// `buf.len()` at the end of the file: the VFS zero-fills the rest and reports a short read).
    fn read(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, StorageError>;
    fn write(&mut self, buf: &[u8], offset: u64) -> Result<(), StorageError>;
    fn truncate(&mut self, size: u64) -> Result<(), StorageError>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> Result<(), StorageError>;
    fn size(&mut self) -> Result<u64, StorageError>;
    /// Called once when SQLite closes the file.
    fn close(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
    /// `xDeviceCharacteristics`: the `SQLITE_IOCAP_*` flags the file promises (none by default).
    fn device_characteristics(&self) -> i32 {
        0
    }
}

/// Registers a VFS called `name` whose files are `storage`'s. Fails if the name is taken.
/// A registered VFS lives as long as the process.
pub fn register_storage(name: &str, storage: Arc<dyn Storage>) -> Result<(), String> {
    crate::ffi::storage::register(name, storage)
}

/// Takes the storage VFS `name` out of SQLite's list (the name can be registered again) and
/// drops its [`Storage`], so what it held is freed once the files still open on it close.
/// Later opens through a connection that still names it fail with `SQLITE_CANTOPEN`.
pub fn retire_storage(name: &str) -> Result<(), String> {
    crate::ffi::storage::retire(name)
}

/// The bytes of one in-memory file, shared between the handles that open it.
pub type SharedBytes = Arc<Mutex<Vec<u8>>>;

/// An in-memory file: a [`StoredFile`] over shared bytes, for journals, temporary files and
/// tests. `sync` does nothing (there is nothing to make durable).
pub struct MemFile {
    bytes: SharedBytes,
}

impl MemFile {
    pub fn new(bytes: SharedBytes) -> Self {
        MemFile { bytes }
    }

    /// A new empty file of its own.
    pub fn anonymous() -> Self {
        MemFile::new(Arc::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A poisoned lock only means another thread panicked mid-copy: the bytes are still bytes.
        self.bytes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reads `buf.len()` bytes of `data` from `offset`; returns how many there were.
pub fn read_at(data: &[u8], buf: &mut [u8], offset: u64) -> usize {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let n = buf.len().min(data.len() - start);
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}

/// Writes `buf` into `data` at `offset`, zero-filling any gap.
pub fn write_at(data: &mut Vec<u8>, buf: &[u8], offset: u64) -> Result<(), StorageError> {
    let start = usize::try_from(offset).map_err(|_| StorageError::Full)?;
    let end = start.checked_add(buf.len()).ok_or(StorageError::Full)?;
    if data.len() < end {
        data.resize(end, 0);
    }
    data[start..end].copy_from_slice(buf);
    Ok(())
}

impl StoredFile for MemFile {
    fn read(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, StorageError> {
        Ok(read_at(&self.lock(), buf, offset))
    }

    fn write(&mut self, buf: &[u8], offset: u64) -> Result<(), StorageError> {
        write_at(&mut self.lock(), buf, offset)
    }

    fn truncate(&mut self, size: u64) -> Result<(), StorageError> {
        let size = usize::try_from(size).map_err(|_| StorageError::Full)?;
        self.lock().truncate(size);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }

    fn size(&mut self) -> Result<u64, StorageError> {
        Ok(self.lock().len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_past_the_end_zero_fill_the_gap_and_reads_stop_at_the_end() {
        let mut f = MemFile::anonymous();
        f.write(b"ab", 3).unwrap();
        assert_eq!(f.size().unwrap(), 5);
        let mut buf = [9u8; 8];
        assert_eq!(f.read(&mut buf, 0).unwrap(), 5);
        assert_eq!(&buf[..5], b"\0\0\0ab");
        assert_eq!(f.read(&mut buf, 10).unwrap(), 0);
        f.truncate(4).unwrap();
        assert_eq!(f.size().unwrap(), 4);
    }
}
