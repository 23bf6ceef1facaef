//! Where a crash state's files are: a directory on disk, or a directory of an in-memory disk
//! ([`vfs_faults::MemDisk`]) that SQLite reaches through a storage VFS.
//!
//! Why its own module: the verdict cache and the oracle read a state's files; with the
//! in-memory scratch (see [`super::inprocess`]) those files are not in the file system, and
//! both places must read them the same way: whole files by name, and a database opened
//! through the VFS that holds it, with nothing armed.

use std::path::Path;
use vfs_faults::memdisk::Content;
use vfs_faults::MemDisk;

/// A state's directory, borrowed.
#[derive(Clone, Copy)]
pub enum StateFiles<'a> {
    /// Real files (the platform's VFS).
    Dir(&'a Path),
    /// Files of `disk` whose path starts with `root/`, opened through the storage VFS `vfs`.
    Memory {
        disk: &'a MemDisk,
        root: &'a Path,
        vfs: &'a str,
    },
}

impl<'a> StateFiles<'a> {
    /// The directory's path (a verdict's detail may name a file in it).
    pub fn root(&self) -> &'a Path {
        match self {
            StateFiles::Dir(d) => d,
            StateFiles::Memory { root, .. } => root,
        }
    }

    /// The VFS that opens the state's databases with nothing armed (`None`: the default).
    pub fn vfs(&self) -> Option<&'a str> {
        match self {
            StateFiles::Dir(_) => None,
            StateFiles::Memory { vfs, .. } => Some(vfs),
        }
    }

    fn key(path: &Path) -> String {
        path.to_string_lossy().into_owned()
    }

    /// The length of `path`, `None` when there is no such file.
    pub fn len(&self, path: &Path) -> Option<u64> {
        match self {
            StateFiles::Dir(_) => std::fs::metadata(path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            StateFiles::Memory { disk, .. } => vfs_faults::Disk::len(*disk, &StateFiles::key(path)),
        }
    }

    /// Whether `path` exists (a file of any length).
    pub fn exists(&self, path: &Path) -> bool {
        match self {
            StateFiles::Dir(_) => path.exists(),
            StateFiles::Memory { .. } => self.len(path).is_some(),
        }
    }

    /// The whole content of `path`, `None` when there is no such file.
    pub fn read(&self, path: &Path) -> Option<Vec<u8>> {
        match self {
            StateFiles::Dir(_) => std::fs::read(path).ok(),
            StateFiles::Memory { disk, .. } => {
                vfs_faults::Disk::read(*disk, &StateFiles::key(path)).ok()
            }
        }
    }

    /// Whether `path` holds exactly `bytes`, whose tag (for a memory disk's known files, see
    /// [`MemDisk::put_known`]) is `tag`.
    pub fn holds(&self, path: &Path, bytes: &[u8], tag: u128) -> bool {
        match self {
            StateFiles::Dir(_) => std::fs::read(path).is_ok_and(|b| b == bytes),
            StateFiles::Memory { disk, .. } => disk
                .with_content(&StateFiles::key(path), |c| match c {
                    Content::Known(t) => t == tag,
                    Content::Bytes(b) => b == bytes,
                })
                .unwrap_or(false),
        }
    }

    /// The entries of directory `dir` (the root or a subdirectory of it), sorted by name, each
    /// handed to `f` (file contents read into `buf`).
    pub fn for_each_entry(
        &self,
        dir: &Path,
        buf: &mut Vec<u8>,
        f: &mut dyn FnMut(&str, EntryRef<'_>) -> Result<(), String>,
    ) -> Result<usize, String> {
        match self {
            StateFiles::Dir(_) => {
                let mut entries: Vec<_> = std::fs::read_dir(dir)
                    .map_err(|e| format!("listing {}: {e}", dir.display()))?
                    .map(|e| e.map(|e| e.path()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("listing {}: {e}", dir.display()))?;
                entries.sort();
                let n = entries.len();
                for p in entries {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    let err = |e: std::io::Error| format!("reading {}: {e}", p.display());
                    let meta = std::fs::symlink_metadata(&p).map_err(err)?;
                    if meta.is_dir() {
                        f(&name, EntryRef::Dir(&p))?;
                    } else if meta.file_type().is_symlink() {
                        let target = std::fs::read_link(&p).map_err(err)?;
                        f(
                            &name,
                            EntryRef::Symlink(target.as_os_str().as_encoded_bytes()),
                        )?;
                    } else if !meta.is_file() {
                        f(&name, EntryRef::Other)?;
                    } else {
                        use std::io::Read;
                        buf.clear();
                        std::fs::File::open(&p)
                            .and_then(|mut file| file.read_to_end(buf))
                            .map_err(err)?;
                        f(&name, EntryRef::File(buf))?;
                    }
                }
                Ok(n)
            }
            StateFiles::Memory { disk, .. } => {
                let prefix = format!("{}/", dir.to_string_lossy());
                let paths: Vec<String> = disk
                    .paths()
                    .into_iter()
                    .filter(|p| p.starts_with(&prefix))
                    .collect();
                // A memory disk has no directories: a name with a `/` is a file further down.
                let n = paths.len();
                for p in paths {
                    let name = &p[prefix.len()..];
                    let mut r = Ok(());
                    disk.with_content(&p, |c| {
                        r = match c {
                            Content::Known(t) => f(name, EntryRef::Known(t)),
                            Content::Bytes(b) => f(name, EntryRef::File(b)),
                        }
                    });
                    r?;
                }
                Ok(n)
            }
        }
    }
}

/// An entry handed to [`StateFiles::for_each_entry`]'s callback.
pub enum EntryRef<'b> {
    File(&'b [u8]),
    /// A memory disk's file that still holds the bytes put there under this tag.
    Known(u128),
    Dir(&'b Path),
    Symlink(&'b [u8]),
    Other,
}
