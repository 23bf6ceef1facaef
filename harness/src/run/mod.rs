//! The supervisor: runs a scenario's iterations, each in a private temp dir with its own
//! worker processes, and collects what the oracle says about each.
//!
//! * [`child`]: spawning, reading and killing worker processes.
//! * [`worker`]: the child side (`harness worker ...`).
//! * [`iteration`]: one iteration, from setup to verdict.
//! * [`load`]: the writers, the checkpointer and the blocker beside the backup.
//! * [`killer`] and [`watchdog`]: when to SIGKILL the backup worker; [`stall`]: what a
//!   stalled one was waiting for.
//! * [`recovery`]: the next backup onto the same destination.

pub mod absorbed;
pub mod child;
pub mod iteration;
pub mod killer;
pub mod load;
pub mod plan;
pub mod recovery;
pub mod scratch;
pub mod stall;
pub mod watchdog;
pub mod worker;

pub use iteration::IterationResult;
pub use scratch::scratch_dir;

use crate::process::{Interrupt, StopSignal};
use crate::scenario::Scenario;
use crate::workload::{self, Model, WorkloadSpec};
use plan::plan_iteration;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("interrupted")]
    Interrupted,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("setup: {0}")]
    Setup(String),
    #[error("oracle: {0}")]
    Oracle(String),
    /// The machine cannot run the scenario (a full disk, writers that cannot commit): the
    /// run stops with exit 2 instead of reporting it as strategy results.
    #[error("environment: {0}")]
    Environment(String),
}

impl RunError {
    pub fn io(what: String, source: std::io::Error) -> RunError {
        RunError::Io { what, source }
    }
}

/// State shared by the iterations of one run.
pub struct RunContext {
    pub scenario: Scenario,
    /// How replay IDs name the scenario (its name, or the path it was loaded from).
    pub scenario_id: String,
    pub spec: WorkloadSpec,
    pub model: Model,
    /// Keeps the base source alive.
    _base_dir: tempfile::TempDir,
    /// The source in state S(0), copied into each iteration.
    pub base_source: PathBuf,
    interrupted: Interrupt,
}

impl RunContext {
    pub fn new(
        scenario: Scenario,
        scenario_id: String,
        interrupted: Interrupt,
    ) -> Result<RunContext, RunError> {
        let spec = scenario.workload_spec();
        let base_dir = temp_dir()?;
        let base_source = base_dir.path().join("base.db");
        // Ctrl-C, SIGTERM and SIGHUP stop a large setup too.
        let stop = || interrupted.is_set();
        let stopped = |e: String| {
            if interrupted.is_set() {
                RunError::Interrupted
            } else {
                RunError::Setup(e)
            }
        };
        // First from the size asked for (before minutes of building), then from the file.
        let planned = u64::from(spec.initial_pages) * u64::from(spec.page_size);
        if let Some(e) = too_small(
            base_dir.path(),
            scratch::free_bytes(base_dir.path()),
            planned,
        ) {
            return Err(e);
        }
        workload::setup::create_source_until(&base_source, &spec, &stop)
            .map_err(|e| stopped(format!("creating the source: {e}")))?;
        check_free_space(base_dir.path(), &base_source)?;
        let model = Model::new_until(&spec, &stop).map_err(|e| stopped(format!("model: {e}")))?;
        Ok(RunContext {
            scenario,
            scenario_id,
            spec,
            model,
            _base_dir: base_dir,
            base_source,
            interrupted,
        })
    }

    /// A fresh private directory for one iteration, removed when dropped.
    pub fn iteration_dir(&self) -> Result<tempfile::TempDir, RunError> {
        temp_dir()
    }

    pub fn check_interrupt(&self) -> Result<(), RunError> {
        if self.interrupted.is_set() {
            Err(RunError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// The signal that asked the run to stop (after [`RunError::Interrupted`]).
    pub fn stop_signal(&self) -> StopSignal {
        self.interrupted.signal().unwrap_or(StopSignal::Int)
    }

    pub fn model_advance(&mut self, k: u64) -> Result<(), RunError> {
        self.model
            .digest_at(k)
            .map(|_| ())
            .map_err(|e| RunError::Oracle(format!("model replay to {k}: {e}")))
    }
}

/// Refuses a run whose scratch file system cannot hold an iteration: a source copy, the
/// destination, their journals and WALs (4 × the source) plus 64 MiB for the writers' growth.
/// A full disk would otherwise show up as strategy errors and writers with 0 commits/s.
fn check_free_space(dir: &std::path::Path, source: &std::path::Path) -> Result<(), RunError> {
    let size = std::fs::metadata(source).map(|m| m.len()).unwrap_or(0);
    too_small(dir, scratch::free_bytes(dir), size).map_or(Ok(()), Err)
}

/// The refusal for `free` bytes where an iteration on a `size`-byte source runs, if too few.
fn too_small(dir: &std::path::Path, free: Option<u64>, size: u64) -> Option<RunError> {
    let need = 4 * size + (64 << 20);
    match free {
        Some(free) if free < need => Some(RunError::Environment(format!(
            "{}: {} MiB free, an iteration of this scenario needs about {} MiB (4 × the {} MiB \
             source + 64 MiB): point HARNESS_TMPDIR at a larger file system",
            dir.parent().unwrap_or(dir).display(),
            free >> 20,
            need >> 20,
            size >> 20
        ))),
        _ => None,
    }
}

/// A run's temp dir (see [`scratch_dir`] for where, how it is named and cleaned up).
fn temp_dir() -> Result<tempfile::TempDir, RunError> {
    scratch_dir("run-").map_err(|e| RunError::io("creating a temp dir".into(), e))
}

/// Everything a run found (the report's input).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub scenario: Scenario,
    pub duration_s: f64,
    pub sqlite_version: String,
    /// Commits per second of the writers with no backup running (measured at the start).
    pub standalone_commits_per_s: f64,
    pub results: Vec<IterationResult>,
    /// The signal that stopped the run before it was done.
    pub interrupted: Option<StopSignal>,
    /// Set when the run stopped on an error; the results so far are still reported.
    pub error: Option<String>,
}

impl RunResult {
    /// Commits acknowledged while backups ran, over the time backups ran.
    pub fn commits_per_s(&self) -> f64 {
        let commits: u64 = self.results.iter().map(|r| r.commits_during_backup).sum();
        let ms: u64 = self.results.iter().map(|r| r.backup_ms).sum();
        if ms == 0 {
            0.0
        } else {
            commits as f64 * 1000.0 / ms as f64
        }
    }
    /// Total commits acknowledged on the sources while backups ran.
    pub fn source_commits(&self) -> u64 {
        self.results.iter().map(|r| r.commits_during_backup).sum()
    }
}

/// Which iterations to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this strategy.
    pub strategy: Option<String>,
    /// Only this iteration.
    pub iteration: Option<u32>,
}

/// Runs the scenario's iterations (interleaving strategies), calling `on_result` after each.
pub fn run_scenario(
    ctx: &mut RunContext,
    selection: &Selection,
    measure_standalone: bool,
    mut on_result: impl FnMut(&IterationResult),
) -> RunResult {
    let started = Instant::now();
    let scenario = ctx.scenario.clone();
    let mut results = Vec::new();
    let mut error = None;
    let mut interrupted = None;
    let standalone = if measure_standalone {
        match standalone_rate(ctx, Duration::from_millis(1000)) {
            Ok(r) => r,
            Err(RunError::Interrupted) => {
                interrupted = Some(ctx.stop_signal());
                0.0
            }
            Err(e) => {
                error = Some(e.to_string());
                0.0
            }
        }
    } else {
        0.0
    };
    let iterations: Vec<u32> = match selection.iteration {
        Some(i) => vec![i],
        None => (0..scenario.iterations).collect(),
    };
    'outer: for &i in &iterations {
        if interrupted.is_some() || error.is_some() {
            break;
        }
        for entry in &scenario.strategies {
            if selection
                .strategy
                .as_deref()
                .is_some_and(|s| s != entry.id())
            {
                continue;
            }
            let plan = plan_iteration(&scenario, entry, i);
            // A panic in an iteration (a harness bug) still ends in a written report: its
            // children and temp dir are dropped while unwinding, and the run stops with an error.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                iteration::run_iteration(ctx, entry, &plan)
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                Err(RunError::Setup(format!("harness panic: {what}")))
            });
            match outcome {
                Ok(r) => {
                    on_result(&r);
                    results.push(r);
                }
                Err(RunError::Interrupted) => {
                    interrupted = Some(ctx.stop_signal());
                    break 'outer;
                }
                Err(e) => {
                    error = Some(format!(
                        "{} iteration {i} (seed {}): {e}",
                        entry.id(),
                        scenario.seed
                    ));
                    break 'outer;
                }
            }
        }
    }
    RunResult {
        scenario,
        duration_s: started.elapsed().as_secs_f64(),
        sqlite_version: rusqlite::version().to_string(),
        standalone_commits_per_s: standalone,
        results,
        interrupted,
        error,
    }
}

/// The writers' commit rate on a private copy of the source with no backup running.
fn standalone_rate(ctx: &RunContext, window: Duration) -> Result<f64, RunError> {
    if ctx.scenario.workload.writers == 0 {
        return Ok(0.0);
    }
    let dir = ctx.iteration_dir()?;
    let src = dir.path().join("source.db");
    std::fs::copy(&ctx.base_source, &src)
        .map_err(|e| RunError::io("copying the source".into(), e))?;
    if ctx.scenario.app.workers > 0 {
        workload::create_app_tables(&src)
            .map_err(|e| RunError::Setup(format!("app tables on the source: {e}")))?;
    }
    let (tx, rx) = mpsc::channel();
    let mut children = load::spawn_source_load(
        ctx,
        ctx.scenario.workload.writers,
        &ctx.scenario.checkpointer,
        ctx.scenario.app.order,
        ctx.scenario.seed,
        &src,
        dir.path(),
        &tx,
    )?;
    drop(tx);
    // Skip process start-up: count from the first acknowledged commit.
    let mut first: Option<Instant> = None;
    let mut count = 0u64;
    let deadline = Instant::now() + window + Duration::from_secs(5);
    while Instant::now() < deadline {
        ctx.check_interrupt()?;
        if let Ok(child::Message::Event(_, crate::event::Event::Commit { .. })) =
            rx.recv_timeout(Duration::from_millis(10))
        {
            let t0 = *first.get_or_insert_with(Instant::now);
            count += 1;
            if t0.elapsed() >= window {
                break;
            }
        }
    }
    if count == 0 {
        // Writers that cannot commit at all (a full disk, a read-only file system) make every
        // verdict meaningless: refuse the run.
        let why = load::stopped_on_their_own(&mut children, dir.path())
            .unwrap_or_else(|| "no error from them".into());
        return Err(RunError::Environment(format!(
            "the writers made no commit in {} s ({why})",
            (window + Duration::from_secs(5)).as_secs()
        )));
    }
    drop(children);
    let secs = first.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
    Ok(if secs > 0.0 { count as f64 / secs } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_system_without_room_for_an_iteration_is_refused() {
        let dir = std::path::Path::new("/scratch/run-1");
        let source = 8 << 20;
        let e = too_small(dir, Some(90 << 20), source).expect("96 MiB needed");
        assert_eq!(
            e.to_string(),
            "environment: /scratch: 90 MiB free, an iteration of this scenario needs about 96 \
             MiB (4 × the 8 MiB source + 64 MiB): point HARNESS_TMPDIR at a larger file system"
        );
        assert!(too_small(dir, Some(96 << 20), source).is_none());
        assert!(
            too_small(dir, None, source).is_none(),
            "unknown: not refused"
        );
    }
}
