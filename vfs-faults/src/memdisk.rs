//! A disk in memory: files by absolute path, served as a storage VFS ([`crate::register_storage`])
//! and reachable by a fault VFS stacked on it ([`crate::Options::disk`]).
//!
//! Why it exists: a program that runs thousands of short SQLite sessions on small files (crash
//! exploration: copy two templates, run a backup, judge the files) spends most of its time in
//! the kernel when the files are real, even on tmpfs: every journal that is created and
//! deleted allocates and frees page-cache pages. Here a file is a `Vec<u8>`, and a deleted
//! file's buffer is kept for the next one.
//!
//! What it promises, so that SQLite behaves as it does on the platform's VFS:
//! - `xAccess` says a file exists when it has at least one byte (as the unix VFS does);
//! - files report `SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_SUBPAGE_READ` and 4096-byte
//!   sectors, and answer the pager's file controls, as the unix VFS does by default, so SQLite
//!   makes the same calls and lays out its journals the same way;
//! - shared memory (the WAL index) is in-process memory per database, with the eight WAL
//!   locks: a WAL database opens as it does on disk. It is gone once no connection maps it,
//!   as after a reboot.
//!
//! What it leaves out: file locks always succeed (the storage VFS's rule: one connection per
//! database at a time), and nothing is shared with other processes.

use crate::disk::Disk;
use crate::storage::StoredFile;
use crate::storage::{read_at, write_at, OpenRequest, Storage, StorageError};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// `SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_SUBPAGE_READ`: what the unix VFS says of
/// a file by default.
const IOCAP_LIKE_UNIX: i32 = 0x0000_1000 | 0x0000_8000;
/// Buffers of deleted files kept for reuse.
const MAX_SPARE: usize = 8;

/// Files in memory by path. Share it as `Arc<MemDisk>`: as the storage of a VFS and as the
/// [`Disk`] of a fault VFS over it.
#[derive(Debug, Default)]
pub struct MemDisk {
    files: Mutex<BTreeMap<String, Node>>,
    spare: Mutex<Vec<Vec<u8>>>,
}

/// One file: its bytes, and the caller's name for them while nothing changed them since
/// [`MemDisk::put_known`].
#[derive(Debug, Default)]
struct File {
    bytes: Vec<u8>,
    known: Option<u128>,
}

type Node = Arc<Mutex<File>>;

/// A file's content as [`MemDisk::with_content`] shows it.
pub enum Content<'a> {
    /// Exactly the bytes given to [`MemDisk::put_known`] with this tag: nothing wrote,
    /// truncated or replaced them since.
    Known(u128),
    Bytes(&'a [u8]),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-copy: the bytes are still bytes.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemDisk {
    pub fn new() -> Arc<MemDisk> {
        Arc::new(MemDisk::default())
    }

    fn fresh(&self) -> Node {
        let bytes = lock(&self.spare).pop().unwrap_or_default();
        Arc::new(Mutex::new(File { bytes, known: None }))
    }

    /// Makes `path` hold exactly `bytes` (created when missing; its buffer is reused).
    pub fn put(&self, path: &str, bytes: &[u8]) {
        self.put_tagged(path, bytes, None);
    }

    /// [`MemDisk::put`], and `tag` names these bytes until something changes them: the caller
    /// promises that equal tags mean equal bytes (a strong hash of them, say).
    pub fn put_known(&self, path: &str, bytes: &[u8], tag: u128) {
        self.put_tagged(path, bytes, Some(tag));
    }

    fn put_tagged(&self, path: &str, bytes: &[u8], tag: Option<u128>) {
        let file = {
            let mut files = lock(&self.files);
            match files.get(path) {
                Some(f) => Arc::clone(f),
                None => {
                    let f = self.fresh();
                    files.insert(path.to_string(), Arc::clone(&f));
                    f
                }
            }
        };
        let mut data = lock(&file);
        if data.known.is_none() || data.known != tag {
            data.bytes.clear();
            data.bytes.extend_from_slice(bytes);
        }
        data.known = tag;
    }

    /// Calls `f` with the content of `path`, `None` when there is no such file.
    pub fn with_file<R>(&self, path: &str, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let file = lock(&self.files).get(path).cloned()?;
        let data = lock(&file);
        Some(f(&data.bytes))
    }

    /// Calls `f` with the content of `path` (its tag while it is known), `None` when there is
    /// no such file.
    pub fn with_content<R>(&self, path: &str, f: impl FnOnce(Content<'_>) -> R) -> Option<R> {
        let file = lock(&self.files).get(path).cloned()?;
        let data = lock(&file);
        Some(match data.known {
            Some(t) => f(Content::Known(t)),
            None => f(Content::Bytes(&data.bytes)),
        })
    }

    /// Every path, sorted.
    pub fn paths(&self) -> Vec<String> {
        lock(&self.files).keys().cloned().collect()
    }

    /// Removes every file whose path starts with `prefix` and is not in `keep`.
    pub fn remove_under_except(&self, prefix: &str, keep: &[&str]) {
        let gone: Vec<String> = lock(&self.files)
            .keys()
            .filter(|p| p.starts_with(prefix) && !keep.contains(&p.as_str()))
            .cloned()
            .collect();
        for p in gone {
            let _ = self.unlink(&p);
        }
    }

    /// Removes every file and every kept buffer.
    pub fn clear(&self) {
        lock(&self.files).clear();
        lock(&self.spare).clear();
    }

    /// Removes `path`; its buffer is kept for a later file when no handle holds it.
    fn unlink(&self, path: &str) -> Result<(), StorageError> {
        let file = lock(&self.files)
            .remove(path)
            .ok_or_else(|| StorageError::Io(format!("{path}: no such file")))?;
        if let Ok(m) = Arc::try_unwrap(file) {
            let mut buf = m.into_inner().unwrap_or_else(|p| p.into_inner()).bytes;
            buf.clear();
            let mut spare = lock(&self.spare);
            if spare.len() < MAX_SPARE {
                spare.push(buf);
            }
        }
        Ok(())
    }
}

/// An open file of a [`MemDisk`] (or a temporary file of its own).
struct DiskFile(Node);

impl StoredFile for DiskFile {
    fn read(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, StorageError> {
        Ok(read_at(&lock(&self.0).bytes, buf, offset))
    }
    fn write(&mut self, buf: &[u8], offset: u64) -> Result<(), StorageError> {
        let mut f = lock(&self.0);
        f.known = None;
        write_at(&mut f.bytes, buf, offset)
    }
    fn truncate(&mut self, size: u64) -> Result<(), StorageError> {
        let size = usize::try_from(size).map_err(|_| StorageError::Full)?;
        let mut f = lock(&self.0);
        f.known = None;
        f.bytes.truncate(size);
        Ok(())
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
    fn size(&mut self) -> Result<u64, StorageError> {
        Ok(lock(&self.0).bytes.len() as u64)
    }
    fn device_characteristics(&self) -> i32 {
        IOCAP_LIKE_UNIX
    }
}

impl DiskFile {
    fn boxed(bytes: Node) -> Box<dyn StoredFile> {
        Box::new(DiskFile(bytes))
    }
}

impl Storage for MemDisk {
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn StoredFile>, StorageError> {
        let path = match &req.path {
            // Deleted on close: nobody can open it again, so it needs no name.
            Some(p) if !req.delete_on_close => p,
            _ => return Ok(DiskFile::boxed(self.fresh())),
        };
        let mut files = lock(&self.files);
        if let Some(f) = files.get(path) {
            return Ok(DiskFile::boxed(Arc::clone(f)));
        }
        if !req.create {
            return Err(StorageError::CantOpen(format!("{path}: no such file")));
        }
        let f = self.fresh();
        files.insert(path.clone(), Arc::clone(&f));
        Ok(DiskFile::boxed(f))
    }

    fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.unlink(path)
    }

    fn exists(&self, path: &str) -> bool {
        self.with_file(path, |b| !b.is_empty()).unwrap_or(false)
    }

    fn shared_memory(&self) -> bool {
        true
    }
}

impl Disk for MemDisk {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.with_file(path, <[u8]>::to_vec)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.to_string()))
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        self.put(path, bytes);
        Ok(())
    }

    fn write_at(&self, path: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let file = lock(&self.files)
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.to_string()))?;
        let mut data = lock(&file);
        data.known = None;
        write_at(&mut data.bytes, bytes, offset).map_err(|e| io::Error::other(e.to_string()))
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.unlink(path)
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))
    }

    fn len(&self, path: &str) -> Option<u64> {
        self.with_file(path, |b| b.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_remove_and_existence_as_the_unix_vfs_says_it() {
        let d = MemDisk::new();
        d.put("/m/a", b"xyz");
        assert_eq!(Disk::read(&*d, "/m/a").unwrap(), b"xyz");
        d.put("/m/a", b"q");
        assert_eq!(d.len("/m/a"), Some(1));
        d.put("/m/empty", b"");
        assert!(
            !d.exists("/m/empty"),
            "an empty file does not exist for xAccess"
        );
        assert_eq!(d.len("/m/empty"), Some(0));
        d.put("/other/b", b"b");
        d.remove_under_except("/m/", &["/m/a"]);
        assert_eq!(d.paths(), vec!["/m/a".to_string(), "/other/b".to_string()]);
        Disk::remove(&*d, "/m/a").unwrap();
        assert!(Disk::remove(&*d, "/m/a").is_err());
        assert_eq!(d.len("/m/a"), None);
    }

    fn tag_of(d: &MemDisk, path: &str) -> Option<u128> {
        d.with_content(path, |c| match c {
            Content::Known(t) => Some(t),
            Content::Bytes(_) => None,
        })
        .flatten()
    }

    /// A known file stays known until a write, a truncation or a replacement through any
    /// route; then its bytes are shown.
    #[test]
    fn known_content_is_forgotten_by_every_change() {
        let d = MemDisk::new();
        let open = |d: &MemDisk| {
            d.open(&OpenRequest {
                path: Some("/k/f".into()),
                kind: crate::FileKind::MainDb,
                create: false,
                delete_on_close: false,
            })
            .unwrap()
        };
        d.put_known("/k/f", b"template", 7);
        assert_eq!(tag_of(&d, "/k/f"), Some(7));
        open(&d).write(b"T", 0).unwrap();
        assert_eq!(tag_of(&d, "/k/f"), None);
        assert_eq!(Disk::read(&*d, "/k/f").unwrap(), b"Template");
        // Putting the template again restores the bytes, not only the tag.
        d.put_known("/k/f", b"template", 7);
        assert_eq!(Disk::read(&*d, "/k/f").unwrap(), b"template");
        open(&d).truncate(2).unwrap();
        assert_eq!(tag_of(&d, "/k/f"), None);
        d.put_known("/k/f", b"template", 7);
        Disk::write_at(&*d, "/k/f", 0, b"x").unwrap();
        assert_eq!(tag_of(&d, "/k/f"), None);
        d.put_known("/k/f", b"template", 7);
        d.put("/k/f", b"template");
        assert_eq!(tag_of(&d, "/k/f"), None);
    }
}
