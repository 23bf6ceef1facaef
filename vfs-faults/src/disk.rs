//! Where the base VFS keeps its files, seen from outside SQLite's calls.
//!
//! Why it exists: two things the fault VFS does are not file operations SQLite asked for. A
//! power cut rewrites files into their crash state (and brings back a deleted journal), and a
//! deletion first keeps the content a later cut may bring back. With the platform's VFS under
//! it, those files are the real ones ([`RealDisk`]); with a VFS whose files live in memory
//! ([`crate::MemDisk`]), they are that VFS's. [`crate::Options::disk`] says which.

use std::io;

/// Whole-file access to the base VFS's files, by the path SQLite opened them with.
pub trait Disk: Send + Sync + std::fmt::Debug + 'static {
    /// The whole content of `path`.
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    /// Makes `path` hold exactly `bytes` (created when missing).
    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// Writes `bytes` at `offset` of the existing file `path`.
    fn write_at(&self, path: &str, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Removes `path`.
    fn remove(&self, path: &str) -> io::Result<()>;
    /// The length of `path`, `None` when there is no such file.
    fn len(&self, path: &str) -> Option<u64>;
}

/// The files of the platform's VFS: `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealDisk;

impl Disk for RealDisk {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        std::fs::write(path, bytes)
    }

    fn write_at(&self, path: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all_at(bytes, offset)
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn len(&self, path: &str) -> Option<u64> {
        std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }
}
