//! The file operations by which the receiver makes a commit durable, behind one trait.
//!
//! Why it exists: the receiver acknowledges a sync only once the replica holds the new image
//! durably (temp file written and fsynced, renamed over the replica, directory fsynced). A
//! kill cannot tell whether those fsyncs happened, since the page cache survives it; only a
//! power cut can. So the receiver's commit and removal run on a [`ReplicaFs`]: the real file
//! system in the receiver ([`RealFs`]), and in the tests a model of a page cache that a power
//! cut drops, which enumerates every state the disk may hold after a cut at any point.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// What the receiver's commit does to files, each call one system call's worth.
pub trait ReplicaFs {
    /// Creates (or truncates) `path` and writes `bytes` into it, not synced.
    fn create_with(&mut self, path: &Path, bytes: &[u8]) -> Result<()>;
    /// `fsync` of the file `path`: its content is durable.
    fn sync_file(&mut self, path: &Path) -> Result<()>;
    /// Renames `from` over `to`.
    fn rename(&mut self, from: &Path, to: &Path) -> Result<()>;
    /// Removes `path`; a missing file is not an error.
    fn remove(&mut self, path: &Path) -> Result<()>;
    /// `fsync` of the directory `dir`: its entries (creations, renames, removals) are durable.
    fn sync_dir(&mut self, dir: &Path) -> Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl ReplicaFs for RealFs {
    fn create_with(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))
    }

    fn sync_file(&mut self, path: &Path) -> Result<()> {
        File::open(path)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", path.display()))
    }

    fn rename(&mut self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to)
            .with_context(|| format!("renaming {} over {}", from.display(), to.display()))
    }

    fn remove(&mut self, path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }

    fn sync_dir(&mut self, dir: &Path) -> Result<()> {
        File::open(dir)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing the directory {}", dir.display()))
    }
}

/// The directory a file's entry lives in (`.` for a bare name).
pub fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `replica` with `image` through `tmp`, atomically and durably: when this returns,
/// a power cut leaves `image`; a cut before it leaves the old replica or `image`.
pub fn commit(fs: &mut impl ReplicaFs, replica: &Path, tmp: &Path, image: &[u8]) -> Result<()> {
    fs.create_with(tmp, image)?;
    fs.sync_file(tmp)?;
    fs.rename(tmp, replica)?;
    fs.sync_dir(dir_of(replica))
}

/// Removes `replica`, durably.
pub fn remove(fs: &mut impl ReplicaFs, replica: &Path) -> Result<()> {
    fs.remove(replica)?;
    fs.sync_dir(dir_of(replica))
}

#[cfg(test)]
pub(crate) mod cache_model {
    //! A page cache that a power cut drops: file contents are durable only once the file was
    //! fsynced, directory entries only once their directory was. A cut may also have written
    //! back any part of what was cached, so the states after a cut are every choice, per
    //! directory and per file, of its durable or its cached version.

    use super::ReplicaFs;
    use anyhow::{bail, Result};
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    #[derive(Debug, Clone, Default)]
    struct Inode {
        cached: Vec<u8>,
        durable: Vec<u8>,
    }

    /// One directory's files, by name, as the cache holds them and as the disk does.
    #[derive(Debug, Clone, Default)]
    pub struct CacheModel {
        inodes: Vec<Inode>,
        cached: BTreeMap<PathBuf, usize>,
        durable: BTreeMap<PathBuf, usize>,
        /// Every directory fsynced (all paths share one directory in these tests).
        pub dirs_synced: Vec<PathBuf>,
    }

    impl CacheModel {
        /// A file that holds `bytes` durably, entry included.
        pub fn with_durable(path: &Path, bytes: &[u8]) -> CacheModel {
            let mut m = CacheModel::default();
            m.inodes.push(Inode {
                cached: bytes.to_vec(),
                durable: bytes.to_vec(),
            });
            m.cached.insert(path.to_path_buf(), 0);
            m.durable.insert(path.to_path_buf(), 0);
            m
        }

        /// What `path` holds (`None`: no such file) in every state the disk may be in after a
        /// power cut now, sorted.
        pub fn after_cut(&self, path: &Path) -> Vec<Option<Vec<u8>>> {
            let mut out = Vec::new();
            for dir in [&self.durable, &self.cached] {
                match dir.get(path) {
                    None => out.push(None),
                    Some(&i) => {
                        out.push(Some(self.inodes[i].durable.clone()));
                        out.push(Some(self.inodes[i].cached.clone()));
                    }
                }
            }
            out.sort();
            out.dedup();
            out
        }

        /// What `path` holds now, as a process sees it (`None`: no such file).
        pub fn visible(&self, path: &Path) -> Option<&[u8]> {
            self.cached
                .get(path)
                .map(|&i| self.inodes[i].cached.as_slice())
        }
    }

    impl ReplicaFs for CacheModel {
        fn create_with(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
            // A new inode, as `File::create` of a missing file gives; an existing file is
            // truncated in place, which the cache holds until its sync.
            match self.cached.get(path) {
                Some(&i) => self.inodes[i].cached = bytes.to_vec(),
                None => {
                    self.inodes.push(Inode {
                        cached: bytes.to_vec(),
                        durable: Vec::new(),
                    });
                    self.cached
                        .insert(path.to_path_buf(), self.inodes.len() - 1);
                }
            }
            Ok(())
        }

        fn sync_file(&mut self, path: &Path) -> Result<()> {
            let Some(&i) = self.cached.get(path) else {
                bail!("sync of a missing file {}", path.display());
            };
            let ino = &mut self.inodes[i];
            ino.durable = ino.cached.clone();
            Ok(())
        }

        fn rename(&mut self, from: &Path, to: &Path) -> Result<()> {
            let Some(i) = self.cached.remove(from) else {
                bail!("rename of a missing file {}", from.display());
            };
            self.cached.insert(to.to_path_buf(), i);
            Ok(())
        }

        fn remove(&mut self, path: &Path) -> Result<()> {
            self.cached.remove(path);
            Ok(())
        }

        fn sync_dir(&mut self, dir: &Path) -> Result<()> {
            self.durable = self.cached.clone();
            self.dirs_synced.push(dir.to_path_buf());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cache_model::CacheModel;
    use super::*;
    use std::path::PathBuf;

    fn paths() -> (PathBuf, PathBuf) {
        let replica = PathBuf::from("/d/replica.db");
        let tmp = PathBuf::from("/d/replica.db.stream-tmp");
        (replica, tmp)
    }

    /// The commit's own sequence, cut after every one of its calls: the replica is always the
    /// old image or the new one, and the new one in every state once the commit returned.
    #[test]
    fn a_cut_anywhere_in_a_commit_leaves_the_old_or_the_new_image_and_the_new_after_it() {
        let (replica, tmp) = paths();
        let (old, new) = (vec![1u8; 8192], vec![2u8; 12288]);
        let fs = CacheModel::with_durable(&replica, &old);
        // The commit run whole, then each of its prefixes by replaying its calls into a
        // recording model.
        let mut whole = fs.clone();
        commit(&mut whole, &replica, &tmp, &new).unwrap();
        assert_eq!(whole.visible(&replica), Some(new.as_slice()));
        assert_eq!(whole.after_cut(&replica), vec![Some(new.clone())]);
        assert_eq!(whole.dirs_synced, [PathBuf::from("/d")]);
        let calls = RecordingFs::calls_of(|fs| commit(fs, &replica, &tmp, &new));
        let mut m = fs;
        for i in 0..=calls.len() {
            if i > 0 {
                calls[i - 1].apply(&mut m).unwrap();
            }
            for state in m.after_cut(&replica) {
                assert!(
                    state.as_deref() == Some(old.as_slice())
                        || state.as_deref() == Some(new.as_slice()),
                    "cut after {i} of {calls:?}: the replica holds {:?}",
                    state.map(|s| s.len())
                );
            }
        }
        assert_eq!(m.after_cut(&replica), vec![Some(new.clone())]);
    }

    #[test]
    fn a_durable_removal_leaves_no_replica_after_a_cut() {
        let (replica, _) = paths();
        let mut fs = CacheModel::with_durable(&replica, &[1u8; 4096]);
        remove(&mut fs, &replica).unwrap();
        assert_eq!(fs.after_cut(&replica), vec![None]);
        // Removing a missing file is no error, and durable too.
        remove(&mut fs, &replica).unwrap();
        assert_eq!(fs.after_cut(&replica), vec![None]);
    }

    /// The model itself: an unsynced write and an unsynced entry are lost or kept; a sync of
    /// the file or of the directory makes each durable, and only that.
    #[test]
    fn the_cache_model_keeps_only_what_was_synced() {
        let (replica, tmp) = paths();
        let mut fs = CacheModel::with_durable(&replica, b"old");
        fs.create_with(&tmp, b"new").unwrap();
        assert_eq!(
            fs.after_cut(&tmp),
            vec![None, Some(vec![]), Some(b"new".to_vec())]
        );
        fs.sync_dir(Path::new("/d")).unwrap();
        assert_eq!(
            fs.after_cut(&tmp),
            vec![Some(vec![]), Some(b"new".to_vec())]
        );
        fs.sync_file(&tmp).unwrap();
        assert_eq!(fs.after_cut(&tmp), vec![Some(b"new".to_vec())]);
        fs.rename(&tmp, &replica).unwrap();
        assert_eq!(
            fs.after_cut(&replica),
            vec![Some(b"new".to_vec()), Some(b"old".to_vec())]
        );
        assert_eq!(fs.after_cut(&tmp), vec![None, Some(b"new".to_vec())]);
        // Rewriting an existing file in place: its old content until the sync.
        fs.create_with(&replica, b"newer").unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        assert_eq!(
            fs.after_cut(&replica),
            vec![Some(b"new".to_vec()), Some(b"newer".to_vec())]
        );
        assert!(fs.sync_file(Path::new("/d/missing")).is_err());
        assert!(fs.rename(Path::new("/d/missing"), &replica).is_err());
    }

    /// The real file system does what the commit asks.
    #[test]
    fn the_real_commit_replaces_the_replica_and_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let replica = dir.path().join("r.db");
        let tmp = dir.path().join("r.db.tmp");
        std::fs::write(&replica, b"old").unwrap();
        commit(&mut RealFs, &replica, &tmp, b"new").unwrap();
        assert_eq!(std::fs::read(&replica).unwrap(), b"new");
        assert!(!tmp.exists());
        remove(&mut RealFs, &replica).unwrap();
        assert!(!replica.exists());
        remove(&mut RealFs, &replica).unwrap();
        assert!(RealFs.sync_file(&replica).is_err());
        assert!(RealFs.rename(&tmp, &replica).is_err());
        assert_eq!(dir_of(Path::new("x.db")), Path::new("."));
        assert_eq!(dir_of(&replica), dir.path());
    }

    /// The real file system's failures are errors, never skipped: only a replica that is
    /// already gone counts as removed, and a directory that cannot be synced is not synced.
    #[test]
    fn the_real_file_systems_failures_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_file = dir.path().join("d");
        std::fs::create_dir(&not_a_file).unwrap();
        std::fs::write(not_a_file.join("x"), b"x").unwrap();
        let err = RealFs.remove(&not_a_file).unwrap_err();
        assert!(format!("{err:#}").contains("removing"), "{err:#}");
        assert!(not_a_file.exists());
        let missing = dir.path().join("gone");
        let err = RealFs.sync_dir(&missing).unwrap_err();
        assert!(
            format!("{err:#}").contains("syncing the directory"),
            "{err:#}"
        );
        RealFs.sync_dir(dir.path()).unwrap();
    }

    /// One call a commit made, to be replayed into a model.
    #[derive(Debug, Clone)]
    enum Call {
        Create(PathBuf, Vec<u8>),
        SyncFile(PathBuf),
        Rename(PathBuf, PathBuf),
        Remove(PathBuf),
        SyncDir(PathBuf),
    }

    impl Call {
        fn apply(&self, fs: &mut CacheModel) -> Result<()> {
            match self {
                Call::Create(p, b) => fs.create_with(p, b),
                Call::SyncFile(p) => fs.sync_file(p),
                Call::Rename(a, b) => fs.rename(a, b),
                Call::Remove(p) => fs.remove(p),
                Call::SyncDir(p) => fs.sync_dir(p),
            }
        }
    }

    /// Records the calls a function makes.
    #[derive(Default)]
    struct RecordingFs(Vec<Call>);

    impl RecordingFs {
        fn calls_of(f: impl FnOnce(&mut RecordingFs) -> Result<()>) -> Vec<Call> {
            let mut r = RecordingFs::default();
            f(&mut r).unwrap();
            r.0
        }
    }

    impl ReplicaFs for RecordingFs {
        fn create_with(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
            self.0.push(Call::Create(path.into(), bytes.to_vec()));
            Ok(())
        }
        fn sync_file(&mut self, path: &Path) -> Result<()> {
            self.0.push(Call::SyncFile(path.into()));
            Ok(())
        }
        fn rename(&mut self, from: &Path, to: &Path) -> Result<()> {
            self.0.push(Call::Rename(from.into(), to.into()));
            Ok(())
        }
        fn remove(&mut self, path: &Path) -> Result<()> {
            self.0.push(Call::Remove(path.into()));
            Ok(())
        }
        fn sync_dir(&mut self, dir: &Path) -> Result<()> {
            self.0.push(Call::SyncDir(dir.into()));
            Ok(())
        }
    }
}
