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
use super::ExploreError;
use crate::event::Claim;
use crate::fault::{DEST_ROLE, SOURCE_ROLE};
use crate::oracle::{self, Observation, SourceCheck, Verdict, Window};
use crate::scenario::DestinationChoice;
use crate::strategy::{self, StrategyContext, StrategyParams};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use vfs_faults::{FaultPlan, FaultVfs, Options, RuleHits, TraceEntry};

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

/// One fault VFS and one scratch directory, reused across states.
pub struct Runner {
    vfs: FaultVfs,
    scratch: tempfile::TempDir,
    pub source: PathBuf,
    pub dest: PathBuf,
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
        let source = dir.join("source.db");
        let dest = dir.join("dest.db");
        assign_roles(&vfs, &source, &dest);
        Ok(Runner {
            vfs,
            scratch,
            source,
            dest,
            last: Timing::default(),
        })
    }

    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Copies the reference into the scratch dir.
    pub fn materialize(&mut self, r: &Reference, d: DestinationChoice) -> Result<(), ExploreError> {
        let t = Instant::now();
        r.materialize(self.scratch.path(), d)?;
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
        self.vfs.set_plan(plan);
        self.vfs.clear_trace();
        self.vfs.set_trace(trace);
        let mut sink = |_| {};
        let name = self.vfs.name().to_string();
        let mut ctx = StrategyContext {
            source: &self.source,
            dest: &self.dest,
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
            self.vfs.power_cut_now_with(
                vfs_faults::PowerCutMode::InProcess,
                vfs_faults::Unsynced::Revert,
                metadata,
            );
        }
        let out = RunOutcome {
            claim,
            rule_hits: self.vfs.rule_hits(),
            trace: if trace { self.vfs.trace() } else { Vec::new() },
            trace_hash: self.vfs.trace_hash(),
        };
        self.vfs.set_trace(false);
        self.vfs.clear_trace();
        // Back to an unarmed VFS: no dead files, no counting rules.
        self.vfs.set_plan(FaultPlan::default());
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
        self.vfs.set_power_tracking(true);
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
        self.vfs.set_power_tracking(false);
        self.vfs.set_plan(FaultPlan::default());
        out
    }

    /// The oracle on the scratch files (default VFS, nothing armed).
    pub fn verify(
        &mut self,
        r: &mut Reference,
        d: DestinationChoice,
        claim: Option<Claim>,
    ) -> Result<Verdict, ExploreError> {
        let t = Instant::now();
        let dir = self
            .source
            .parent()
            .unwrap_or(self.scratch.path())
            .to_path_buf();
        let v = verify_state(&dir, &self.source, &self.dest, r, d, claim)?;
        self.last.verify_ms = t.elapsed().as_secs_f64() * 1e3;
        Ok(v)
    }
}

/// The verdict on the state in `dir` (which holds `source` and `dest`): from the reference's
/// verdict cache when this exact state was judged before, else [`verify_files`].
pub fn verify_state(
    dir: &Path,
    source: &Path,
    dest: &Path,
    r: &mut Reference,
    d: DestinationChoice,
    claim: Option<Claim>,
) -> Result<Verdict, ExploreError> {
    let mut cache = std::mem::take(&mut r.verdicts);
    let v = cache.verdict(dir, d, claim.as_ref(), || {
        verify_files(source, dest, r, d, claim.clone())
    });
    r.verdicts = cache;
    v
}

/// The verdict on `source` and `dest` after a run from the reference (no writers: the window
/// is `[0, 0]`). A source whose bytes still equal the template's is `S(0)`, undamaged; any
/// other source goes through the full source check.
pub fn verify_files(
    source: &Path,
    dest: &Path,
    r: &mut Reference,
    d: DestinationChoice,
    claim: Option<Claim>,
) -> Result<Verdict, ExploreError> {
    let oracle_err = |e: oracle::OracleError| ExploreError::Oracle(e.to_string());
    let pre = r.pre_image(d)?.clone();
    let wal = crate::strategy::common::sidecar(source, "-wal");
    let unchanged = !std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0)
        && std::fs::read(source).is_ok_and(|b| b == r.source_bytes);
    let src = if unchanged {
        SourceCheck { k: 0, damage: None }
    } else {
        oracle::check_source(source, &mut r.model, 0).map_err(oracle_err)?
    };
    let state = oracle::inspect_destination(dest, &pre, &mut r.model).map_err(oracle_err)?;
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
