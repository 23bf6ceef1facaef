//! Content-addressed verdicts: a crash state whose files, destination kind and claim were
//! judged before gets that verdict again without opening a database.
//!
//! Why its own module: most crash points leave one of a few file states (an I/O error rolls
//! the destination back to `D0`, a torn write that SQLite later overwrites leaves the same bytes
//! as none, kills after the same completed writes leave the same files), and verifying a state
//! (open with recovery, `integrity_check`, digest, source check) costs more than reading and
//! hashing its files.
//!
//! The key covers everything the verdict depends on:
//! - every entry of the state's directory, sorted by name: its name, whether it is a file or a
//!   directory, its length and all its bytes (database, `-journal`, `-wal`, `-shm`,
//!   super-journals, strategy temp files: whatever SQLite's recovery could read); a memory
//!   disk's file that nothing changed since it was copied from a template stands for its bytes
//!   by the template's 128-bit hash;
//! - the directory's path (a verdict's detail may name a file);
//! - the destination kind (its pre-image `D0`) and the claim, in full.
//!
//! The rest (source template, model, pre-images) is fixed because a cache belongs to one
//! [`super::reference::Reference`]. The key is the state *before* verification: the oracle's
//! open rolls back hot journals and recovers WALs, so the files after it say less.
//!
//! Every miss is verified in full. In [`CacheMode::Check`] (`--doublecheck`) every hit is
//! verified again and a different verdict is an error; [`CacheMode::Off`] verifies everything.

use super::state_files::{EntryRef, StateFiles};
use super::ExploreError;
use crate::event::Claim;
use crate::oracle::Verdict;
use crate::scenario::DestinationChoice;
use std::collections::HashMap;
use std::path::Path;
use xxhash_rust::xxh3::Xxh3;

/// How verdicts are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// A state seen before gets its recorded verdict.
    #[default]
    Use,
    /// Every state is verified; nothing is recorded.
    Off,
    /// Every state is verified; a state seen before must get the same verdict again.
    Check,
}

/// Above this many distinct states the cache starts over (each entry is one verdict).
const MAX_ENTRIES: usize = 1 << 20;

/// Verdicts by state key, with hit counts.
#[derive(Debug, Default)]
pub struct VerdictCache {
    pub mode: CacheMode,
    map: HashMap<u128, Verdict>,
    /// States served from the cache (in `Check` mode: states seen before, verified again).
    pub hits: u64,
    /// States verified because they were new (or the cache is off).
    pub misses: u64,
    buf: Vec<u8>,
}

impl VerdictCache {
    pub fn new(mode: CacheMode) -> VerdictCache {
        VerdictCache {
            mode,
            ..VerdictCache::default()
        }
    }

    /// Fraction of states served from the cache (0 when none was looked up).
    pub fn hit_rate(&self) -> f64 {
        let all = self.hits + self.misses;
        if all == 0 {
            0.0
        } else {
            self.hits as f64 / all as f64
        }
    }

    /// The verdict on the state in `dir`: from the cache when this exact state was judged
    /// before, else from `verify` (which is then recorded).
    pub fn verdict(
        &mut self,
        files: StateFiles<'_>,
        d: DestinationChoice,
        claim: Option<&Claim>,
        verify: impl FnOnce() -> Result<Verdict, ExploreError>,
    ) -> Result<Verdict, ExploreError> {
        if self.mode == CacheMode::Off {
            self.misses += 1;
            return verify();
        }
        let key = state_key(files, d, claim, &mut self.buf)?;
        match (self.mode, self.map.get(&key)) {
            (CacheMode::Use, Some(v)) => {
                self.hits += 1;
                return Ok(v.clone());
            }
            (CacheMode::Check, Some(cached)) => {
                let cached = cached.clone();
                let fresh = verify()?;
                self.hits += 1;
                if fresh != cached {
                    return Err(ExploreError::Oracle(format!(
                        "verdict cache: a state judged before got another verdict now \
                         (cached {cached:?}, fresh {fresh:?}) in {}",
                        files.root().display()
                    )));
                }
                return Ok(fresh);
            }
            _ => {}
        }
        let v = verify()?;
        self.misses += 1;
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(key, v.clone());
        Ok(v)
    }
}

/// The key of the state in `dir` (see the module doc). `buf` is reused between calls so that
/// reading a state does not allocate.
pub fn state_key(
    files: StateFiles<'_>,
    d: DestinationChoice,
    claim: Option<&Claim>,
    buf: &mut Vec<u8>,
) -> Result<u128, ExploreError> {
    let mut h = Xxh3::new();
    let dir = files.root();
    let path = dir.as_os_str().as_encoded_bytes();
    h.update(&(path.len() as u64).to_le_bytes());
    h.update(path);
    let d = d.as_str().as_bytes();
    h.update(&(d.len() as u64).to_le_bytes());
    h.update(d);
    let claim = serde_json::to_vec(&claim).expect("a claim serializes");
    h.update(&(claim.len() as u64).to_le_bytes());
    h.update(&claim);
    hash_dir(&mut h, files, dir, buf)?;
    Ok(h.digest128())
}

/// Hashes every entry of `dir` in name order (a subdirectory's entries right after its
/// name), then their number.
fn hash_dir(
    h: &mut Xxh3,
    files: StateFiles<'_>,
    dir: &Path,
    buf: &mut Vec<u8>,
) -> Result<(), ExploreError> {
    let mut hash_entry = |name: &str, e: EntryRef<'_>| -> Result<(), String> {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        match e {
            EntryRef::Dir(p) => {
                h.update(b"d");
                hash_dir(h, files, p, &mut Vec::new()).map_err(|e| e.to_string())?;
            }
            EntryRef::Symlink(target) => {
                h.update(b"l");
                h.update(target);
            }
            // A socket or a FIFO (a network backup's receiver socket): its type, no content.
            EntryRef::Other => h.update(b"o"),
            EntryRef::File(bytes) => {
                h.update(b"f");
                h.update(&(bytes.len() as u64).to_le_bytes());
                h.update(bytes);
            }
            // Bytes named by their tag (a strong hash of them): the same content, not reread.
            // The same bytes as a plain file give another key, which only costs a miss.
            EntryRef::Known(tag) => {
                h.update(b"k");
                h.update(&tag.to_le_bytes());
            }
        }
        Ok(())
    };
    let n = files
        .for_each_entry(dir, buf, &mut hash_entry)
        .map_err(|e| ExploreError::Setup(format!("verdict cache: {e}")))?;
    h.update(&(n as u64).to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::VerdictKind;

    fn verdict(kind: VerdictKind, detail: &str) -> Verdict {
        Verdict {
            kind,
            k: None,
            lag: None,
            detail: detail.into(),
        }
    }

    /// A state directory on disk or on a memory disk, edited the same way.
    enum Backend {
        Disk(tempfile::TempDir),
        Memory(std::sync::Arc<vfs_faults::MemDisk>),
    }

    const ROOT: &str = "/mem-cache-test";

    impl Backend {
        fn path(&self, name: &str) -> std::path::PathBuf {
            match self {
                Backend::Disk(t) => t.path().join(name),
                Backend::Memory(_) => Path::new(ROOT).join(name),
            }
        }
        fn write(&self, name: &str, bytes: &[u8]) {
            match self {
                Backend::Disk(_) => std::fs::write(self.path(name), bytes).unwrap(),
                Backend::Memory(m) => m.put(&self.path(name).to_string_lossy(), bytes),
            }
        }
        fn remove(&self, name: &str) {
            match self {
                Backend::Disk(_) => std::fs::remove_file(self.path(name)).unwrap(),
                Backend::Memory(m) => {
                    vfs_faults::Disk::remove(&**m, &self.path(name).to_string_lossy()).unwrap()
                }
            }
        }
        fn rename(&self, from: &str, to: &str) {
            match self {
                Backend::Disk(_) => std::fs::rename(self.path(from), self.path(to)).unwrap(),
                Backend::Memory(m) => {
                    let bytes = vfs_faults::Disk::read(&**m, &self.path(from).to_string_lossy());
                    self.remove(from);
                    self.write(to, &bytes.unwrap());
                }
            }
        }
        fn files(&self) -> StateFiles<'_> {
            match self {
                Backend::Disk(t) => StateFiles::Dir(t.path()),
                Backend::Memory(m) => StateFiles::Memory {
                    disk: m,
                    root: Path::new(ROOT),
                    vfs: "unused",
                },
            }
        }
        fn key(&self, d: DestinationChoice, claim: Option<&Claim>) -> u128 {
            state_key(self.files(), d, claim, &mut Vec::new()).unwrap()
        }
    }

    /// Everything the verdict depends on changes the key: a byte of any file, a file's
    /// length, an extra (even empty) file such as a leftover journal, a file's name, the
    /// destination kind and the claim. On disk and on a memory disk alike.
    #[test]
    fn the_key_covers_every_input_of_the_verdict() {
        let memory = vfs_faults::MemDisk::new();
        // A file outside the state's directory is not part of it.
        memory.put("/elsewhere/dest.db", b"other");
        for b in [
            Backend::Disk(tempfile::tempdir().unwrap()),
            Backend::Memory(memory),
        ] {
            let d = DestinationChoice::ExistingDelete;
            let ok = Some(&Claim::Success);
            b.write("source.db", &[7u8; 8192]);
            b.write("dest.db", &[9u8; 4096]);
            let base = b.key(d, ok);
            assert_eq!(base, b.key(d, ok), "stable");

            let mut changed = vec![7u8; 8192];
            changed[8191] = 8;
            b.write("source.db", &changed);
            assert_ne!(base, b.key(d, ok), "last byte of the source");
            b.write("source.db", &[7u8; 8192]);
            assert_eq!(base, b.key(d, ok));

            b.write("dest.db", &[9u8; 4097]);
            assert_ne!(base, b.key(d, ok), "length of the dest");
            b.write("dest.db", &[9u8; 4096]);

            b.write("dest.db-journal", b"");
            assert_ne!(base, b.key(d, ok), "an empty journal");
            b.remove("dest.db-journal");
            assert_eq!(base, b.key(d, ok));

            b.rename("dest.db", "dest.db-wal");
            assert_ne!(base, b.key(d, ok), "a file's name");
            b.rename("dest.db-wal", "dest.db");
            assert_eq!(base, b.key(d, ok));

            assert_ne!(
                base,
                b.key(DestinationChoice::Fresh, ok),
                "the destination kind"
            );
            assert_ne!(base, b.key(d, None), "no claim");
            let err = Claim::Error {
                message: "x".into(),
            };
            assert_ne!(base, b.key(d, Some(&err)), "another claim");
            let err2 = Claim::Error {
                message: "y".into(),
            };
            assert_ne!(b.key(d, Some(&err)), b.key(d, Some(&err2)), "its text");
        }
    }

    #[test]
    fn a_hit_serves_the_recorded_verdict_and_check_mode_catches_a_different_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateFiles::Dir(tmp.path());
        let d = DestinationChoice::ExistingDelete;
        std::fs::write(tmp.path().join("dest.db"), b"abc").unwrap();
        let mut c = VerdictCache::new(CacheMode::Use);
        let ok = verdict(VerdictKind::Untouched, "first");
        assert_eq!(c.verdict(dir, d, None, || Ok(ok.clone())).unwrap(), ok);
        let served = c
            .verdict(dir, d, None, || panic!("a hit must not verify"))
            .unwrap();
        assert_eq!((served, c.hits, c.misses), (ok.clone(), 1, 1));
        assert!((c.hit_rate() - 0.5).abs() < 1e-9);
        // Another state is verified.
        std::fs::write(tmp.path().join("dest.db"), b"abd").unwrap();
        let other = verdict(VerdictKind::Corrupt, "second");
        assert_eq!(
            c.verdict(dir, d, None, || Ok(other.clone())).unwrap(),
            other
        );
        assert_eq!((c.hits, c.misses), (1, 2));

        let mut check = VerdictCache::new(CacheMode::Check);
        check.verdict(dir, d, None, || Ok(ok.clone())).unwrap();
        assert_eq!(check.verdict(dir, d, None, || Ok(ok.clone())).unwrap(), ok);
        let e = check
            .verdict(dir, d, None, || Ok(other.clone()))
            .unwrap_err();
        assert!(e.to_string().contains("another verdict"), "{e}");

        let mut off = VerdictCache::new(CacheMode::Off);
        off.verdict(dir, d, None, || Ok(ok.clone())).unwrap();
        assert_eq!(
            off.verdict(dir, d, None, || Ok(other.clone())).unwrap(),
            other
        );
        assert_eq!((off.hits, off.misses), (0, 2));
    }
}
