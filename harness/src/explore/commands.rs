//! The command-line side of exploration: the `crash-points` and `fuzz` scenario modes, `replay`
//! of crash-point IDs, fuzz case IDs and bug-base entries. Called from the command line.
//!
//! Why its own module: it keeps `cli.rs` (shared by every command) to a few dispatch lines, and
//! like the command line it speaks `anyhow` and exit codes: 0 expectations met, 1 not (or the
//! doublecheck hashes differ), 2 could not run, 128 + signal when a signal stopped it (130 Ctrl-C,
//! 143 SIGTERM, 129 SIGHUP).

use super::replay;
use super::sweep::{self, SweepOptions};
use crate::oracle::VerdictKind;
use crate::process::Interrupt;
use crate::scenario::Scenario;
use anyhow::{anyhow, Context, Result};
use std::path::Path;

/// `scenario NAME` for `mode = "crash-points"`.
pub fn crash_points(
    scenario: &Scenario,
    scenario_id: &str,
    sample: Option<u32>,
    doublecheck: bool,
    json: Option<&Path>,
    report_dir: &Path,
    interrupted: Interrupt,
) -> Result<i32> {
    let opts = SweepOptions {
        sample: sample.filter(|&n| n > 0),
        doublecheck,
        progress: true,
    };
    let report = sweep::run(scenario, scenario_id, &opts, interrupted);
    crate::console::out!("{}", report.table());
    let written = crate::report::write_report(&report, report_dir, json)
        .with_context(|| format!("writing the report under {}", report_dir.display()))?;
    let tested: u64 = report.strategies.iter().map(|c| c.points_tested).sum();
    let total: u64 = report.strategies.iter().map(|c| c.points_total).sum();
    crate::console::outln!(
        "\n{tested}/{total} crash points in {:.1} s\nreport: {}",
        report.duration_s,
        written.display()
    );
    let deterministic = report.doublecheck.as_ref().is_none_or(|d| d.equal);
    Ok(crate::report::exit_code(
        report.interrupted_by,
        report.error.as_deref(),
        report.expectations_met && deterministic,
    ))
}

/// The name a replay ID uses for `scenario`: its bundled name if that loads the same file, else
/// its path.
fn scenario_id(scenario: &Scenario) -> String {
    match Scenario::load(&scenario.name) {
        Ok(s) if s.path == scenario.path => scenario.name.clone(),
        _ => scenario.path.display().to_string(),
    }
}

/// `scenario NAME` for `mode = "fuzz"`. The report (partial after Ctrl-C or an error) is
/// printed, written to `reports/<scenario>-<timestamp>/report.json` and to `--json`.
pub fn fuzz(
    scenario: &Scenario,
    cases: Option<u32>,
    json: Option<&Path>,
    report_dir: &Path,
    bugbase: Option<&Path>,
    interrupted: Interrupt,
) -> Result<i32> {
    let mut scenario = scenario.clone();
    if let Some(n) = cases {
        scenario.fuzz.cases = n;
    }
    // New entries go to --bugbase, else the scenario's `[fuzz] bugbase`, else under the
    // report directory: never into the shipped bug base unless named.
    let base = bugbase
        .map(Path::to_path_buf)
        .or_else(|| scenario.fuzz.bugbase.clone())
        .unwrap_or_else(|| report_dir.join(super::fuzz::bugbase::NEW_BUGS));
    crate::report::check_output_dir("--bugbase", &base)?;
    scenario.fuzz.bugbase = Some(base);
    let report = super::fuzz::run(&scenario, &scenario_id(&scenario), &interrupted);
    let written = crate::report::write_report(&report, report_dir, json)
        .with_context(|| format!("writing the report under {}", report_dir.display()))?;
    crate::console::out!(
        "{}",
        serde_json::to_string_pretty(&report).expect("json") + "\n"
    );
    crate::console::outln!("report: {}", written.display());
    Ok(crate::report::exit_code(
        report.interrupted_by,
        report.error.as_deref(),
        report.expectations_met,
    ))
}

/// `replay ID` for crash-point IDs, fuzz case IDs and bug-base entries (an ID or a path);
/// `Ok(None)` when `id` is none of them. A stop signal (on the process's handle,
/// [`Interrupt::process`]) ends it with `128 + signal`, whatever step it stopped.
pub fn replay(
    id: &str,
    json: Option<&Path>,
    times: u32,
    opts: super::fuzz::bugbase::ReplayOptions,
) -> Result<Option<i32>> {
    let interrupted = Interrupt::process();
    let out = replay_output(id, times, opts, &interrupted);
    if let Some(s) = interrupted.signal() {
        crate::console::errln!("interrupted by {}: no replay result", s.name());
        return Ok(Some(s.exit_code()));
    }
    let Some(out) = out? else {
        return Ok(None);
    };
    let text = serde_json::to_string_pretty(&out).expect("json");
    if let Some(path) = json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    let kinds = verdict_kinds(&out)?;
    crate::console::outln!(
        "{}",
        crate::report::replay_headline(id, &kinds, out["detail"].as_str().unwrap_or(""))
    );
    if json.is_none() {
        crate::console::outln!("{text}");
    }
    Ok(Some(crate::report::replay_exit_code(&kinds)))
}

/// The JSON of `replay ID` (see [`replay`]); `Ok(None)` when `id` is not an explore ID.
fn replay_output(
    id: &str,
    times: u32,
    opts: super::fuzz::bugbase::ReplayOptions,
    interrupted: &Interrupt,
) -> Result<Option<serde_json::Value>> {
    let out = if let Some(pid) = super::points::parse_replay_id(id) {
        let scenario = scenario_for(&pid.scenario, pid.seed, &pid.strategy)?;
        let mut runs = Vec::new();
        for _ in 0..times.max(1) {
            if interrupted.is_set() {
                return Err(anyhow!("replay {id}: interrupted"));
            }
            runs.push(replay::replay(&pid, &scenario).with_context(|| format!("replay {id}"))?);
        }
        let verdicts: Vec<serde_json::Value> = runs.iter().map(|r| r["verdict"].clone()).collect();
        // The detail shown is the first violating run's (else the first run's).
        let shown = runs
            .iter()
            .position(|r| {
                serde_json::from_value::<VerdictKind>(r["verdict"].clone())
                    .is_ok_and(|k| k.is_violation())
            })
            .unwrap_or(0);
        let mut first = runs.swap_remove(shown);
        first["id"] = id.into();
        first["times"] = verdicts.len().into();
        first["same_verdict_every_time"] = verdicts.iter().all(|v| *v == verdicts[0]).into();
        first["verdicts"] = verdicts.into();
        first
    } else if let Some((name, seed, strategy, case)) = super::fuzz::parse_case_id(id) {
        let scenario = scenario_for(&name, seed, &strategy)?;
        let mut out = super::fuzz::replay_case(&scenario, &strategy, case, times)
            .with_context(|| format!("replay {id}"))?;
        out["id"] = id.into();
        out
    } else if let Some(dir) = super::fuzz::bugbase::entry(id) {
        super::fuzz::bugbase::replay_entry(&dir, times, opts)
            .with_context(|| format!("replay {id}"))?
    } else {
        return Ok(None);
    };
    Ok(Some(out))
}

/// The verdict kind of every run of a replay's output: its `verdicts` list (one per run),
/// else its one `verdict`.
fn verdict_kinds(out: &serde_json::Value) -> Result<Vec<VerdictKind>> {
    let kinds = match out.get("verdicts") {
        Some(list) => list.clone(),
        None => serde_json::Value::Array(vec![out["verdict"].clone()]),
    };
    serde_json::from_value(kinds).context("replay output without verdicts")
}

/// The scenario of a replay ID, with its seed and the strategy selected if it is not in it.
fn scenario_for(name: &str, seed: u64, strategy: &str) -> Result<Scenario> {
    let mut scenario = Scenario::load(name).map_err(|e| anyhow!("{e}"))?;
    scenario.seed = seed;
    if scenario.strategy(strategy).is_none() {
        scenario
            .select_strategies(strategy)
            .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(scenario)
}
