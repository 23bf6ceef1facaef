//! The reference workload of crash exploration: one small source and its destinations, built
//! once as template files, with the oracle's digests computed once.
//!
//! Why its own module: exploration runs thousands of crash states on the same inputs. Building
//! the source (`S(0)`), the destinations and their pre-images once, on a RAM-backed directory,
//! and copying the templates into a reused scratch directory per state is what makes a verified
//! crash state cost milliseconds. Nothing here depends on a fault.

use super::verdict_cache::VerdictCache;
use super::ExploreError;
use crate::oracle::{self, PreImage};
use crate::process::Interrupt;
use crate::scenario::DestinationChoice;
use crate::workload::{self, Model, WorkloadSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vfs_faults::MemDisk;

/// The source, destination templates and the oracle's precomputed digests.
pub struct Reference {
    pub spec: WorkloadSpec,
    /// The source in state `S(0)` (WAL mode, no `-wal`).
    pub source: PathBuf,
    /// Its bytes: a source that still has them after a run is `S(0)`, undamaged.
    pub source_bytes: Vec<u8>,
    /// Their 128-bit hash: the tag of the source copied to a memory disk.
    pub source_tag: u128,
    /// Destination templates (absent for `fresh`) and their pre-images `D0`.
    pub dests: BTreeMap<DestinationChoice, (Option<PathBuf>, PreImage)>,
    /// The destination templates' bytes (absent for `fresh`) and their 128-bit hash.
    dest_bytes: BTreeMap<DestinationChoice, (Vec<u8>, u128)>,
    /// Verdicts on the states run from this reference, by content.
    pub verdicts: VerdictCache,
    /// `S(k)` digests (no writers: only `S(0)` is ever needed).
    pub model: Model,
    _dir: tempfile::TempDir,
}

/// A temp dir on `$HARNESS_TMPDIR`, else `/dev/shm` when present, else the system temp dir,
/// named after its owner (the same policy as the supervisor's iteration dirs:
/// [`crate::run::scratch_dir`]).
pub fn ram_dir(purpose: &str) -> Result<tempfile::TempDir, ExploreError> {
    crate::run::scratch_dir(purpose)
        .map_err(|e| ExploreError::Setup(format!("creating a temp dir: {e}")))
}

impl Reference {
    /// Builds the templates for `spec` and the destination kinds `dests`. A stop signal
    /// (`interrupted`) ends the building of a large source or model at once:
    /// [`ExploreError::Interrupted`].
    pub fn build(
        spec: &WorkloadSpec,
        dests: &[DestinationChoice],
        interrupted: &Interrupt,
    ) -> Result<Reference, ExploreError> {
        let stop = || interrupted.is_set();
        let stopped = |what: &str, e: String| {
            if interrupted.is_set() {
                ExploreError::Interrupted
            } else {
                ExploreError::Setup(format!("{what}: {e}"))
            }
        };
        let dir = ram_dir("reference-")?;
        let source = dir.path().join("source.db");
        workload::setup::create_source_until(&source, spec, &stop)
            .map_err(|e| stopped("reference source", e.to_string()))?;
        let source_bytes = std::fs::read(&source)
            .map_err(|e| ExploreError::Setup(format!("reading {}: {e}", source.display())))?;
        let model = Model::new_until(spec, &stop).map_err(|e| stopped("model", e.to_string()))?;
        let mut map = BTreeMap::new();
        let mut dest_bytes = BTreeMap::new();
        for &d in dests {
            let path = dir.path().join(format!("dest-{}.db", d.as_str()));
            let (content, journal) = d.preset();
            let setup = workload::DestinationSetup::preset(content, journal, spec.page_size);
            workload::create_destination(&path, &setup, spec.seed, &workload::SqlLimit::none())
                .map_err(|e| ExploreError::Setup(format!("destination {}: {e}", d.as_str())))?;
            let pre = oracle::take_pre_image(&path)
                .map_err(|e| ExploreError::Setup(format!("pre-image {}: {e}", d.as_str())))?;
            let template = path.exists().then_some(path);
            if let Some(t) = &template {
                let bytes = std::fs::read(t)
                    .map_err(|e| ExploreError::Setup(format!("reading {}: {e}", t.display())))?;
                let tag = xxhash_rust::xxh3::xxh3_128(&bytes);
                dest_bytes.insert(d, (bytes, tag));
            }
            map.insert(d, (template, pre));
        }
        Ok(Reference {
            spec: spec.clone(),
            source,
            source_tag: xxhash_rust::xxh3::xxh3_128(&source_bytes),
            source_bytes,
            dests: map,
            dest_bytes,
            verdicts: VerdictCache::default(),
            model,
            _dir: dir,
        })
    }

    /// The pre-image of destination `d`.
    pub fn pre_image(&self, d: DestinationChoice) -> Result<&PreImage, ExploreError> {
        self.dests
            .get(&d)
            .map(|(_, p)| p)
            .ok_or_else(|| ExploreError::Setup(format!("destination {} not built", d.as_str())))
    }

    /// Makes `scratch` hold exactly the source and destination `d` as `source.db` and
    /// `dest.db`: every other entry is removed, and the two files are overwritten in place
    /// with the templates' bytes and cut to their length (rewriting pages the file system
    /// already has is several times cheaper than a new file; the bytes are the same).
    pub fn materialize(&self, scratch: &Path, d: DestinationChoice) -> Result<(), ExploreError> {
        self.materialize_keeping(scratch, d, false)
    }

    /// [`Reference::materialize`]; with `source_is_template` (the caller read `source.db` and
    /// found the template's bytes) the source is not written again.
    pub fn materialize_keeping(
        &self,
        scratch: &Path,
        d: DestinationChoice,
        source_is_template: bool,
    ) -> Result<(), ExploreError> {
        if !self.dests.contains_key(&d) {
            return Err(ExploreError::Setup(format!(
                "destination {} not built",
                d.as_str()
            )));
        }
        let dest = self.dest_bytes.get(&d);
        let entries = std::fs::read_dir(scratch)
            .map_err(|e| ExploreError::Setup(format!("listing {}: {e}", scratch.display())))?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            let keep = is_file && (name == "source.db" || (name == "dest.db" && dest.is_some()));
            if keep {
                continue;
            }
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            removed.map_err(|e| ExploreError::Setup(format!("removing {}: {e}", p.display())))?;
        }
        if !source_is_template {
            overwrite(&scratch.join("source.db"), &self.source_bytes)?;
        }
        if let Some((bytes, _)) = dest {
            overwrite(&scratch.join("dest.db"), bytes)?;
        }
        Ok(())
    }
}

impl Reference {
    /// [`Reference::materialize`] on a memory disk: `root/source.db` and `root/dest.db` hold
    /// the templates' bytes, and nothing else is left under `root`.
    pub fn materialize_in_memory(
        &self,
        disk: &MemDisk,
        root: &Path,
        d: DestinationChoice,
    ) -> Result<(), ExploreError> {
        if !self.dests.contains_key(&d) {
            return Err(ExploreError::Setup(format!(
                "destination {} not built",
                d.as_str()
            )));
        }
        let source = root.join("source.db").to_string_lossy().into_owned();
        let dest = root.join("dest.db").to_string_lossy().into_owned();
        let bytes = self.dest_bytes.get(&d);
        let keep: &[&str] = if bytes.is_some() {
            &[&source, &dest]
        } else {
            &[&source]
        };
        disk.remove_under_except(&format!("{}/", root.to_string_lossy()), keep);
        // Tagged with their hash: a file the run leaves untouched is neither copied again nor
        // hashed by the verdict cache.
        disk.put_known(&source, &self.source_bytes, self.source_tag);
        if let Some((b, tag)) = bytes {
            disk.put_known(&dest, b, *tag);
        }
        Ok(())
    }
}

/// `path` holds exactly `bytes` afterwards (created when missing).
fn overwrite(path: &Path, bytes: &[u8]) -> Result<(), ExploreError> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .and_then(|f| {
            f.write_all_at(bytes, 0)?;
            f.set_len(bytes.len() as u64)?;
            Ok(f)
        });
    f.map(drop)
        .map_err(|e| ExploreError::Setup(format!("writing {}: {e}", path.display())))
}
