//! Command line: parses arguments, dispatches to the library, maps outcomes to exit codes.
//!
//! Exit codes: 0 results match the scenario's expectations, 1 they do not, 2 the harness could
//! not run (bad scenario, unknown strategy, missing tool), always with a one-line reason;
//! `128 + signal` after SIGINT (Ctrl-C, 130), SIGTERM (143) or SIGHUP (129): the run stops
//! as after Ctrl-C and the partial report is still written.

mod gate;
mod worker;

use crate::process::{Interrupt, StopSignal};
use crate::report::{table, Report};
use crate::run::{self, RunContext, RunResult, Selection};
use crate::scenario::Scenario;
use crate::strategy;
use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use gate::{cmd_gate, cmd_merge, GateArgs, GateOutputs};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use worker::{cmd_worker, WorkerCommand};

#[derive(Parser, Debug)]
#[command(
    name = "sqlite-backup-harness",
    version,
    about = "Verification and fault-injection harness for SQLite backups"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario: print a verdict table, write report.json and report.md.
    Scenario {
        /// A bundled scenario name (see `list`) or a path to a TOML file.
        name: String,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        iterations: Option<u32>,
        /// Comma-separated strategy names (default: the scenario's).
        #[arg(long)]
        strategies: Option<String>,
        /// Also write the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Where `<scenario>-<timestamp>/` goes.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
        /// crash-points: test a seeded sample of N points per strategy × destination.
        #[arg(long)]
        sample: Option<u32>,
        /// crash-points: run the plans twice and compare trace hashes (exit 1 if they differ).
        #[arg(long)]
        doublecheck: bool,
        /// fuzz: save new bug-base entries here (default: `[fuzz] bugbase`, else
        /// `<report-dir>/new-bugs`; the shipped `reports/bugbase` only when named).
        #[arg(long)]
        bugbase: Option<PathBuf>,
    },
    /// Load and validate scenario files without running anything: `ok: NAME` per file, or
    /// the first one's error in one line (exit 2).
    Check {
        /// Bundled scenario names or paths to TOML files.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List the bundled scenarios and the strategies, one line each.
    List,
    /// Re-run one iteration exactly, from the ID printed with each violation.
    Replay {
        id: String,
        #[arg(long)]
        json: Option<PathBuf>,
        /// Repeat this many times (for timing-dependent kill points).
        #[arg(long, default_value_t = 1)]
        times: u32,
        /// Bug-base entries: append the outcome to the entry's `runs.log`.
        #[arg(long)]
        record: bool,
        /// Bug-base entries: run a case whose strategy runs an external program (its argv is
        /// printed first). Without it such an entry is refused.
        #[arg(long)]
        allow_external: bool,
    },
    /// The CI regression gate: run `ci/gate.toml`, compare with `ci/baseline.toml`.
    Gate(GateArgs),
    /// Reports: `report merge A.json B.json ...` judges gate shards together.
    Report {
        #[command(subcommand)]
        which: ReportCommand,
    },
    /// Benchmarks (JSON out).
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
    /// Internal: the receiving end of a network backup (the stream strategies start it).
    #[command(hide = true)]
    StreamReceiver {
        /// The replica file it owns.
        #[arg(long)]
        replica: PathBuf,
        /// `unix:PATH` or `tcp` (127.0.0.1, a free port).
        #[arg(long)]
        listen: String,
        /// `atomic` (apply on sync) or `immediate` (the negative control).
        #[arg(long, default_value = "atomic")]
        apply: String,
        /// SIGKILL itself on the n-th frame (a planned fault).
        #[arg(long)]
        die_at_frame: Option<u64>,
    },
    /// Internal: a worker process spawned by the supervisor.
    #[command(hide = true)]
    Worker {
        #[command(subcommand)]
        role: WorkerCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Merge gate shard JSON files and judge the whole against the baseline.
    Merge {
        /// The shards' `--json` files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        out: GateOutputs,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Commit-heavy workload through `unix` and through the fault VFS with nothing armed.
    VfsOverhead {
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Restart frequency of a stepped backup by nPage × writer rate: table, JSON, SVG, advice.
    Restarts(crate::bench::restarts::RestartsArgs),
    /// Verified crash states per second on the crash-points reference (in-process and kill).
    CrashRate {
        #[arg(long)]
        json: Option<PathBuf>,
        /// Seconds per phase (in-process and kill, each without and with the verdict cache).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// The oracle's digest against `PRAGMA quick_check` at 1000 and 4000 pages.
    Digest {
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn cmd_stream_receiver(
    replica: PathBuf,
    listen: &str,
    apply: &str,
    die_at_frame: Option<u64>,
) -> anyhow::Result<()> {
    use crate::stream::receiver::{self, ApplyMode, ReceiverArgs};
    let listen = crate::stream::Endpoint::parse(listen)
        .ok_or_else(|| Usage(format!("--listen `{listen}`: expected unix:PATH or tcp")))?;
    let apply = ApplyMode::parse(apply)
        .ok_or_else(|| Usage(format!("--apply `{apply}`: expected atomic or immediate")))?;
    receiver::run(&ReceiverArgs {
        replica,
        listen,
        apply,
        die_at_frame,
    })
}

/// An error that means "the harness could not run" (exit 2).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

/// `worker <role> …` parsed on its own: the supervisor starts a worker for every kill point,
/// hundreds a second, and building the whole command tree each time is wasted.
#[derive(Parser, Debug)]
#[command(name = "worker")]
struct WorkerCli {
    #[command(subcommand)]
    role: WorkerCommand,
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HARNESS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// The exit code of a command's outcome; an error is one line on stderr and exit 2.
fn process_exit_code(outcome: Result<i32>) -> i32 {
    match outcome {
        Ok(code) => code,
        Err(e) => {
            // Not eprintln!: a stderr that cannot be written (a full disk) must not turn the
            // error into a panic.
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "error: {}", one_line(&e));
            2
        }
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    crate::heap::keep_freed_memory();
    if std::env::args_os().nth(1).is_some_and(|a| a == "worker") {
        let worker = WorkerCli::parse_from(std::env::args_os().skip(1));
        init_tracing();
        return process_exit_code(cmd_worker(worker.role).map(|()| 0));
    }
    let cli = Cli::parse();
    init_tracing();
    let outcome = match cli.command {
        Command::Scenario {
            name,
            seed,
            iterations,
            strategies,
            json,
            report_dir,
            sample,
            doublecheck,
            bugbase,
        } => cmd_scenario(
            &name,
            seed,
            iterations,
            strategies,
            json,
            &report_dir,
            ExploreFlags {
                sample,
                doublecheck,
                bugbase,
            },
        ),
        Command::Check { names } => cmd_check(&names),
        Command::List => cmd_list(),
        Command::Gate(args) => cmd_gate(&args),
        Command::Report {
            which: ReportCommand::Merge { files, out },
        } => cmd_merge(&files, &out),
        Command::Replay {
            id,
            json,
            times,
            record,
            allow_external,
        } => cmd_replay(
            &id,
            json,
            times,
            crate::explore::fuzz::bugbase::ReplayOptions {
                record,
                allow_external,
            },
        ),
        Command::Bench { which } => match which {
            BenchCommand::VfsOverhead { json } => bench_vfs_overhead(json),
            BenchCommand::Restarts(args) => crate::bench::restarts::run_cli(&args),
            BenchCommand::CrashRate { json, seconds } => bench_crash_rate(json.as_deref(), seconds),
            BenchCommand::Digest { json } => bench_digest(json.as_deref()),
        },
        Command::Worker { role } => cmd_worker(role).map(|()| 0),
        Command::StreamReceiver {
            replica,
            listen,
            apply,
            die_at_frame,
        } => cmd_stream_receiver(replica, &listen, &apply, die_at_frame).map(|()| 0),
    };
    process_exit_code(outcome)
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// The exit code of a bench that `interrupted` may have cut short: `128 + signal` then, with
/// one line saying its JSON is partial; else 0. A failure with the signal set is the signal's.
fn bench_exit<T>(
    result: Result<T>,
    interrupted: &Interrupt,
    stopped: impl Fn(&T) -> Option<StopSignal>,
) -> Result<i32> {
    match (result, interrupted.signal()) {
        (Ok(r), _) => match stopped(&r) {
            Some(s) => {
                crate::console::errln!("interrupted by {}: partial results written", s.name());
                Ok(s.exit_code())
            }
            None => Ok(0),
        },
        (Err(_), Some(s)) => {
            crate::console::errln!("interrupted by {}: no results", s.name());
            Ok(s.exit_code())
        }
        (Err(e), None) => Err(e),
    }
}

fn bench_vfs_overhead(json: Option<PathBuf>) -> Result<i32> {
    check_outputs(json.as_deref(), None)?;
    let interrupted = interrupt_flag();
    let r = crate::bench::vfs_overhead::run(json.as_deref(), &interrupted);
    bench_exit(r, &interrupted, |r| r.interrupted_by)
}

fn bench_digest(json: Option<&Path>) -> Result<i32> {
    check_outputs(json, None)?;
    let interrupted = interrupt_flag();
    let r = crate::bench::digest::run(json, &interrupted);
    bench_exit(r, &interrupted, |r| r.interrupted_by)
}

/// The longest `bench crash-rate --seconds`: a day.
const MAX_CRASH_RATE_SECONDS: f64 = 86_400.0;

fn bench_crash_rate(json: Option<&Path>, seconds: f64) -> Result<i32> {
    if !(seconds > 0.0 && seconds <= MAX_CRASH_RATE_SECONDS) {
        return Err(anyhow!(Usage(format!(
            "--seconds {seconds} must be a number of seconds in (0, {MAX_CRASH_RATE_SECONDS}]"
        ))));
    }
    check_outputs(json, None)?;
    let interrupted = interrupt_flag();
    let r = crate::bench::crash_rate::run(seconds, &interrupted)
        .map_err(|e| anyhow!("{e}"))
        .and_then(|r| {
            let text = serde_json::to_string_pretty(&r).context("report to JSON")?;
            if let Some(path) = json {
                std::fs::write(path, &text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            crate::console::outln!("{text}");
            Ok(r)
        });
    bench_exit(r, &interrupted, |r| r.interrupted_by)
}

fn cmd_list() -> Result<i32> {
    crate::console::outln!("scenarios:");
    for (name, description) in crate::scenario::bundled() {
        crate::console::outln!("  {name:<20} {description}");
    }
    crate::console::outln!("strategies:");
    for r in strategy::REGISTRY {
        crate::console::outln!("  {:<20} {}", r.name, r.describe);
    }
    crate::console::outln!(
        "  {:<20} {}",
        "external:<label>",
        strategy::external::DESCRIBE
    );
    Ok(0)
}

/// Exit 2 before anything runs when `--json` (a file) or `--report-dir` cannot be written:
/// a long run's results are never lost to a bad path.
fn check_outputs(json: Option<&Path>, report_dir: Option<&Path>) -> Result<()> {
    if let Some(dir) = report_dir {
        crate::report::check_output_dir("--report-dir", dir)
            .map_err(|e| anyhow!(Usage(e.to_string())))?;
    }
    if let Some(path) = json {
        crate::report::check_output_file("--json", path)
            .map_err(|e| anyhow!(Usage(e.to_string())))?;
    }
    Ok(())
}

fn load_scenario(name: &str) -> Result<Scenario> {
    Scenario::load(name).map_err(|e| anyhow!(Usage(e.to_string())))
}

/// Exit 2 before anything runs when an `external:<label>` entry's program (or a path it
/// `requires`) is not installed; an `optional` entry is left out instead, and the report says
/// `skipped: not installed`, unless it was asked for by name (`explicit`: `--strategies`) or
/// nothing would be left to run.
fn check_external_tools(scenario: &mut Scenario, explicit: bool) -> Result<()> {
    let mut kept = Vec::new();
    for entry in std::mem::take(&mut scenario.strategies) {
        if strategy::external::is_external(&entry.name) {
            let found =
                strategy::external::check_installed(&entry.name, &entry.params, &entry.requires);
            match found {
                Err(e) if entry.optional && !explicit => {
                    scenario.skipped.push(crate::scenario::Skipped {
                        strategy: entry.id().to_string(),
                        why: format!("not installed (run ci/install-tools.sh): {e}"),
                    });
                    continue;
                }
                Err(e) => return Err(anyhow!(Usage(e.to_string()))),
                Ok(_) => {}
            }
        }
        if !entry.version_command.is_empty() {
            let v = strategy::external::probe_version(
                &entry.version_command,
                std::time::Duration::from_secs(10),
            );
            scenario.tool_versions.insert(entry.id().to_string(), v);
        }
        kept.push(entry);
    }
    if kept.is_empty() && !scenario.skipped.is_empty() {
        return Err(anyhow!(Usage(format!(
            "no strategy left to run: every entry's tool is missing ({})",
            scenario.skipped[0].why
        ))));
    }
    scenario.strategies = kept;
    Ok(())
}

/// Installs the SIGINT, SIGTERM and SIGHUP handlers once and returns the handle they raise.
fn interrupt_flag() -> Interrupt {
    static FLAG: std::sync::OnceLock<Interrupt> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Interrupt::process();
        if let Err(e) = flag.install_handlers() {
            tracing::warn!("cannot handle SIGINT/SIGTERM/SIGHUP: {e}");
        }
        flag
    })
    .clone()
}

fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
            .expect("static template"),
    );
    bar
}

/// `check`: every file loads and validates as `scenario` would load it; nothing runs.
fn cmd_check(names: &[String]) -> Result<i32> {
    for name in names {
        let scenario = load_scenario(name)?;
        crate::console::outln!("ok: {} ({})", name, scenario.name);
    }
    Ok(0)
}

/// `scenario` flags that only the crash-points and fuzz modes use.
struct ExploreFlags {
    sample: Option<u32>,
    doublecheck: bool,
    bugbase: Option<PathBuf>,
}

fn cmd_scenario(
    name: &str,
    seed: Option<u64>,
    iterations: Option<u32>,
    strategies: Option<String>,
    json: Option<PathBuf>,
    report_dir: &Path,
    flags: ExploreFlags,
) -> Result<i32> {
    if flags.sample == Some(0) {
        return Err(anyhow!(Usage(
            "--sample 0: sample at least 1 point (leave --sample out to test every point)".into()
        )));
    }
    let mut scenario = load_scenario(name)?;
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    if let Some(n) = iterations {
        if n == 0 || n > 100_000 {
            return Err(anyhow!(Usage(format!(
                "--iterations {n} is out of range 1..=100000"
            ))));
        }
        scenario.iterations = n;
    }
    if let Some(list) = &strategies {
        scenario
            .select_strategies(list)
            .map_err(|e| anyhow!(Usage(e.to_string())))?;
    }
    check_external_tools(&mut scenario, strategies.is_some())?;
    check_outputs(json.as_deref(), Some(report_dir))?;
    if flags.bugbase.is_some() && scenario.mode != crate::scenario::Mode::Fuzz {
        return Err(anyhow!(Usage(format!(
            "--bugbase applies to fuzz scenarios; {} is not one",
            scenario.name
        ))));
    }
    match scenario.mode {
        crate::scenario::Mode::Storm => {}
        crate::scenario::Mode::CrashPoints => {
            if iterations.is_some() {
                return Err(anyhow!(Usage(format!(
                    "--iterations has no effect on crash-points scenarios ({} tests every \
                     point once; use --sample N to test fewer)",
                    scenario.name
                ))));
            }
            return crate::explore::commands::crash_points(
                &scenario,
                name,
                flags.sample,
                flags.doublecheck,
                json.as_deref(),
                report_dir,
                interrupt_flag(),
            );
        }
        crate::scenario::Mode::Fuzz => {
            return crate::explore::commands::fuzz(
                &scenario,
                iterations,
                json.as_deref(),
                report_dir,
                flags.bugbase.as_deref(),
                interrupt_flag(),
            );
        }
    }
    if flags.sample.is_some() || flags.doublecheck {
        return Err(anyhow!(Usage(format!(
            "--sample and --doublecheck apply to crash-points scenarios; {} is mode storm",
            scenario.name
        ))));
    }
    let total = u64::from(scenario.iterations) * scenario.strategies.len() as u64;
    let interrupted = interrupt_flag();
    let mut ctx = match RunContext::new(scenario.clone(), name.to_string(), interrupted.clone()) {
        Err(run::RunError::Interrupted) => {
            let s = interrupted.signal().unwrap_or(StopSignal::Int);
            crate::console::errln!(
                "interrupted by {} while creating the source: no iteration ran",
                s.name()
            );
            return Ok(s.exit_code());
        }
        other => {
            other.with_context(|| format!("scenario {} (seed {})", scenario.name, scenario.seed))?
        }
    };
    let bar = progress_bar(total);
    let run = run::run_scenario(&mut ctx, &Selection::default(), true, |r| {
        bar.set_message(format!(
            "{} #{}: {}",
            r.strategy,
            r.iteration,
            r.verdict.kind.as_str()
        ));
        bar.inc(1);
    });
    bar.finish_and_clear();
    finish_run(&run, json.as_deref(), report_dir)
}

/// Prints the table, writes the reports, and picks the exit code.
fn finish_run(run: &RunResult, json: Option<&Path>, report_dir: &Path) -> Result<i32> {
    let report = Report::build(run);
    crate::console::out!("{}", table::render(&report, 5));
    let written = crate::report::write_report(&report, report_dir, json)
        .with_context(|| format!("writing the report under {}", report_dir.display()))?;
    crate::console::outln!(
        "\n{} iterations in {:.1} s; writers {:.0} commits/s during backups ({:.0} standalone)",
        report.results.len(),
        report.duration_s,
        report.commits_per_s,
        report.standalone_commits_per_s
    );
    crate::console::outln!("report: {}", written.display());
    Ok(exit_code(
        run.interrupted,
        run.error.as_deref(),
        report.expectations_met,
    ))
}

pub(crate) use crate::report::exit_code;

/// The largest `replay --times`.
const MAX_REPLAY_TIMES: u32 = 100_000;

fn cmd_replay(
    id: &str,
    json: Option<PathBuf>,
    times: u32,
    opts: crate::explore::fuzz::bugbase::ReplayOptions,
) -> Result<i32> {
    if times == 0 || times > MAX_REPLAY_TIMES {
        return Err(anyhow!(Usage(format!(
            "--times {times} is out of range 1..={MAX_REPLAY_TIMES}"
        ))));
    }
    check_outputs(json.as_deref(), None)?;
    // Before any work: a signal from here on stops the replay with 128 + signal.
    let interrupted = interrupt_flag();
    if let Some(code) = crate::explore::commands::replay(id, json.as_deref(), times, opts)? {
        return Ok(code);
    }
    let Some(crate::replay_id::ReplayId::Storm {
        scenario: scenario_id,
        seed,
        strategy,
        iteration,
    }) = crate::replay_id::ReplayId::parse(id)
    else {
        return Err(anyhow!(Usage(format!(
            "replay ID `{id}` is not of the form scenario:seed:strategy:iteration \
             (nor crash:..., fuzz:..., or a bug-base entry)"
        ))));
    };
    let mut scenario = load_scenario(&scenario_id)?;
    scenario.seed = seed;
    if scenario.strategy(&strategy).is_none() {
        scenario
            .select_strategies(&strategy)
            .map_err(|e| anyhow!(Usage(e.to_string())))?;
    }
    let entry = scenario.strategy(&strategy).expect("selected").clone();
    if strategy::external::is_external(&entry.name) {
        strategy::external::check_installed(&entry.name, &entry.params, &entry.requires)
            .map_err(|e| anyhow!(Usage(e.to_string())))?;
    }
    let plan = run::plan::plan_iteration(&scenario, &entry, iteration);
    let mut ctx = match RunContext::new(scenario.clone(), scenario_id.clone(), interrupted.clone())
    {
        Err(run::RunError::Interrupted) => {
            let s = interrupted.signal().unwrap_or(StopSignal::Int);
            crate::console::errln!("interrupted by {} while creating the source", s.name());
            return Ok(s.exit_code());
        }
        other => other.with_context(|| format!("replay {id}"))?,
    };
    let selection = Selection {
        strategy: Some(strategy.clone()),
        iteration: Some(iteration),
    };
    let mut runs = Vec::new();
    for _ in 0..times.max(1) {
        let run = run::run_scenario(&mut ctx, &selection, false, |_| {});
        // A signal first: an error it caused (a stopped step) is not "could not run".
        if let Some(s) = run.interrupted.or_else(|| interrupted.signal()) {
            crate::console::errln!("interrupted by {}", s.name());
            return Ok(s.exit_code());
        }
        if let Some(e) = &run.error {
            return Err(anyhow!("replay {id}: {e}"));
        }
        runs.extend(run.results);
    }
    let first = runs
        .first()
        .ok_or_else(|| anyhow!("replay {id}: no result"))?;
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for r in &runs {
        *counts
            .entry(r.verdict.kind.as_str().to_string())
            .or_default() += 1;
    }
    let out = serde_json::json!({
        "id": id,
        "verdict": first.verdict.kind.as_str(),
        "detail": first.verdict.detail,
        "k": first.verdict.k,
        "lag": first.verdict.lag,
        "fault": plan.fault,
        "fault_label": plan.fault_label(),
        "fault_hit": first.fault_hit,
        "fired": first.fired,
        "deterministic": plan.deterministic(),
        "destination": plan.destination.as_str(),
        "claim": first.claim,
        "times": runs.len(),
        "verdicts": counts,
        "results": runs,
    });
    let text = serde_json::to_string_pretty(&out).expect("json");
    if let Some(path) = &json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    let kinds: Vec<_> = runs.iter().map(|r| r.verdict.kind).collect();
    let shown = runs
        .iter()
        .find(|r| r.verdict.kind.is_violation())
        .unwrap_or(first);
    crate::console::outln!(
        "{}{}",
        crate::report::replay_headline(id, &kinds, &shown.verdict.detail),
        if plan.deterministic() {
            ""
        } else {
            " [kill point is timing-dependent; use --times N]"
        }
    );
    if json.is_none() {
        crate::console::outln!("{text}");
    }
    Ok(crate::report::replay_exit_code(&kinds))
}
