//! The sender VFS: a `vfs_faults::storage` [`Storage`] whose destination database is shipped
//! over a [`Link`] instead of being written to disk.
//!
//! Which methods the backup really calls, on the destination database file (with the
//! destination connection in `locking_mode = EXCLUSIVE`, `journal_mode = MEMORY`, and a small
//! cache so pages spill to the link while the backup runs):
//! * `xOpen`, `xRead` (page 1 and the pages the pager reads back), `xFileSize`: served from
//!   the image the receiver sent at connect plus everything written since ("what has been
//!   sent");
//! * `xWrite` (each spilled or committed page, and the header-only commit of a journal-mode
//!   switch): one `Write` frame each;
//! * `xSync` (the commit): a `Sync` frame, then a wait for the receiver's acknowledgement; the
//!   sync fails with `SQLITE_IOERR_FSYNC` if the link broke or the acknowledgement did not come;
//! * `xTruncate` (a commit that shrinks the replica, after the commit's sync): a `Truncate`
//!   frame, applied at the session's final flush;
//! * `xLock`/`xUnlock`/`xCheckReservedLock`: local only (one connection, exclusive mode);
//! * `xClose`: nothing is shipped;
//! * `xFileControl` (`SIZE_HINT`, `SYNC`, `COMMIT_PHASETWO`): answered `SQLITE_NOTFOUND`.
//!
//! A failed step or an abort rolls the destination back: the pager writes the old pages back
//! and syncs, so those frames are shipped too, and the receiver commits the old image.
//!
//! Stubs: `xDelete` of the database is shipped as a `Delete` frame, but a backup never deletes
//! its destination. Journals, the WAL (only while a WAL-flagged image is switched to MEMORY) and
//! temporary files are in-memory files on the sender: the receiver's apply-on-sync makes a
//! commit atomic, so a shipped journal would add nothing. No shared memory, no mmap, no file
//! controls.

use super::frame::Frame;
use super::link::Link;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use vfs_faults::storage::{read_at, write_at, SharedBytes};
use vfs_faults::{MemFile, OpenRequest, Storage, StorageError, StoredFile};

/// Pages shipped in this backup, and how many had been shipped before.
#[derive(Debug, Default)]
pub struct PageCounts {
    pub sent: u64,
    pub resent: u64,
    seen: HashSet<u64>,
}

impl PageCounts {
    fn record(&mut self, offset: u64, len: usize) {
        // A database page: a power-of-two write at a multiple of its size.
        if len >= 512 && len.is_power_of_two() && offset.is_multiple_of(len as u64) {
            self.sent += 1;
            if !self.seen.insert(offset / len as u64) {
                self.resent += 1;
            }
        }
    }
}

/// The destination's storage: `main` is shipped, everything else stays in memory.
pub struct StreamStorage {
    main: String,
    image: SharedBytes,
    link: Arc<Link>,
    others: Mutex<HashMap<String, SharedBytes>>,
    pub counts: Arc<Mutex<PageCounts>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl StreamStorage {
    pub fn new(main: String, image: Vec<u8>, link: Arc<Link>) -> StreamStorage {
        StreamStorage {
            main,
            image: Arc::new(Mutex::new(image)),
            link,
            others: Mutex::default(),
            counts: Arc::default(),
        }
    }
}

impl Storage for StreamStorage {
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn StoredFile>, StorageError> {
        match &req.path {
            Some(p) if *p == self.main => Ok(Box::new(StreamFile {
                image: self.image.clone(),
                link: self.link.clone(),
                counts: self.counts.clone(),
            })),
            Some(p) => {
                let mut others = lock(&self.others);
                match others.get(p) {
                    Some(b) => Ok(Box::new(MemFile::new(b.clone()))),
                    None if req.create => Ok(Box::new(MemFile::new(
                        others.entry(p.clone()).or_default().clone(),
                    ))),
                    None => Err(StorageError::CantOpen(p.clone())),
                }
            }
            None => Ok(Box::new(MemFile::anonymous())),
        }
    }

    fn delete(&self, path: &str) -> Result<(), StorageError> {
        if path == self.main {
            self.link.send(&Frame::Delete).map_err(StorageError::Io)?;
            lock(&self.image).clear();
            return Ok(());
        }
        lock(&self.others)
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| StorageError::Io(format!("{path}: no such file")))
    }

    fn exists(&self, path: &str) -> bool {
        if path == self.main {
            return !lock(&self.image).is_empty();
        }
        lock(&self.others).contains_key(path)
    }
}

/// The destination database file: local image plus the link.
struct StreamFile {
    image: SharedBytes,
    link: Arc<Link>,
    counts: Arc<Mutex<PageCounts>>,
}

impl StoredFile for StreamFile {
    fn read(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, StorageError> {
        Ok(read_at(&lock(&self.image), buf, offset))
    }

    fn write(&mut self, buf: &[u8], offset: u64) -> Result<(), StorageError> {
        write_at(&mut lock(&self.image), buf, offset)?;
        self.link
            .send(&Frame::Write {
                offset,
                data: buf.to_vec(),
            })
            .map_err(StorageError::Io)?;
        lock(&self.counts).record(offset, buf.len());
        Ok(())
    }

    fn truncate(&mut self, size: u64) -> Result<(), StorageError> {
        lock(&self.image).truncate(usize::try_from(size).unwrap_or(usize::MAX));
        self.link
            .send(&Frame::Truncate { size })
            .map_err(StorageError::Io)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.link.sync().map_err(StorageError::Io)
    }

    fn size(&mut self) -> Result<u64, StorageError> {
        Ok(lock(&self.image).len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_written_twice_is_resent_and_other_writes_are_not_pages() {
        let mut c = PageCounts::default();
        c.record(0, 4096);
        c.record(4096, 4096);
        c.record(0, 4096);
        c.record(24, 8);
        c.record(100, 4096);
        assert_eq!((c.sent, c.resent), (3, 1));
    }
}
