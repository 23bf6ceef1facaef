//! Kill points: the backup worker process dies by SIGKILL from its own VFS before or after the
//! chosen operation; the supervisor then runs the oracle on what it left.
//!
//! Why its own module: process death is the one fault that needs a child (the existing
//! `worker backup` subcommand, armed through [`vfs_faults::PLAN_ENV`], with the source routed
//! through the VFS as in the in-process trace). A few children run at once, each in its own
//! scratch directory.

use super::inprocess::verify_state;
use super::reference::{ram_dir, Reference};
use super::state_files::StateFiles;
use super::ExploreError;
use crate::event::SOURCE_VFS_ENV;
use crate::event::{Claim, Event};
use crate::oracle::Verdict;
use crate::run::child::{describe_status, Child, Message, Tag};
use crate::scenario::DestinationChoice;
use crate::strategy::StrategyParams;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vfs_faults::{FaultPlan, MemDisk};

/// What a kill state gave.
#[derive(Debug, Clone)]
pub struct KillOutcome {
    /// The worker died by SIGKILL before claiming anything.
    pub hit: bool,
    pub claim: Option<Claim>,
    pub exit: String,
    pub verdict: Verdict,
}

struct Slot {
    _dir: tempfile::TempDir,
    files: PathBuf,
    stderr: PathBuf,
}

/// Scratch directories for concurrent backup workers.
pub struct KillPool {
    slots: Vec<Slot>,
    parallel: usize,
    /// How long a worker may run before it is killed as stalled.
    pub timeout: Duration,
    /// Where a dead worker's files are judged: copied to a memory disk (`Some`), or in place.
    pub judge_in_memory: Option<MemoryJudge>,
    /// Per slot: its source was last read and found to hold the template's bytes.
    source_is_template: Vec<bool>,
}

/// A memory disk and its storage VFS, for judging a kill state's files: the worker's files are
/// read once, and the oracle's open, recovery, integrity check and digest run without a system
/// call per page. The files are copied byte for byte under their own paths (the memory disk is
/// a namespace of its own); a state with anything but regular files is judged in place.
pub struct MemoryJudge {
    disk: Arc<MemDisk>,
    vfs: String,
}

impl MemoryJudge {
    pub fn new() -> Result<MemoryJudge, ExploreError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let disk = MemDisk::new();
        let vfs = format!("harness-kill-judge-{tag}");
        vfs_faults::register_storage(&vfs, disk.clone()).map_err(ExploreError::Setup)?;
        Ok(MemoryJudge { disk, vfs })
    }

    /// Copies the regular files of `dir` to the memory disk under the same paths (a journal may
    /// name its super-journal by its absolute path), the source under the template's tag when
    /// it still holds the template's bytes; `None` when `dir` holds anything else, else whether
    /// the source still holds the template's bytes.
    fn load(&self, dir: &Path, r: &Reference) -> Result<Option<bool>, ExploreError> {
        let err =
            |e: std::io::Error| ExploreError::Setup(format!("reading {}: {e}", dir.display()));
        self.disk.remove_under_except("", &[]);
        let mut clean_source = false;
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            if !entry.file_type().map_err(err)?.is_file() {
                return Ok(None);
            }
            let bytes = std::fs::read(entry.path()).map_err(err)?;
            let name = entry.file_name();
            let path = dir.join(&name).to_string_lossy().into_owned();
            if name == "source.db" && bytes == r.source_bytes {
                clean_source = true;
                self.disk.put_known(&path, &bytes, r.source_tag);
            } else {
                self.disk.put(&path, &bytes);
            }
        }
        Ok(Some(clean_source))
    }
}

impl Drop for MemoryJudge {
    fn drop(&mut self) {
        self.disk.clear();
        let _ = vfs_faults::retire_storage(&self.vfs);
    }
}

/// A worker in flight: which plan it runs, in which slot, what it said so far.
struct Running {
    child: Child,
    plan: usize,
    slot: usize,
    claim: Option<Claim>,
    started: Instant,
}

impl KillPool {
    /// `parallel` workers at once, with one scratch directory more than that: a worker for the
    /// next state starts in a free directory while the supervisor judges the files the last
    /// one left in its own.
    pub fn new(parallel: usize) -> Result<KillPool, ExploreError> {
        let parallel = parallel.max(1);
        let mut slots = Vec::new();
        for _ in 0..parallel + 1 {
            let dir = ram_dir("kill-")?;
            let root = dir
                .path()
                .canonicalize()
                .map_err(|e| ExploreError::Setup(format!("resolving a temp dir: {e}")))?;
            let files = root.join("s");
            std::fs::create_dir(&files)
                .map_err(|e| ExploreError::Setup(format!("creating {}: {e}", files.display())))?;
            slots.push(Slot {
                _dir: dir,
                stderr: root.join("backup.stderr"),
                files,
            });
        }
        Ok(KillPool {
            slots,
            parallel,
            timeout: Duration::from_secs(20),
            judge_in_memory: Some(MemoryJudge::new()?),
            source_is_template: vec![false; parallel + 1],
        })
    }

    /// Workers at once.
    pub fn parallel(&self) -> usize {
        self.parallel
    }

    /// Runs every plan in its own worker, [`KillPool::parallel`] at a time, and verifies each
    /// state as its worker ends; outcomes in the order of `plans`. A worker for the next plan
    /// is started before the state of one that ended is judged, so the workers keep running
    /// while the supervisor verifies.
    pub fn run_batch(
        &mut self,
        r: &mut Reference,
        d: DestinationChoice,
        strategy: &str,
        params: &StrategyParams,
        plans: &[FaultPlan],
    ) -> Result<Vec<KillOutcome>, ExploreError> {
        let spec = serde_json::to_string(&r.spec).expect("spec serializes");
        let params_json = serde_json::to_string(params).expect("params serialize");
        let (tx, rx) = mpsc::channel::<(usize, Message)>();
        let mut out: Vec<Option<KillOutcome>> = (0..plans.len()).map(|_| None).collect();
        let mut running: Vec<Running> = Vec::new();
        let mut free: Vec<usize> = (0..self.slots.len()).rev().collect();
        let mut next = 0usize;
        // Starts workers while there is room: the slot's files first, then the process.
        let fill = |r: &Reference,
                    free: &mut Vec<usize>,
                    running: &mut Vec<Running>,
                    next: &mut usize,
                    source_is_template: &mut [bool]|
         -> Result<(), ExploreError> {
            while running.len() < self.parallel && *next < plans.len() {
                let slot = free.pop().expect("one more slot than workers");
                let s = &self.slots[slot];
                r.materialize_keeping(&s.files, d, source_is_template[slot])?;
                // Until judged again, nothing is known of this slot's source.
                source_is_template[slot] = false;
                let args = vec![
                    "backup".to_string(),
                    "--strategy".into(),
                    strategy.to_string(),
                    "--source".into(),
                    s.files.join("source.db").display().to_string(),
                    "--dest".into(),
                    s.files.join("dest.db").display().to_string(),
                    "--spec".into(),
                    spec.clone(),
                    "--params".into(),
                    params_json.clone(),
                    // No writers: the source's meta.seq is 0 before and after.
                    "--no-seq".into(),
                ];
                let env = vec![
                    (
                        vfs_faults::PLAN_ENV.to_string(),
                        plans[*next].to_env_value(),
                    ),
                    (SOURCE_VFS_ENV.to_string(), "1".to_string()),
                ];
                let tx = tx.clone();
                let child = Child::spawn_to(Tag::Backup, &args, &env, &s.stderr, move |m| {
                    tx.send((slot, m)).is_ok()
                })
                .map_err(|e| ExploreError::Setup(format!("spawning a backup worker: {e}")))?;
                running.push(Running {
                    child,
                    plan: *next,
                    slot,
                    claim: None,
                    started: Instant::now(),
                });
                *next += 1;
            }
            Ok(())
        };
        fill(
            r,
            &mut free,
            &mut running,
            &mut next,
            &mut self.source_is_template,
        )?;
        while !running.is_empty() {
            let closed = match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((slot, Message::Event(_, Event::Claim { claim }))) => {
                    if let Some(w) = running.iter_mut().find(|w| w.slot == slot) {
                        w.claim = Some(claim);
                    }
                    None
                }
                Ok((slot, Message::Closed(_))) => Some(slot),
                Ok(_) | Err(_) => None,
            };
            if let Some(w) = running
                .iter_mut()
                .find(|w| w.started.elapsed() > self.timeout)
            {
                w.child.kill();
                return Err(ExploreError::Setup(format!(
                    "{strategy}: backup worker did not finish in {:?} (stderr: {})",
                    self.timeout,
                    self.slots[w.slot].stderr.display()
                )));
            }
            let Some(i) = closed.and_then(|slot| running.iter().position(|w| w.slot == slot))
            else {
                continue;
            };
            let mut w = running.swap_remove(i);
            let status = w.child.wait();
            let exit = describe_status(status);
            let power_cut = format!("exit {}", vfs_faults::POWER_CUT_EXIT_CODE);
            let hit = w.claim.is_none() && (exit == "signal 9" || exit == power_cut);
            let files = self.slots[w.slot].files.clone();
            if w.claim.is_none() && !hit {
                let err = std::fs::read_to_string(&self.slots[w.slot].stderr).unwrap_or_default();
                return Err(ExploreError::Setup(format!(
                    "{strategy}: backup worker ended with {exit} and no claim: {}",
                    err.trim()
                )));
            }
            fill(
                r,
                &mut free,
                &mut running,
                &mut next,
                &mut self.source_is_template,
            )?;
            let loaded = match &self.judge_in_memory {
                Some(m) => m.load(&files, r)?,
                None => None,
            };
            // Read and found equal to the template: the next worker in this slot starts from
            // it without the source being written again.
            self.source_is_template[w.slot] = loaded == Some(true);
            let verdict = match (&self.judge_in_memory, loaded) {
                (Some(m), Some(_)) => verify_state(
                    StateFiles::Memory {
                        disk: &m.disk,
                        root: &files,
                        vfs: &m.vfs,
                    },
                    &files.join("source.db"),
                    &files.join("dest.db"),
                    r,
                    d,
                    w.claim.clone(),
                )?,
                _ => verify_state(
                    StateFiles::Dir(&files),
                    &files.join("source.db"),
                    &files.join("dest.db"),
                    r,
                    d,
                    w.claim.clone(),
                )?,
            };
            out[w.plan] = Some(KillOutcome {
                hit,
                claim: w.claim.take(),
                exit,
                verdict,
            });
            free.push(w.slot);
        }
        Ok(out
            .into_iter()
            .map(|o| o.expect("every plan ran"))
            .collect())
    }
}
