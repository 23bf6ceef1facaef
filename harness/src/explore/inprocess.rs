//! Running one strategy in this process through one registered fault VFS, on a scratch copy of
//! the reference, and verifying the files it leaves.
//!
//! Why its own module: this is the fast path. I/O errors, `SQLITE_FULL`, BUSY, torn writes and
//! the in-process power cut need no dead process, so no child is spawned: the plan is swapped
//! on one VFS instance registered once ([`FaultVfs::set_plan`] resets its counters and dead
//! files), the scratch directory and its paths are reused, and the oracle compares the
//! destination with the precomputed `D0` and `S(0)`. The fault-free run with tracing on is the
//! trace the crash points are enumerated from.

use super::reference::{ram_dir, Reference};
use super::state_files::{EntryRef, StateFiles};
use super::ExploreError;
use crate::event::Claim;
use crate::fault::{DEST_ROLE, SOURCE_ROLE};
use crate::oracle::{self, Observation, SourceCheck, Verdict, Window};
use crate::scenario::DestinationChoice;
use crate::strategy::{self, StrategyContext, StrategyParams};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use vfs_faults::{FaultPlan, FaultVfs, MemDisk, Options, RuleHits, TraceEntry};

/// What one in-process run of a strategy gave.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub claim: Claim,
    pub rule_hits: Vec<RuleHits>,
    /// The trace (when tracing was on).
    pub trace: Vec<TraceEntry>,
    pub trace_hash: u64,
}

impl RunOutcome {
    /// Whether the plan's rules fired at least once.
    pub fn fired(&self) -> bool {
        self.rule_hits.iter().any(|h| h.fired > 0)
    }
}

/// Time spent per phase of the last state (for `bench crash-rate`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub materialize_ms: f64,
    pub run_ms: f64,
    pub verify_ms: f64,
}

/// Where the runner's crash states live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lane {
    /// Real files in a scratch directory (on `/dev/shm` when there is one), through the fault
    /// VFS over the platform's VFS.
    #[default]
    Disk,
    /// Files of a [`MemDisk`], through the fault VFS over the disk's storage VFS: no system
    /// call per operation, no page-cache allocation per journal. Chosen per strategy and
    /// destination only after its fault-free run gave the same trace, claim and files as on
    /// disk (`Explorer::trace` in `explore::sweep`).
    Memory,
}

/// Whether in-process states may run on the memory lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LanePolicy {
    /// The memory lane for each strategy × destination whose fault-free run there is the same
    /// as on disk ([`Explorer::trace`]), the disk otherwise.
    #[default]
    Auto,
    /// Every state on real files.
    Disk,
}

/// The memory lane: a memory disk, its storage VFS, and a fault VFS over it.
struct MemoryLane {
    disk: Arc<MemDisk>,
    /// The storage VFS: the oracle opens the files through it, nothing armed.
    plain: String,
    vfs: FaultVfs,
    root: PathBuf,
}

impl Drop for MemoryLane {
    fn drop(&mut self) {
        // The fault VFS stays registered (a VFS cannot be taken back while SQLite may hold
        // it); the bytes go.
        self.disk.clear();
        let _ = vfs_faults::retire_storage(&self.plain);
    }
}

/// One fault VFS and one scratch directory, reused across states (and, once asked for, the
/// same in memory).
pub struct Runner {
    vfs: FaultVfs,
    scratch: tempfile::TempDir,
    /// The disk lane's directory (canonical).
    disk_root: PathBuf,
    memory: Option<MemoryLane>,
    lane: Lane,
    pub last: Timing,
}

static INSTANCE: AtomicU64 = AtomicU64::new(0);

/// Roles a strategy's files get: the source, the destination, and copy-locked's temp copy.
pub fn assign_roles(vfs: &FaultVfs, source: &Path, dest: &Path) {
    vfs.set_role(&dest.to_string_lossy(), DEST_ROLE);
    let tmp = crate::strategy::common::sidecar(dest, ".tmp");
    vfs.set_role(&tmp.to_string_lossy(), DEST_ROLE);
    vfs.set_role(&source.to_string_lossy(), SOURCE_ROLE);
}

impl Runner {
    pub fn new() -> Result<Runner, ExploreError> {
        let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let name = format!("harness-explore-{}-{n}", std::process::id());
        let vfs = FaultVfs::register_with(&name, Options::default())
            .map_err(|e| ExploreError::Setup(e.to_string()))?;
        let scratch = ram_dir("explore-")?;
        let dir = scratch
            .path()
            .canonicalize()
            .map_err(|e| ExploreError::Setup(format!("resolving the scratch dir: {e}")))?;
        assign_roles(&vfs, &dir.join("source.db"), &dir.join("dest.db"));
        Ok(Runner {
            vfs,
            scratch,
            disk_root: dir,
            memory: None,
            lane: Lane::Disk,
            last: Timing::default(),
        })
    }

    /// The lane the next states run on.
    pub fn lane(&self) -> Lane {
        self.lane
    }

    /// Runs the next states on `lane` (the memory lane is set up the first time).
    pub fn set_lane(&mut self, lane: Lane) -> Result<(), ExploreError> {
        if lane == Lane::Memory && self.memory.is_none() {
            let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
            let tag = format!("{}-{n}", std::process::id());
            let disk = MemDisk::new();
            let plain = format!("harness-mem-{tag}");
            vfs_faults::register_storage(&plain, disk.clone()).map_err(ExploreError::Setup)?;
            let vfs = FaultVfs::register_with(
                &format!("harness-explore-mem-{tag}"),
                Options {
                    base: Some(plain.clone()),
                    disk: Some(disk.clone()),
                    ..Options::default()
                },
            )
            .map_err(|e| ExploreError::Setup(e.to_string()))?;
            let root = PathBuf::from(format!("/harness-memory-{tag}"));
            assign_roles(&vfs, &root.join("source.db"), &root.join("dest.db"));
            self.memory = Some(MemoryLane {
                disk,
                plain,
                vfs,
                root,
            });
        }
        self.lane = lane;
        Ok(())
    }

    fn current_vfs(&self) -> &FaultVfs {
        match (&self.memory, self.lane) {
            (Some(m), Lane::Memory) => &m.vfs,
            _ => &self.vfs,
        }
    }

    /// The name of the current lane's fault VFS (a strategy may name it in a message).
    pub fn vfs_name(&self) -> String {
        self.current_vfs().name().to_string()
    }

    /// The files of the current lane.
    pub fn files(&self) -> StateFiles<'_> {
        match (&self.memory, self.lane) {
            (Some(m), Lane::Memory) => StateFiles::Memory {
                disk: &m.disk,
                root: &m.root,
                vfs: &m.plain,
            },
            _ => StateFiles::Dir(&self.disk_root),
        }
    }

    /// The source's path on the current lane.
    pub fn source(&self) -> PathBuf {
        self.files().root().join("source.db")
    }

    /// The destination's path on the current lane.
    pub fn dest(&self) -> PathBuf {
        self.files().root().join("dest.db")
    }

    /// The current lane's files after a run: each name with its length, and a hash of the
    /// bytes of every database file (`*.db`; a journal's or WAL's header holds a random nonce or
    /// salt that differs from run to run).
    pub fn file_summary(&self) -> Result<Vec<(String, u64, Option<u64>)>, ExploreError> {
        let files = self.files();
        let mut out: Vec<(String, u64, Option<u64>)> = Vec::new();
        let mut known = Vec::new();
        files
            .for_each_entry(files.root(), &mut Vec::new(), &mut |name, e| {
                match e {
                    EntryRef::File(bytes) => {
                        let hash = name
                            .ends_with(".db")
                            .then(|| xxhash_rust::xxh3::xxh3_64(bytes));
                        out.push((name.to_string(), bytes.len() as u64, hash));
                    }
                    // Untouched since the template was copied: summed below, as one written.
                    EntryRef::Known(_) => known.push(out.len()),
                    _ => {}
                }
                if !matches!(e, EntryRef::File(_)) {
                    out.push((name.to_string(), 0, None));
                }
                Ok(())
            })
            .map_err(ExploreError::Setup)?;
        for i in known {
            let bytes = files
                .read(&files.root().join(&out[i].0))
                .unwrap_or_default();
            out[i].1 = bytes.len() as u64;
            out[i].2 = Some(xxhash_rust::xxh3::xxh3_64(&bytes));
        }
        Ok(out)
    }

    /// Copies the reference into the current lane's scratch.
    pub fn materialize(&mut self, r: &Reference, d: DestinationChoice) -> Result<(), ExploreError> {
        let t = Instant::now();
        match (&self.memory, self.lane) {
            (Some(m), Lane::Memory) => r.materialize_in_memory(&m.disk, &m.root, d)?,
            _ => r.materialize(self.scratch.path(), d)?,
        }
        self.last.materialize_ms = t.elapsed().as_secs_f64() * 1e3;
        Ok(())
    }

    /// Runs `strategy` on the materialized files with `plan`, tracing if asked.
    pub fn run(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        r: &Reference,
        plan: FaultPlan,
        trace: bool,
    ) -> Result<RunOutcome, ExploreError> {
        self.run_inner(strategy, params, r, plan, trace, None)
    }

    fn run_inner(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        r: &Reference,
        plan: FaultPlan,
        trace: bool,
        cut_after: Option<vfs_faults::MetadataOrder>,
    ) -> Result<RunOutcome, ExploreError> {
        let s = strategy::by_name(strategy)
            .ok_or_else(|| ExploreError::Setup(format!("unknown strategy `{strategy}`")))?;
        let t = Instant::now();
        let (source, dest) = (self.source(), self.dest());
        let vfs = self.current_vfs().clone();
        vfs.set_plan(plan);
        vfs.clear_trace();
        vfs.set_trace(trace);
        let mut sink = |_| {};
        let name = vfs.name().to_string();
        let mut ctx = StrategyContext {
            source: &source,
            dest: &dest,
            source_vfs: Some(&name),
            dest_vfs: Some(&name),
            params,
            workload: &r.spec,
            abort_before_step: None,
            link_fault: None,
            emit: &mut sink,
        };
        let claim = s.run(&mut ctx);
        if let Some(metadata) = cut_after {
            vfs.power_cut_now_with(
                vfs_faults::PowerCutMode::InProcess,
                vfs_faults::Unsynced::Revert,
                metadata,
            );
        }
        let out = RunOutcome {
            claim,
            rule_hits: vfs.rule_hits(),
            trace: if trace { vfs.trace() } else { Vec::new() },
            trace_hash: vfs.trace_hash(),
        };
        vfs.set_trace(false);
        vfs.clear_trace();
        // Back to an unarmed VFS: no dead files, no counting rules.
        vfs.set_plan(FaultPlan::default());
        self.last.run_ms = t.elapsed().as_secs_f64() * 1e3;
        Ok(out)
    }

    /// Runs `strategy` with no fault, then cuts the power right after its claim, undoing
    /// everything that was not made durable (the worst case without garbage, the same every
    /// time: one point per trace must decide).
    pub fn run_then_cut(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        r: &Reference,
        seed: u64,
        metadata: vfs_faults::MetadataOrder,
    ) -> Result<RunOutcome, ExploreError> {
        let vfs = self.current_vfs().clone();
        vfs.set_power_tracking(true);
        let out = self.run_inner(
            strategy,
            params,
            r,
            FaultPlan {
                seed,
                rules: Vec::new(),
            },
            false,
            Some(metadata),
        );
        vfs.set_power_tracking(false);
        vfs.set_plan(FaultPlan::default());
        out
    }

    /// The oracle on the current lane's files (nothing armed).
    pub fn verify(
        &mut self,
        r: &mut Reference,
        d: DestinationChoice,
        claim: Option<Claim>,
    ) -> Result<Verdict, ExploreError> {
        let t = Instant::now();
        let (source, dest) = (self.source(), self.dest());
        let v = verify_state(self.files(), &source, &dest, r, d, claim)?;
        self.last.verify_ms = t.elapsed().as_secs_f64() * 1e3;
        Ok(v)
    }
}

/// The verdict on the state in `files` (which holds `source` and `dest`): from the
/// reference's verdict cache when this exact state was judged before, else [`verify_files`].
pub fn verify_state(
    files: StateFiles<'_>,
    source: &Path,
    dest: &Path,
    r: &mut Reference,
    d: DestinationChoice,
    claim: Option<Claim>,
) -> Result<Verdict, ExploreError> {
    let mut cache = std::mem::take(&mut r.verdicts);
    let v = cache.verdict(files, d, claim.as_ref(), || {
        verify_files(files, source, dest, r, d, claim.clone())
    });
    r.verdicts = cache;
    v
}

/// The verdict on `source` and `dest` after a run from the reference (no writers: the window
/// is `[0, 0]`). A source whose bytes still equal the template's is `S(0)`, undamaged; any
/// other source goes through the full source check.
pub fn verify_files(
    files: StateFiles<'_>,
    source: &Path,
    dest: &Path,
    r: &mut Reference,
    d: DestinationChoice,
    claim: Option<Claim>,
) -> Result<Verdict, ExploreError> {
    let oracle_err = |e: oracle::OracleError| ExploreError::Oracle(e.to_string());
    let pre = r.pre_image(d)?.clone();
    let wal = crate::strategy::common::sidecar(source, "-wal");
    let unchanged = files.len(&wal).is_none_or(|n| n == 0)
        && files.holds(source, &r.source_bytes, r.source_tag);
    let vfs = files.vfs();
    let src = if unchanged {
        SourceCheck { k: 0, damage: None }
    } else {
        oracle::check_source_via(source, vfs, files.exists(source), &mut r.model, 0)
            .map_err(oracle_err)?
    };
    let state = oracle::inspect_destination_via(dest, vfs, files.exists(dest), &pre, &mut r.model)
        .map_err(oracle_err)?;
    let obs = Observation {
        claim,
        window: Window {
            k_start: 0,
            k_end: 0,
        },
        stall: None,
    };
    Ok(oracle::classify(&state, &obs, &src))
}
