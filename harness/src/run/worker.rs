//! The child side of the supervisor: what `harness worker ...` runs.
//!
//! Writers and the checkpointer apply the workload to the source; the backup worker arms its
//! fault VFS from [`vfs_faults::PLAN_ENV`], runs one strategy and reports its claim. All of them
//! print [`Event`]s as JSON lines on stdout.

use crate::event::{Claim, Event, SOURCE_VFS_ENV, VFS_NAME};
use crate::fault::{Fault, FaultAction, Placement, DEST_ROLE, SOURCE_ROLE};
use crate::process::die_with_parent;
use crate::strategy::{self, StrategyContext, StrategyParams};
use crate::workload::CheckpointMode;
use crate::workload::{self, WorkloadSpec};
use anyhow::{anyhow, Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use vfs_faults::{FaultPlan, FaultVfs, Options, PowerCutMode, PLAN_ENV};

/// Set to a file path, the backup worker writes its VFS trace there when its fault fires.
pub const TRACE_ENV: &str = "HARNESS_DUMP_TRACE";

/// Events this process emitted (VFS samples not counted), and the count after which it
/// SIGKILLs itself (0: never): a planned kill after the n-th event.
static EVENTS: AtomicU64 = AtomicU64::new(0);
static KILL_AFTER_EVENT: AtomicU64 = AtomicU64::new(0);

/// Prints one event line and flushes, so the supervisor sees it before any kill. With a kill
/// after event n planned, the n-th event (VFS samples not counted, as the supervisor counts)
/// is followed by a `fired` line and SIGKILL, right here: the strategy gets no further.
pub fn emit(ev: Event) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", ev.to_line());
    let _ = out.flush();
    if matches!(ev, Event::Vfs { .. }) {
        return;
    }
    let n = EVENTS.fetch_add(1, Ordering::SeqCst) + 1;
    if n == KILL_AFTER_EVENT.load(Ordering::SeqCst) {
        let fired = Event::Fired {
            what: format!("SIGKILL after event #{n}"),
        };
        let _ = writeln!(out, "{}", fired.to_line());
        let _ = out.flush();
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

pub fn writer(
    source: &Path,
    spec: &WorkloadSpec,
    id: u32,
    rate: f64,
    autocheckpoint: Option<u32>,
) -> Result<()> {
    die_with_parent();
    let rate = (rate > 0.0).then_some(rate);
    workload::run_writer_with(source, spec, id, rate, None, autocheckpoint, &mut emit)
        .with_context(|| format!("writer {id} on {}", source.display()))
}

/// `worker app`: pipeline worker `id` of the scenario's app, until killed.
pub fn app(
    db: &Path,
    id: u32,
    order: workload::AppOrder,
    pace: workload::app::AppPace,
    seed: u64,
) -> Result<()> {
    die_with_parent();
    workload::run_app(db, id, order, pace, seed)
        .with_context(|| format!("app worker {id} on {}", db.display()))
}

/// `worker blocker`: takes `what` on `db` and holds it until killed.
pub fn blocker(db: &Path, what: workload::Blocker) -> Result<()> {
    die_with_parent();
    workload::run_blocker(db, what, &mut emit)
        .with_context(|| format!("blocker {} on {}", what.as_str(), db.display()))
}

pub fn checkpointer(source: &Path, interval_ms: u64, modes: &[CheckpointMode]) -> Result<()> {
    die_with_parent();
    workload::run_checkpointer(source, interval_ms, modes, &mut emit)
        .with_context(|| format!("checkpointer on {}", source.display()))
}

/// `worker exec-tool -- PROG ARGS...`: sets the parent-death signal, checks that the parent
/// (the backup worker, which hands over its pid) is still there, then replaces this process
/// with PROG. The death signal survives `execve`, so the tool dies with the worker however
/// the worker dies. With [`crate::strategy::external::TOOL_PRELOAD_ENV`] set, PROG gets that
/// library in `LD_PRELOAD` (the fault VFS's shim). Returns only when PROG cannot be executed.
pub fn exec_tool(argv: &[std::ffi::OsString]) -> Result<()> {
    use std::os::unix::process::CommandExt;
    die_with_parent();
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| anyhow!("exec-tool: no program given"))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).env_remove(crate::process::PARENT_PID_ENV);
    // The fault VFS's shim, for the tool only (this process is the harness, with its own
    // SQLite): first in LD_PRELOAD, before whatever the environment preloads already.
    let preload = crate::strategy::external::TOOL_PRELOAD_ENV;
    if let Some(shim) = std::env::var_os(preload).filter(|s| !s.is_empty()) {
        let mut list = shim;
        if let Some(rest) = std::env::var_os("LD_PRELOAD").filter(|s| !s.is_empty()) {
            list.push(" ");
            list.push(rest);
        }
        cmd.env("LD_PRELOAD", list).env_remove(preload);
    }
    let err = cmd.exec();
    Err(anyhow!(
        "exec-tool: cannot execute `{}`: {err}",
        program.to_string_lossy()
    ))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    Ok(dir.join(
        p.file_name()
            .ok_or_else(|| anyhow!("{} has no file name", p.display()))?,
    ))
}

fn read_source_seq(source: &Path) -> Result<u64> {
    let conn = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", source.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(workload::read_seq(&conn)?)
}

/// Runs one strategy from source to destination with the VFS plan from the environment (or
/// an empty one seeded with `seed`) and the iteration's planned `fault`: a VFS rule, an abort
/// before a step, a SIGKILL right after the n-th event (see [`emit`]), or a power cut after
/// the claim (a kill after a delay is the supervisor's). With `monitor_ms`, the VFS's last
/// operation is sampled for stall reports. Without `seq_events` the source's `meta.seq` is not
/// read and no `start` / `end` event is sent (crash exploration: no writers, and a worker that
/// dies at an operation should spend its life on the backup).
#[allow(clippy::too_many_arguments)]
pub fn backup(
    strategy_name: &str,
    source: &Path,
    dest: &Path,
    spec: &WorkloadSpec,
    params: &StrategyParams,
    fault: Option<&Fault>,
    seed: u64,
    monitor_ms: Option<u64>,
    seq_events: bool,
) -> Result<()> {
    die_with_parent();
    let strategy = strategy::by_name(strategy_name)
        .ok_or_else(|| anyhow!("unknown strategy `{strategy_name}`"))?;
    // A plan from the environment (crash exploration) brings its own seed; otherwise the
    // iteration's seed drives the VFS's generator (power-cut outcomes differ per iteration).
    let mut plan = FaultPlan::from_env(PLAN_ENV)
        .with_context(|| format!("reading {PLAN_ENV}"))?
        .unwrap_or(FaultPlan {
            seed,
            rules: Vec::new(),
        });
    if let Some(f) = fault {
        if let Some(op_fault) = f.op_fault(PowerCutMode::Exit) {
            plan.rules.push(op_fault.rule(f.label()));
        }
    }
    let after_claim = fault.and_then(|f| match (&f.action, &f.placement) {
        (FaultAction::PowerCut { unsynced, metadata }, Placement::AfterClaim) => {
            Some((*unsynced, *metadata))
        }
        _ => None,
    });
    if let Some(n) = fault.and_then(|f| match (&f.action, &f.placement) {
        (FaultAction::Kill { .. }, Placement::AfterEvent { n }) => Some(*n),
        _ => None,
    }) {
        KILL_AFTER_EVENT.store(n, Ordering::SeqCst);
    }
    let abort_before_step = fault.and_then(|f| match (&f.action, &f.placement) {
        (FaultAction::Abort, Placement::BeforeStep { n }) => Some(*n),
        _ => None,
    });
    let vfs = FaultVfs::register_with(
        VFS_NAME,
        Options {
            plan,
            // A power cut after the claim needs to know what was never made durable.
            track_power: after_claim.is_some(),
            ..Options::default()
        },
    )
    .context("registering the fault VFS")?;
    let source = absolute(source)?;
    let dest = absolute(dest)?;
    vfs.set_role(&dest.to_string_lossy(), DEST_ROLE);
    vfs.set_role(&source.to_string_lossy(), SOURCE_ROLE);
    // Crash exploration asks for it; strategies whose source faults are planned read it so.
    let source_through_vfs = strategy::facts(strategy_name).is_some_and(|f| f.source_through_vfs);
    let source_vfs =
        (std::env::var_os(SOURCE_VFS_ENV).is_some() || source_through_vfs).then_some(VFS_NAME);
    if source_vfs.is_some() {
        let tmp = crate::strategy::common::sidecar(&dest, ".tmp");
        vfs.set_role(&tmp.to_string_lossy(), DEST_ROLE);
    }
    vfs.on_marker(|name| {
        emit(Event::Marker {
            name: name.to_string(),
        })
    });
    // HARNESS_DUMP_TRACE=FILE: trace every operation and write the trace when the fault fires
    // (before a kill or a power cut ends the process).
    let dump = std::env::var_os(TRACE_ENV).map(PathBuf::from);
    vfs.set_trace(dump.is_some());
    let traced = vfs.clone();
    vfs.on_fire(move |f| {
        if let Some(path) = &dump {
            let _ = std::fs::write(path, traced.trace_jsonl());
        }
        emit(Event::Fired {
            what: format!(
                "{} (op {} on {}, occurrence {})",
                f.name.as_deref().unwrap_or("rule"),
                crate::fault::action::kebab(&f.op),
                crate::fault::action::kebab(&f.file),
                f.occurrence
            ),
        })
    });

    // --monitor-ms: sample what the VFS saw last, so a stall can say what the worker was
    // doing (the thread ends with the process).
    if let Some(ms) = monitor_ms.filter(|&ms| ms > 0) {
        let watched = vfs.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            if let (Some((op, file)), ops) = watched.last_op() {
                emit(Event::Vfs {
                    last_op: format!(
                        "{} {}",
                        crate::fault::action::kebab(&op),
                        crate::fault::action::kebab(&file)
                    ),
                    ops,
                });
            }
        });
    }

    if seq_events {
        let k_start = read_source_seq(&source)?;
        emit(Event::Start { k_start });
    }
    let mut sink = emit;
    let mut ctx = StrategyContext {
        source: &source,
        dest: &dest,
        source_vfs,
        dest_vfs: Some(VFS_NAME),
        params,
        workload: spec,
        abort_before_step,
        link_fault: fault.and_then(Fault::link_fault),
        emit: &mut sink,
    };
    let claim = strategy.run(&mut ctx);
    emit(Event::Claim {
        claim: claim.clone(),
    });
    if seq_events {
        let k_end = read_source_seq(&source)?;
        emit(Event::End { k_end });
    }
    if let Some((unsynced, metadata)) = after_claim {
        // The claim is recorded; now everything that was not made durable is at the mercy of
        // the power-cut model. The process ends here.
        emit(Event::Fired {
            what: "power cut after the claim".into(),
        });
        vfs.power_cut_now_with(PowerCutMode::Exit, unsynced, metadata);
    }
    emit(Event::Faults {
        rule_hits: vfs.rule_hits(),
        trace_hash: None,
    });
    if let Claim::Error { message } = &claim {
        tracing::debug!(strategy = strategy_name, %message, "strategy claimed error");
    }
    Ok(())
}
