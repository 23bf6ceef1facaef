//! One iteration: a private temp dir, a source under a storm of writers, one backup worker with
//! one planned fault, the killer and the watchdog, then the oracle on the files left behind.

use super::child::{describe_status, tail, Child, Message, Tag};
use super::killer::Killer;
use super::load::{read_seq, spawn_source_load, start_blocker};
use super::plan::{replay_id, IterationPlan};
use super::recovery::Recovery;
use super::stall::{self, StallReport};
use super::watchdog::Watchdog;
use super::{RunContext, RunError};
use crate::event::{Claim, Event};
use crate::fault::{Fault, FaultKind, Placement};
use crate::oracle::{self, FileFacts, Observation, SourceCheck, Verdict, Window};
use crate::scenario::{DestinationChoice, StrategyEntry};
use crate::workload::{self, DestinationSetup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Checkpoints of one mode while the backup ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointCount {
    pub ran: u64,
    /// Returned BUSY (could not finish: a reader or writer held it back) or an error.
    pub busy: u64,
}

/// Where an iteration saw `sqlite3_backup_remaining() == 0` from a step that did not return
/// `SQLITE_DONE`: the window in which "nothing remains" is not "done".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemainingZero {
    /// The step's number and result code.
    pub step: u64,
    pub rc: i32,
    /// Whether pages had been copied (`pagecount > 0`): after the last page, in the final
    /// commit; or before the first successful step (`remaining` and `pagecount` still 0).
    pub copied: bool,
}

/// A supervisor kill's delay from the backup worker's start: planned, and when the SIGKILL
/// was really sent (`None`: the worker had ended first). Under load the supervisor's loop
/// runs late, and a kill meant for 5 ms may land at 60.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillDelay {
    pub planned_ms: u64,
    pub actual_ms: Option<u64>,
}

/// Everything one iteration found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IterationResult {
    /// The entry's id (its label, else the strategy name).
    pub strategy: String,
    /// The strategy the entry runs.
    pub strategy_name: String,
    pub iteration: u32,
    pub replay: String,
    pub destination: DestinationChoice,
    /// The destination as set up (preset plus the scenario's destination keys).
    pub dest: DestinationSetup,
    /// The destination file before the backup (after the pre-image) and after recovery.
    pub dest_before: Option<FileFacts>,
    pub dest_after: Option<FileFacts>,
    /// For an untouched destination: whether its bytes are the pre-image's too.
    #[serde(default)]
    pub untouched_bytes: Option<bool>,
    /// The planned fault kind and fault (`None`: the iteration ran to completion).
    pub kind: Option<FaultKind>,
    pub fault: Option<Fault>,
    /// Whether the planned fault actually happened (before the claim, or for
    /// `power-cut-after-claim` right after it).
    pub fault_hit: bool,
    /// A hit that changed nothing: the fault returned an error SQLite ignored, and the
    /// strategy claimed success with a snapshot ([`super::absorbed`]).
    #[serde(default)]
    pub absorbed: bool,
    /// A supervisor kill (`kill-delay`): its planned delay and when it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_delay: Option<KillDelay>,
    /// What fired, as the worker or the supervisor reported it.
    pub fired: Vec<String>,
    /// Whether a replay places the fault at the same point (see [`Fault::deterministic`]).
    pub deterministic: bool,
    pub claim: Option<Claim>,
    pub window: Window,
    pub verdict: Verdict,
    pub source: SourceCheck,
    /// How the backup worker ended ("exit 0", "signal 9").
    pub exit: String,
    pub steps: u64,
    pub restarts: u64,
    pub backup_ms: u64,
    /// Commits acknowledged while the backup ran.
    pub commits_during_backup: u64,
    /// Checkpoints by mode while the backup ran.
    #[serde(default)]
    pub checkpoints: BTreeMap<String, CheckpointCount>,
    /// The first step that saw `remaining() == 0` without `SQLITE_DONE`, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_zero: Option<RemainingZero>,
    /// The last steps of the progress stream (with their `done` flags), kept when a step saw
    /// `remaining() == 0` without `SQLITE_DONE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_steps: Vec<Event>,
    pub last_event: Option<Event>,
    /// Why the watchdog stopped the backup, and what it was waiting for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<StallReport>,
    /// The next backup onto the same destination (entries with `recover = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
    /// What a network backup shipped (stream strategies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<crate::stream::StreamStats>,
    /// Why the fault VFS never saw the destination (a preloaded tool that does not open it
    /// through the system libsqlite3): the entry is untested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreached: Option<String>,
}

/// Runs iteration `plan` of `entry`. `Err(Interrupted)` on Ctrl-C.
pub fn run_iteration(
    ctx: &mut RunContext,
    entry: &StrategyEntry,
    plan: &IterationPlan,
) -> Result<IterationResult, RunError> {
    let scenario = ctx.scenario.clone();
    let dir = ctx.iteration_dir()?;
    let src = dir.path().join("source.db");
    let dst = dir.path().join("dest.db");
    std::fs::copy(&ctx.base_source, &src)
        .map_err(|e| RunError::io(format!("copying the source to {}", src.display()), e))?;
    // `{source}` in setup_sql names the source in state S(0) (to ATTACH and copy from it).
    let mut dest_setup = plan.dest.clone();
    let quoted = ctx.base_source.display().to_string().replace('\'', "''");
    for sql in &mut dest_setup.setup_sql {
        *sql = sql.replace("{source}", &quoted);
    }
    // The scenario's own SQL (setup_sql, invariants) stops at its deadline or a stop signal.
    let flag = ctx.interrupted.clone();
    let stop = move || flag.is_set();
    let limit = workload::SqlLimit {
        timeout: std::time::Duration::from_millis(scenario.sql_timeout_ms),
        stop: &stop,
    };
    let limited = |e: workload::LimitError| match e {
        workload::LimitError::Stopped { .. } => RunError::Interrupted,
        e => RunError::Setup(e.to_string()),
    };
    workload::create_destination(&dst, &dest_setup, plan.seed, &limit).map_err(|e| match e {
        workload::WorkloadError::Limit(e) => limited(e),
        e => RunError::Setup(format!("destination {}: {e}", dst.display())),
    })?;
    let pre = oracle::take_pre_image_ignoring(&dst, &ctx.spec.ignore_tables)
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let dest_before = oracle::file_facts(&dst);
    let bytes_before = file_hash(&dst);

    let (tx, rx) = mpsc::channel::<Message>();
    let checkpointer = entry
        .checkpointer
        .clone()
        .unwrap_or_else(|| scenario.checkpointer.clone());
    let app_order = entry.app_order.unwrap_or(scenario.app.order);
    if scenario.app.workers > 0 {
        crate::workload::create_app_tables(&src)
            .map_err(|e| RunError::Setup(format!("app tables on the source: {e}")))?;
    }
    let writers = entry.writers.unwrap_or(scenario.workload.writers);
    let mut helpers = spawn_source_load(
        ctx,
        writers,
        &checkpointer,
        app_order,
        plan.seed,
        &src,
        dir.path(),
        &tx,
    )?;

    // Warm up: let the writers commit before the backup starts.
    let mut max_acked = 0u64;
    let mut acked_total = 0u64;
    let warm_deadline = Instant::now() + Duration::from_secs(5);
    while acked_total < scenario.workload.warmup_commits
        && writers > 0
        && Instant::now() < warm_deadline
    {
        ctx.check_interrupt()?;
        if let Ok(Message::Event(_, Event::Commit { k, .. })) =
            rx.recv_timeout(Duration::from_millis(20))
        {
            max_acked = max_acked.max(k);
            acked_total += 1;
        }
    }
    if let Some(what) = entry.blocker {
        let db = if what.on_destination() { &dst } else { &src };
        helpers.push(start_blocker(
            ctx,
            what,
            db,
            dir.path(),
            &tx,
            &rx,
            &mut max_acked,
        )?);
    }
    // An unreadable source is the oracle's business (source-damaged), not a harness error.
    let k_before = read_seq(&src).unwrap_or(max_acked);

    let mut args = backup_args(ctx, entry, &src, &dst, plan.seed);
    // Sample the worker's VFS: a stall can then say what it was last doing.
    args.extend(["--monitor-ms".to_string(), MONITOR_MS.to_string()]);
    // Faults the worker carries out itself: VFS rules, an abort, a power cut after the claim.
    let worker_fault = plan.fault.as_ref().filter(|f| !f.by_supervisor());
    if let Some(f) = worker_fault {
        args.push("--fault".into());
        args.push(serde_json::to_string(f).expect("fault serializes"));
    }
    let started = Instant::now();
    let mut backup = Child::spawn(
        Tag::Backup,
        &args,
        &[],
        &dir.path().join("backup.stderr"),
        tx.clone(),
    )
    .map_err(|e| RunError::io("spawning the backup worker".into(), e))?;
    drop(tx);

    let mut killer = Killer::new(plan.fault.as_ref(), started);
    let mut watchdog = Watchdog::new(
        started,
        Duration::from_millis(scenario.watchdog_ms),
        Duration::from_millis(scenario.budget_ms),
    );
    let mut seen = BackupSeen::default();
    let mut commits_during_backup = 0u64;
    let mut checkpoints: BTreeMap<String, CheckpointCount> = BTreeMap::new();
    let mut closed = false;
    let mut stall: Option<StallReport> = None;
    // Whether the kill landed before the strategy claimed anything: a kill after the claim
    // interrupted nothing and does not count as a hit.
    let mut killed_before_claim = false;
    let mut killed_at_ms = None;
    loop {
        ctx.check_interrupt()?;
        // Wake up in time for a planned kill, not up to one poll later.
        let wait = killer.due_in(Instant::now()).map_or(POLL, |d| d.min(POLL));
        match rx.recv_timeout(wait) {
            // A sample of the worker's VFS: not progress, not an event a kill counts.
            Ok(Message::Event(Tag::Backup, Event::Vfs { last_op, ops })) => {
                seen.vfs = Some((last_op, ops));
            }
            Ok(Message::Event(Tag::Backup, ev)) => {
                seen.at_ms = started.elapsed().as_millis() as u64;
                watchdog.progress(&ev);
                // api-same-conn commits from the backup worker itself.
                if let Event::Commit { k, .. } = ev {
                    max_acked = max_acked.max(k);
                    commits_during_backup += 1;
                }
                seen.record(ev);
            }
            Ok(Message::Event(_, Event::Commit { k, .. })) => {
                max_acked = max_acked.max(k);
                commits_during_backup += 1;
            }
            Ok(Message::Event(_, Event::Checkpoint { mode, rc, .. })) => {
                let c = checkpoints.entry(mode.to_lowercase()).or_default();
                c.ran += 1;
                c.busy += u64::from(rc != 0);
            }
            Ok(Message::Event(..)) => {}
            Ok(Message::Closed(Tag::Backup)) => closed = true,
            Ok(Message::Closed(_)) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => closed = true,
        }
        if closed && backup.try_status().is_some() {
            break;
        }
        if killer.on_time(Instant::now()) && backup.kill() {
            killed_at_ms = Some(started.elapsed().as_millis() as u64);
            killed_before_claim = seen.claim.is_none();
            if killed_before_claim {
                seen.fired.push(format!(
                    "SIGKILL after {} ms",
                    started.elapsed().as_millis()
                ));
            }
        }
        // Once the strategy has claimed, what is left (reading k_end) is not the backup.
        if stall.is_none() && seen.claim.is_none() {
            if let Some(why) = watchdog.check(Instant::now(), seen.last.as_ref()) {
                // What it waits for, read while everyone still holds what they hold.
                let report = diagnose(why, started, &seen, &backup, &helpers, dir.path());
                if backup.kill() {
                    stall = Some(report);
                }
            }
        }
    }
    let status = backup.wait();
    let backup_ms = started.elapsed().as_millis() as u64;
    // Before anything opens the destination (a hot journal would be rolled back).
    let left = if entry.recover {
        Some(super::recovery::LeftBehind::save(&dst, dir.path())?)
    } else {
        None
    };
    let k_after = read_seq(&src).unwrap_or(max_acked);

    // A helper that stopped on its own could not go on (a full disk): that is the machine,
    // not the strategy, and the run stops.
    if let Some(why) = super::load::stopped_on_their_own(&mut helpers, dir.path()) {
        let free = super::scratch::free_bytes(dir.path())
            .map(|b| format!("; {} MiB free where it runs", b >> 20))
            .unwrap_or_default();
        return Err(RunError::Environment(format!("{why}{free}")));
    }
    // Stop the load, then collect what is still in flight.
    for h in helpers.iter_mut() {
        h.kill();
    }
    // Drain until every helper's stdout has closed, so no acknowledged commit is missed.
    let mut open_streams = helpers.len();
    drop(helpers);
    let drain_deadline = Instant::now() + Duration::from_secs(2);
    while open_streams > 0 && Instant::now() < drain_deadline {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Message::Event(_, Event::Commit { k, .. })) => max_acked = max_acked.max(k),
            Ok(Message::Closed(tag)) if tag != Tag::Backup => open_streams -= 1,
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }

    let exit = describe_status(status);
    let fault_hit = match plan.fault.as_ref() {
        None => false,
        Some(f) if f.by_supervisor() => killed_before_claim,
        // The worker says so just before it cuts the power; the cut ends it with its code.
        Some(Fault {
            placement: Placement::AfterClaim,
            ..
        }) => seen.fired_after_claim && exit == format!("exit {}", vfs_faults::POWER_CUT_EXIT_CODE),
        // A VFS rule fired, or the application aborted, before the strategy claimed.
        Some(_) => seen.fired_before_claim,
    };
    let window = Window {
        k_start: seen.k_start.unwrap_or(k_before),
        k_end: seen.k_end.unwrap_or(k_after),
    };
    ctx.model_advance(k_after.max(max_acked))?;
    let source = oracle::check_source(&src, &mut ctx.model, max_acked)
        .map_err(|e| RunError::Oracle(e.to_string()))?;
    let state = oracle::inspect_destination(&dst, &pre, &mut ctx.model)
        .map_err(|e| RunError::Oracle(e.to_string()))?;
    let dest_after = oracle::file_facts(&dst);
    let obs = Observation {
        claim: seen.claim.clone(),
        window,
        stall: stall.as_ref().map(StallReport::summary),
    };
    let mut verdict = oracle::classify(&state, &obs, &source);
    // An untouched destination is checked byte for byte too (after the recovery the next
    // open does): the logical digest ignores page layout, this does not. A pre-image that
    // already was `S(k)` is not untouched when it was judged that snapshot.
    let untouched_bytes = (verdict.k.is_none()
        && matches!(
            state,
            oracle::DestState::Untouched | oracle::DestState::UntouchedSnapshot { .. }
        ))
    .then(|| file_hash(&dst) == bytes_before);
    // The application's invariants, on the recovered source and on a snapshot destination:
    // a perfect snapshot of a state the application should never have committed is caught
    // only here.
    let invariants = &scenario.app.invariants;
    if !invariants.is_empty() && !verdict.kind.is_violation() {
        // As judged: a pre-image that already was `S(k)` is a snapshot after a success claim.
        let snapshot = verdict.k.is_some();
        let broken =
            oracle::invariants::judge(&src, &dst, snapshot, invariants, &limit).map_err(limited)?;
        if !broken.is_empty() {
            verdict.kind = oracle::VerdictKind::Invariant;
            verdict.detail = format!("{}; {}", broken.join("; "), verdict.detail);
        }
    }
    if verdict.kind.is_violation() || seen.claim.is_none() {
        let stderr = tail(&dir.path().join("backup.stderr"), 300);
        if !stderr.is_empty() {
            verdict.detail = format!("{}; worker stderr: {stderr}", verdict.detail);
        }
    }
    let absorbed = super::absorbed::absorbed(
        plan.kind,
        fault_hit,
        seen.error_after_fired,
        seen.claim.as_ref(),
        verdict.kind,
    );
    let kill_delay = match plan.fault.as_ref().map(|f| &f.placement) {
        Some(Placement::AfterDelay { ms }) => Some(KillDelay {
            planned_ms: *ms,
            actual_ms: killed_at_ms,
        }),
        _ => None,
    };
    let keep = std::env::var_os("HARNESS_KEEP_FAILED").is_some() && verdict.kind.is_violation();
    if keep && left.is_some() {
        // The recovery rewrites the destination: keep it as it was judged.
        super::recovery::copy_family(&dst, &dir.path().join("judged"))?;
    }
    let recovery = match &left {
        Some(left) => {
            let args = backup_args(ctx, entry, &src, &dst, plan.seed);
            Some(super::recovery::recover(
                ctx,
                &args,
                &src,
                &dst,
                dir.path(),
                &pre,
                left,
            )?)
        }
        None => None,
    };
    if keep {
        let kept = dir.keep();
        tracing::warn!("kept iteration files in {}", kept.display());
    }
    Ok(IterationResult {
        strategy: entry.id().to_string(),
        strategy_name: entry.name.clone(),
        iteration: plan.iteration,
        replay: replay_id(&ctx.scenario_id, scenario.seed, entry.id(), plan.iteration),
        destination: plan.destination,
        dest: plan.dest.clone(),
        dest_before,
        dest_after,
        untouched_bytes,
        kind: plan.kind,
        fault: plan.fault.clone(),
        fault_hit,
        absorbed,
        kill_delay,
        fired: seen.fired,
        deterministic: plan.deterministic(),
        claim: seen.claim,
        window,
        verdict,
        source,
        exit,
        steps: seen.steps,
        restarts: seen.restarts,
        backup_ms,
        commits_during_backup,
        checkpoints,
        last_steps: if seen.remaining_zero.is_some() {
            seen.last_steps.iter().cloned().collect()
        } else {
            Vec::new()
        },
        remaining_zero: seen.remaining_zero,
        last_event: seen.last,
        stall,
        recovery,
        stream: seen.stream,
        unreached: seen.unreached,
    })
}

/// How long the supervisor waits for an event before it looks at the killer and watchdog.
const POLL: Duration = Duration::from_millis(5);

/// How often the backup worker reports its VFS's last operation.
const MONITOR_MS: u64 = 100;

/// The arguments of a backup worker running `entry` from `src` to `dst` (no fault).
pub(super) fn backup_args(
    ctx: &RunContext,
    entry: &StrategyEntry,
    src: &Path,
    dst: &Path,
    seed: u64,
) -> Vec<String> {
    vec![
        "backup".to_string(),
        "--strategy".into(),
        entry.name.clone(),
        "--source".into(),
        src.display().to_string(),
        "--dest".into(),
        dst.display().to_string(),
        "--spec".into(),
        serde_json::to_string(&ctx.spec).expect("spec serializes"),
        "--params".into(),
        serde_json::to_string(&entry.params).expect("params serialize"),
        "--seed".into(),
        seed.to_string(),
    ]
}

/// What the supervisor learned from the backup worker's events.
#[derive(Default)]
struct BackupSeen {
    events: u64,
    k_start: Option<u64>,
    k_end: Option<u64>,
    claim: Option<Claim>,
    steps: u64,
    restarts: u64,
    /// What fired (worker `fired` events, supervisor kills).
    fired: Vec<String>,
    fired_before_claim: bool,
    fired_after_claim: bool,
    /// A step returned an error (not OK, not DONE) after something fired before the claim.
    error_after_fired: bool,
    remaining_zero: Option<RemainingZero>,
    last_steps: std::collections::VecDeque<Event>,
    last: Option<Event>,
    /// When the last event came (ms from the worker's start).
    at_ms: u64,
    /// The worker VFS's last operation and its count, as last sampled.
    vfs: Option<(String, u64)>,
    stream: Option<crate::stream::StreamStats>,
    unreached: Option<String>,
}

impl BackupSeen {
    fn record(&mut self, ev: Event) {
        self.events += 1;
        match &ev {
            Event::Start { k_start } => self.k_start = Some(*k_start),
            Event::End { k_end } => self.k_end = Some(*k_end),
            Event::Claim { claim } => self.claim = Some(claim.clone()),
            Event::Stream { stats } => self.stream = Some(stats.clone()),
            Event::Unreached { why } => self.unreached = Some(why.clone()),
            Event::Step {
                step,
                restarts,
                rc,
                remaining,
                pagecount,
                done,
            } => {
                self.steps = *step;
                self.restarts = *restarts;
                if self.fired_before_claim && super::absorbed::step_saw_an_error(*rc) {
                    self.error_after_fired = true;
                }
                if *remaining == 0 && !*done && self.remaining_zero.is_none() {
                    self.remaining_zero = Some(RemainingZero {
                        step: *step,
                        rc: *rc,
                        copied: *pagecount > 0,
                    });
                }
                if self.last_steps.len() == 6 {
                    self.last_steps.pop_front();
                }
                self.last_steps.push_back(ev.clone());
            }
            Event::Fired { what } => {
                self.fired.push(what.clone());
                if self.claim.is_none() {
                    self.fired_before_claim = true;
                } else {
                    self.fired_after_claim = true;
                }
            }
            _ => {}
        }
        if !matches!(ev, Event::Faults { .. }) {
            self.last = Some(ev);
        }
    }
}

/// The stall report for `why`, taken before the kill.
fn diagnose(
    why: String,
    started: Instant,
    seen: &BackupSeen,
    backup: &Child,
    helpers: &[Child],
    dir: &Path,
) -> StallReport {
    let mut procs = vec![(backup.pid(), "backup".to_string())];
    procs.extend(helpers.iter().map(|h| (h.pid(), h.tag().name())));
    let files: Vec<PathBuf> = ["source.db", "source.db-shm", "dest.db", "dest.db-shm"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    StallReport {
        reason: why,
        after_ms: started.elapsed().as_millis() as u64,
        last_progress: seen.last.clone(),
        last_progress_ms: seen.last.as_ref().map(|_| seen.at_ms),
        last_vfs_op: seen.vfs.as_ref().map(|(op, _)| op.clone()),
        vfs_ops: seen.vfs.as_ref().map(|(_, n)| *n),
        locks: stall::held_locks(&procs, &files),
    }
}

/// FNV-1a of a file's bytes (`None`: no file).
fn file_hash(path: &Path) -> Option<u64> {
    std::fs::read(path)
        .ok()
        .map(|b| crate::stable_hash::fnv1a(&b))
}
