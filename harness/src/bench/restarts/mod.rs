//! `bench restarts`: how often a stepped backup restarts, by nPage × writer rate, and what it
//! costs; with a model that predicts each cell and advice that follows from it.
//!
//! Why it exists: under a busy writer a stepped backup can restart forever, the backup API has
//! no restart counter, and the advice in forums is anecdotal. This module runs the
//! grid ([`cell`] runs one cell, [`writer`] its writer), repeats each cell until its verdict
//! is stable ([`stability`]) and says how a run that did not finish was going ([`trend`]),
//! counts restarts two independent ways ([`signal`]), fits and applies the model ([`model`]),
//! checks each nPage's boundary in the clock-free mode ([`deterministic`]), derives the advice
//! from it ([`advice`]) and writes the table, JSON and CSV ([`output`]) and the SVG ([`plot`]).

pub mod advice;
pub mod cell;
pub mod deterministic;
pub mod model;
pub mod output;
pub mod plot;
pub mod signal;
pub mod stability;
pub mod trend;
pub mod variation;
pub mod writer;

pub use advice::advice;
pub use variation::{compare, Variation};

use crate::process::{Interrupt, StopSignal};
use anyhow::{bail, Context, Result};
use cell::{CellEnv, CellRun, CellSpec, Rate, Variant, WriterMode};
use deterministic::DetReport;
use model::{median, CostModel, Prediction};
use serde::{Deserialize, Serialize};
use signal::{disagree_reason, AUTHORITATIVE};
use stability::{RepeatRule, Verdict};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trend::Trend;
use vfs_faults::{FaultPlan, FaultVfs};

/// The nPage values of the grid (-1 = everything in one step, plotted as "all").
pub const NPAGES: [i32; 7] = [1, 4, 16, 64, 256, 1024, -1];
/// The writer rates of the grid.
pub const RATES: [Rate; 4] = [
    Rate::Zero,
    Rate::PerSec(100.0),
    Rate::PerSec(1000.0),
    Rate::Max,
];
/// Default source size in pages (about 16 MB at 4 KiB pages).
pub const DEFAULT_PAGES: u32 = 4000;
/// A cell is "ok" for the advice when its median passes are at most this.
pub const ADVICE_MAX_PASSES: f64 = 2.0;

/// `bench restarts` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RestartsArgs {
    /// Short grid: 2 agreeing repeats, 1 s budget per cell, same-connection only at the max
    /// rate (about 40 s).
    #[arg(long)]
    pub quick: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write the SVG plot here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Also write a CSV of the rows here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Source size in pages (at least).
    #[arg(long, default_value_t = DEFAULT_PAGES)]
    pub pages: u32,
    /// Repeats per cell that must agree on finished / did not finish (default 3, 2 with
    /// --quick); if they do not, the cell runs 2N+1 times and is `unstable k/n`. Medians are
    /// reported.
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Time budget per cell run in milliseconds (default 2000, 1000 with --quick).
    #[arg(long)]
    pub budget_ms: Option<u64>,
    /// A previous run's JSON: report how far this run's medians are from it.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Where `bench-restarts-<timestamp>/` goes.
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// The clock taken out: one process interleaves a writer's commits with the steps on a
    /// schedule (a commit before every X-th step), so restarts and completion are exact
    /// functions of nPage, X and the source size, identical on every run and machine.
    #[arg(long)]
    pub deterministic: bool,
}

/// The longest `--budget-ms` per cell run: an hour.
pub const MAX_BUDGET_MS: u64 = 3_600_000;

/// The most pages `--pages` takes (4 GiB of 4096-byte pages).
pub const MAX_PAGES: u32 = 1 << 20;

impl RestartsArgs {
    /// The process's signal handle, its handlers installed (once): Ctrl-C, SIGTERM and SIGHUP
    /// stop the bench with a partial report.
    pub fn interrupted(&self) -> Interrupt {
        let i = Interrupt::process();
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            if let Err(e) = i.install_handlers() {
                tracing::warn!("cannot handle SIGINT/SIGTERM/SIGHUP: {e}");
            }
        });
        i
    }

    /// Range checks and output paths, before anything runs: one line naming the flag.
    pub fn check(&self) -> Result<()> {
        if self.pages == 0 || self.pages > MAX_PAGES {
            anyhow::bail!("--pages {} is out of range 1..={MAX_PAGES}", self.pages);
        }
        if self.repeats == Some(0) {
            anyhow::bail!("--repeats 0: at least 1 repeat per cell");
        }
        if let Some(ms) = self.budget_ms {
            if ms == 0 || ms > MAX_BUDGET_MS {
                anyhow::bail!("--budget-ms {ms} is out of range 1..={MAX_BUDGET_MS}");
            }
        }
        for (flag, path) in [
            ("--json", &self.json),
            ("--svg", &self.svg),
            ("--csv", &self.csv),
        ] {
            if let Some(p) = path {
                crate::report::check_output_file(flag, p)?;
            }
        }
        crate::report::check_output_dir("--report-dir", &self.report_dir)?;
        Ok(())
    }
}

/// `bench restarts --deterministic`: the grid, its table, `report.json` and `table.txt`.
fn run_deterministic(args: &RestartsArgs) -> Result<i32> {
    if args.quick || args.repeats.is_some() || args.budget_ms.is_some() || args.baseline.is_some() {
        bail!("--deterministic takes --pages, --json and --report-dir (it has no clock, no repeats and no budget)");
    }
    let report = deterministic::run(
        args.pages,
        &NPAGES,
        &deterministic::EVERY,
        &args.interrupted(),
    )?;
    let table = deterministic::table(&report);
    crate::console::out!("{table}");
    let dir = crate::report::create_run_dir(&args.report_dir, "bench-restarts-deterministic")
        .with_context(|| format!("creating a run folder in {}", args.report_dir.display()))?;
    let json = serde_json::to_string_pretty(&report).context("report to JSON")? + "\n";
    std::fs::write(dir.join("report.json"), &json)
        .with_context(|| format!("writing {}", dir.display()))?;
    std::fs::write(dir.join("table.txt"), &table)
        .with_context(|| format!("writing {}", dir.display()))?;
    if let Some(p) = &args.json {
        std::fs::write(p, &json).with_context(|| format!("writing {}", p.display()))?;
    }
    crate::console::outln!("report: {}", dir.join("report.json").display());
    if let Some(s) = report.interrupted_by {
        crate::console::errln!("interrupted by {}: partial report written", s.name());
        return Ok(s.exit_code());
    }
    Ok(if report.mismatches == 0 { 0 } else { 1 })
}

/// The grid to run.
#[derive(Debug, Clone)]
pub struct GridConfig {
    pub pages: u32,
    /// Repeats that must agree ([`RepeatRule::new`]).
    pub repeats: u32,
    pub budget: Duration,
    pub npages: Vec<i32>,
    pub cells: Vec<(Variant, Rate)>,
    pub writer_mode: WriterMode,
    /// Name of the traced VFS (unique per concurrent caller).
    pub vfs_name: String,
    pub seed: u64,
    /// A stop signal ends the grid between two cell runs (and a cell run at its next step):
    /// the report holds the runs that ended, `interrupted_by` says why.
    pub interrupted: Interrupt,
}

impl GridConfig {
    pub fn from_args(a: &RestartsArgs) -> GridConfig {
        let mut cells: Vec<(Variant, Rate)> =
            RATES.iter().map(|r| (Variant::OtherProcess, *r)).collect();
        if a.quick {
            cells.push((Variant::SameConnection, Rate::Max));
        } else {
            cells.extend(RATES[1..].iter().map(|r| (Variant::SameConnection, *r)));
        }
        GridConfig {
            pages: a.pages,
            repeats: a.repeats.unwrap_or(if a.quick { 2 } else { 3 }).max(1),
            budget: Duration::from_millis(a.budget_ms.unwrap_or(if a.quick { 1000 } else { 2000 })),
            npages: NPAGES.to_vec(),
            cells,
            writer_mode: WriterMode::Process,
            vfs_name: "bench-restarts-source".into(),
            seed: 1,
            interrupted: a.interrupted(),
        }
    }
}

/// One row of the result: a cell's medians over its repeats, and the model's prediction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub variant: Variant,
    pub npage: i32,
    /// Commits per second, or "max".
    pub writer_rate: serde_json::Value,
    /// Completed within the budget in most repeats.
    pub completed: bool,
    pub completed_runs: u32,
    pub repeats: u32,
    pub budget_s: f64,
    /// "finished", "did not finish" or "unstable k/n finished" ([`stability`]).
    pub verdict: String,
    /// All repeats agree on finished / did not finish.
    pub stable: bool,
    /// How the runs that did not finish were restarting ([`trend`]); `None` if all finished.
    pub trend: Option<Trend>,
    /// The verdict in words, with the budget and the trend.
    pub status: String,
    /// Restarts by the progress formula (authoritative) and by the VFS signal (median).
    pub restarts: f64,
    pub restarts_vfs: f64,
    /// The two restart counts are equal in every repeat.
    pub restarts_agree: bool,
    /// Why they are not, when they are not.
    pub restarts_disagree_reason: Option<String>,
    /// Backup steps per foreign commit during the cell (median over the runs with commits):
    /// the deterministic schedule "a commit every X steps" this rate amounts to here.
    pub steps_per_commit: Option<f64>,
    /// Steps per pass at this nPage in the deterministic mode (`S`, exact).
    pub det_steps_per_pass: Option<u64>,
    /// Whether the deterministic mode finishes with a commit every `steps_per_commit` steps
    /// (`X >= S`, checked at `S` and `S − 1`); `None` for the same-connection variant.
    pub det_finishes: Option<bool>,
    pub passes: f64,
    pub steps: f64,
    pub duration_s: f64,
    pub duration_min_s: f64,
    pub duration_max_s: f64,
    pub pages_copied: f64,
    pub pagecount: f64,
    pub amplification: f64,
    pub commits: f64,
    pub commit_rate: f64,
    pub commit_p50_ms: Option<f64>,
    pub commit_p99_ms: Option<f64>,
    pub max_wal_bytes: f64,
    pub longest_step_ms: f64,
    pub dest_bytes: f64,
    /// The commit rate the prediction used (measured during the cell; nominal if none).
    pub model_rate: f64,
    pub predicted: Option<Prediction>,
    pub predicted_completes: Option<bool>,
    pub runs: Vec<CellRun>,
}

/// The whole result (the JSON file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestartsReport {
    pub sqlite_version: String,
    pub pages: u64,
    pub page_size: u32,
    /// Repeats that must agree, and the most a cell runs ([`RepeatRule`]).
    pub repeats: u32,
    pub repeat_cap: u32,
    pub repeat_rule: String,
    /// Cells whose repeats disagree on finished / did not finish.
    pub unstable: usize,
    pub budget_s: f64,
    /// What "did not finish" means, and the trend of such a run ([`trend::legend`]).
    pub did_not_finish: String,
    pub quick: bool,
    pub wall_s: f64,
    pub cost_model: Option<CostModel>,
    pub rows: Vec<Row>,
    pub advice: String,
    pub advice_lines: Vec<String>,
    /// Cells where the formula and the VFS signal disagreed in some repeat.
    pub disagreements: usize,
    /// Of those, cells the VFS signal's unmapped WAL reads do not explain.
    pub disagreements_unexplained: usize,
    /// Which restart count is authoritative, and why the other can differ.
    pub authoritative_counter: String,
    /// Each nPage at its boundary in the deterministic mode (a commit every S and S − 1 steps).
    pub deterministic: Option<DetReport>,
    pub variation: Option<Variation>,
    /// The signal that stopped the grid early; the rows hold the runs that ended.
    #[serde(default)]
    pub interrupted: bool,
    #[serde(default)]
    pub interrupted_by: Option<StopSignal>,
}

/// Runs the CLI command: grid, model, outputs, report directory. Returns the exit code.
pub fn run_cli(args: &RestartsArgs) -> Result<i32> {
    args.check()?;
    if args.deterministic {
        return run_deterministic(args);
    }
    // Read before the grid runs: a bad baseline must not cost the run's results.
    let baseline = match &args.baseline {
        Some(base) => {
            let text = crate::textfile::read(base, crate::textfile::MAX_REPORT_BYTES)
                .with_context(|| format!("--baseline {}", base.display()))?;
            // Read as a JSON value: infinite predictions were written as null.
            let old: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("--baseline {}: not JSON", base.display()))?;
            Some((old, base.display().to_string()))
        }
        None => None,
    };
    let cfg = GridConfig::from_args(args);
    let mut report = run_grid(&cfg, args.quick, |msg| crate::console::errln!("{msg}"))?;
    if let Some((old, name)) = &baseline {
        report.variation = Some(compare(old, &report, name));
    }
    crate::console::out!("{}", output::table(&report));
    let dir = crate::report::create_run_dir(&args.report_dir, "bench-restarts")
        .with_context(|| format!("creating a run folder in {}", args.report_dir.display()))?;
    let json = serde_json::to_string_pretty(&report).context("report to JSON")?;
    let svg = output::svg(&report)
        .map_err(anyhow::Error::msg)
        .context("rendering the SVG")?;
    let csv = output::csv(&report);
    let table = output::table(&report);
    for (name, text) in [
        ("report.json", &json),
        ("restarts.svg", &svg),
        ("rows.csv", &csv),
        ("table.txt", &table),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    for (path, text) in [(&args.json, &json), (&args.svg, &svg), (&args.csv, &csv)] {
        if let Some(p) = path {
            std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
        }
    }
    crate::console::outln!("report: {}", dir.display());
    if let Some(s) = report.interrupted_by {
        crate::console::errln!("interrupted by {}: partial report written", s.name());
        return Ok(s.exit_code());
    }
    Ok(0)
}

/// Where the scratch files go: the scenario runner's policy ([`crate::run::scratch_dir`]).
fn scratch_dir() -> Result<tempfile::TempDir> {
    crate::run::scratch_dir("bench-restarts-").context("creating a scratch dir")
}

/// The traced VFS called `name` (registered on first use).
pub fn traced_vfs(name: &str) -> Result<FaultVfs> {
    if let Some(v) = FaultVfs::get(name) {
        return Ok(v);
    }
    FaultVfs::register(name, FaultPlan::default()).with_context(|| format!("registering {name}"))
}

/// The workload of the bench: the default spec with `pages` initial pages.
pub fn spec_for(pages: u32, seed: u64) -> crate::workload::WorkloadSpec {
    crate::workload::WorkloadSpec {
        seed,
        initial_pages: pages,
        ..Default::default()
    }
}

/// Runs the grid: writer-free cells first (they calibrate the model), in rounds: each round runs
/// once every cell that has no verdict yet under the [`RepeatRule`] (so drift hits all cells
/// alike); then each nPage's boundary in the deterministic mode.
pub fn run_grid(cfg: &GridConfig, quick: bool, progress: impl Fn(&str)) -> Result<RestartsReport> {
    let wall = Instant::now();
    let dir = scratch_dir()?;
    let spec = spec_for(cfg.pages, cfg.seed);
    let template = dir.path().join("template.db");
    let stop = || cfg.interrupted.is_set();
    if let Err(e) = crate::workload::setup::create_source_until(&template, &spec, &stop) {
        return match cfg.interrupted.signal() {
            Some(s) => Ok(RestartsReport::stopped(cfg, quick, s, wall)),
            None => Err(e).context("creating the source"),
        };
    }
    let pages = source_pages(&template)?;
    let vfs = traced_vfs(&cfg.vfs_name)?;
    let env = CellEnv {
        template: &template,
        spec: &spec,
        dir: dir.path(),
        vfs: &vfs,
        writer_mode: cfg.writer_mode,
        interrupted: &cfg.interrupted,
    };
    let mut order: Vec<(Variant, Rate)> = cfg.cells.clone();
    order.sort_by_key(|(v, r)| (*r != Rate::Zero, *v == Variant::SameConnection));
    let mut specs: Vec<CellSpec> = Vec::new();
    for (variant, rate) in &order {
        for &npage in &cfg.npages {
            specs.push(CellSpec {
                npage,
                rate: *rate,
                variant: *variant,
                budget: cfg.budget,
            });
        }
    }
    let rule = RepeatRule::new(cfg.repeats);
    let mut runs: Vec<Vec<CellRun>> = vec![Vec::new(); specs.len()];
    let verdict =
        |rs: &[CellRun]| rule.verdict(&rs.iter().map(|r| r.completed).collect::<Vec<_>>());
    let mut id = 0u64;
    'grid: for rep in 0..rule.cap {
        for (i, c) in specs.iter().enumerate() {
            if verdict(&runs[i]).is_some() {
                continue;
            }
            if cfg.interrupted.is_set() {
                break 'grid;
            }
            id += 1;
            let r = cell::run_cell(&env, c, id).with_context(|| {
                format!(
                    "cell {} npage {} rate {}",
                    c.variant.as_str(),
                    c.npage,
                    c.rate.label()
                )
            })?;
            if cfg.interrupted.is_set() {
                // Cut short by the signal: not a measurement.
                break 'grid;
            }
            progress(&format!(
                "[{:>5.1}s] rep {} {:<15} npage {:>5} rate {:>4}: {} restarts {}/{} ({}+{}) in {:.3} s",
                wall.elapsed().as_secs_f64(),
                rep + 1,
                c.variant.as_str(),
                c.npage,
                c.rate.label(),
                if r.completed { "done " } else { "LIVELOCK" },
                r.restarts,
                r.restarts_vfs,
                r.restarts_first_half,
                r.restarts_second_half,
                r.duration_s
            ));
            runs[i].push(r);
        }
    }
    let det = match cfg.interrupted.is_set() {
        true => None,
        false => Some(
            deterministic::boundary(cfg.pages, &cfg.npages, &cfg.interrupted)
                .context("the deterministic boundary")?,
        ),
    };
    let interrupted_by = cfg.interrupted.signal();
    let cost = fit_cost(&specs, &runs, pages as f64);
    let empty_det = DetReport::default();
    let rows: Vec<Row> = specs
        .iter()
        .zip(runs)
        .filter(|(_, rs)| interrupted_by.is_none() || !rs.is_empty())
        .map(|(c, rs)| {
            let v = verdict(&rs).unwrap_or(Verdict::DidNotFinish);
            make_row(c, rs, v, cost.as_ref(), det.as_ref().unwrap_or(&empty_det))
        })
        .collect();
    let advice_lines = advice(&rows, pages);
    if rows.is_empty() && interrupted_by.is_none() {
        bail!("empty grid");
    }
    Ok(RestartsReport {
        sqlite_version: rusqlite::version().to_string(),
        pages,
        page_size: spec.page_size,
        repeats: rule.agree,
        repeat_cap: rule.cap,
        repeat_rule: rule.describe(),
        unstable: rows.iter().filter(|r| !r.stable).count(),
        budget_s: cfg.budget.as_secs_f64(),
        did_not_finish: trend::legend(),
        quick,
        wall_s: wall.elapsed().as_secs_f64(),
        cost_model: cost,
        disagreements: rows.iter().filter(|r| !r.restarts_agree).count(),
        disagreements_unexplained: rows
            .iter()
            .filter(|r| {
                r.restarts_disagree_reason
                    .as_deref()
                    .is_some_and(|t| t.starts_with("unexplained"))
            })
            .count(),
        authoritative_counter: AUTHORITATIVE.into(),
        deterministic: det,
        advice: advice_lines.join("; "),
        advice_lines,
        rows,
        variation: None,
        interrupted: interrupted_by.is_some(),
        interrupted_by,
    })
}

impl RestartsReport {
    /// The report of a grid stopped by `s` before any cell ran.
    fn stopped(cfg: &GridConfig, quick: bool, s: StopSignal, wall: Instant) -> RestartsReport {
        let rule = RepeatRule::new(cfg.repeats);
        RestartsReport {
            sqlite_version: rusqlite::version().to_string(),
            pages: 0,
            page_size: spec_for(cfg.pages, cfg.seed).page_size,
            repeats: rule.agree,
            repeat_cap: rule.cap,
            repeat_rule: rule.describe(),
            unstable: 0,
            budget_s: cfg.budget.as_secs_f64(),
            did_not_finish: trend::legend(),
            quick,
            wall_s: wall.elapsed().as_secs_f64(),
            cost_model: None,
            rows: Vec::new(),
            advice: String::new(),
            advice_lines: Vec::new(),
            disagreements: 0,
            disagreements_unexplained: 0,
            authoritative_counter: AUTHORITATIVE.into(),
            deterministic: None,
            variation: None,
            interrupted: true,
            interrupted_by: Some(s),
        }
    }
}

fn source_pages(path: &Path) -> Result<u64> {
    let c = rusqlite::Connection::open(path)?;
    let n: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    Ok(n as u64)
}

/// Fits the cost model on the writer-free other-process runs.
fn fit_cost(specs: &[CellSpec], runs: &[Vec<CellRun>], pages: f64) -> Option<CostModel> {
    let pts: Vec<(f64, f64, f64)> = specs
        .iter()
        .zip(runs)
        .filter(|(c, _)| c.rate == Rate::Zero && c.variant == Variant::OtherProcess)
        .flat_map(|(_, rs)| rs.iter().filter(|r| r.completed))
        .map(|r| (r.steps as f64, r.pages_copied as f64, r.duration_s))
        .collect();
    CostModel::fit(&pts, pages)
}

fn med<F: Fn(&CellRun) -> f64>(runs: &[CellRun], f: F) -> f64 {
    median(&runs.iter().map(f).collect::<Vec<_>>()).unwrap_or(f64::NAN)
}

fn med_opt<F: Fn(&CellRun) -> Option<f64>>(runs: &[CellRun], f: F) -> Option<f64> {
    median(&runs.iter().filter_map(f).collect::<Vec<_>>())
}

/// The deterministic columns of a row: `(steps per commit, S, finishes)`.
fn det_columns(
    c: &CellSpec,
    runs: &[CellRun],
    det: &DetReport,
) -> (Option<f64>, Option<u64>, Option<bool>) {
    let per: Vec<f64> = runs
        .iter()
        .filter(|r| r.commits > 0)
        .map(|r| r.steps as f64 / r.commits as f64)
        .collect();
    let x = median(&per);
    let s = det
        .cells
        .iter()
        .find(|d| d.npage == c.npage)
        .map(|d| d.steps_per_pass);
    let finishes = match (c.variant, c.rate, s) {
        (Variant::SameConnection, _, _) | (_, _, None) => None,
        (_, Rate::Zero, _) => Some(true),
        // No commit during the backup: nothing restarted it. Several commits between two steps
        // are one commit before the next step (X = 1): a one-step pass always finishes.
        (_, _, Some(s)) => Some(x.is_none_or(|x| x.max(1.0) >= s as f64)),
    };
    (x, s, finishes)
}

fn make_row(
    c: &CellSpec,
    runs: Vec<CellRun>,
    verdict: Verdict,
    cost: Option<&CostModel>,
    det: &DetReport,
) -> Row {
    let n = runs.len() as u32;
    let completed_runs = runs.iter().filter(|r| r.completed).count() as u32;
    let completed = completed_runs * 2 > n;
    let budget_s = c.budget.as_secs_f64();
    let commit_rate = med(&runs, |r| r.commit_rate);
    let model_rate = match (c.variant, c.rate) {
        (_, Rate::Zero) => 0.0,
        (Variant::SameConnection, _) => 0.0,
        (_, _) if commit_rate > 0.0 => commit_rate,
        (_, r) => r.nominal().unwrap_or(0.0),
    };
    let predicted = cost.map(|m| m.predict(c.npage, model_rate));
    let trend = trend::of_cell(
        runs.iter()
            .filter(|r| !r.completed)
            .map(|r| (r.restarts_first_half, r.restarts_second_half)),
    );
    let status = match (verdict, trend) {
        (Verdict::Finished, _) => "finished".to_string(),
        (v, Some(t)) => format!("{} in {budget_s} s ({})", v.label(), t.as_str()),
        (v, None) => v.label(),
    };
    let (steps_per_commit, det_steps_per_pass, det_finishes) = det_columns(c, &runs, det);
    Row {
        variant: c.variant,
        npage: c.npage,
        writer_rate: c.rate.json(),
        completed,
        completed_runs,
        repeats: n,
        budget_s,
        verdict: verdict.label(),
        stable: verdict.is_stable(),
        trend,
        status,
        restarts: med(&runs, |r| r.restarts as f64),
        restarts_vfs: med(&runs, |r| r.restarts_vfs as f64),
        restarts_agree: runs.iter().all(|r| r.restarts == r.restarts_vfs),
        restarts_disagree_reason: disagree_reason(&runs),
        steps_per_commit,
        det_steps_per_pass,
        det_finishes,
        passes: med(&runs, |r| r.passes as f64),
        steps: med(&runs, |r| r.steps as f64),
        duration_s: med(&runs, |r| r.duration_s),
        duration_min_s: runs
            .iter()
            .map(|r| r.duration_s)
            .fold(f64::INFINITY, f64::min),
        duration_max_s: runs.iter().map(|r| r.duration_s).fold(0.0, f64::max),
        pages_copied: med(&runs, |r| r.pages_copied as f64),
        pagecount: med(&runs, |r| r.pagecount as f64),
        amplification: med(&runs, |r| r.amplification),
        commits: med(&runs, |r| r.commits as f64),
        commit_rate,
        commit_p50_ms: med_opt(&runs, |r| r.commit_p50_ms),
        commit_p99_ms: med_opt(&runs, |r| r.commit_p99_ms),
        max_wal_bytes: med(&runs, |r| r.max_wal_bytes as f64),
        longest_step_ms: med(&runs, |r| r.longest_step_ms),
        dest_bytes: med(&runs, |r| r.dest_bytes as f64),
        model_rate,
        predicted_completes: predicted.map(|p| p.finishes_within(budget_s)),
        predicted,
        runs,
    }
}

#[cfg(test)]
mod tests;
