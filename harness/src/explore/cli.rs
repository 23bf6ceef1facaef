//! The command-line side of exploration: the `crash-points` and `fuzz` scenario modes, `replay`
//! of crash-point and bug-base IDs, and `bench crash-rate`. Called from `crate::cli`.
//!
//! Why its own module: it keeps `cli.rs` (shared by every command) to a few dispatch lines, and
//! like `cli.rs` it speaks `anyhow` and exit codes: 0 expectations met, 1 not (or the
//! doublecheck hashes differ), 2 could not run, 130 interrupted.

use super::sweep::{self, SweepOptions};
use crate::scenario::Scenario;
use anyhow::{anyhow, Context, Result};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// `scenario NAME` for `mode = "crash-points"`.
pub fn crash_points(
    scenario: &Scenario,
    scenario_id: &str,
    sample: Option<u32>,
    doublecheck: bool,
    json: Option<&Path>,
    report_dir: &Path,
    interrupted: Arc<AtomicBool>,
) -> Result<i32> {
    let opts = SweepOptions {
        sample: sample.filter(|&n| n > 0),
        doublecheck,
        progress: true,
    };
    let report = sweep::run(scenario, scenario_id, &opts, interrupted);
    print!("{}", report.table());
    let dir = crate::report::run_dir(report_dir, &report.scenario);
    let written = report
        .write(&dir)
        .with_context(|| format!("writing the report to {}", dir.display()))?;
    if let Some(path) = json {
        report
            .write_json(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let tested: u64 = report.strategies.iter().map(|c| c.points_tested).sum();
    let total: u64 = report.strategies.iter().map(|c| c.points_total).sum();
    println!(
        "\n{tested}/{total} crash points in {:.1} s\nreport: {}",
        report.duration_s,
        written.display()
    );
    if report.interrupted {
        eprintln!("interrupted: partial report written");
        return Ok(130);
    }
    if let Some(e) = &report.error {
        eprintln!("error: {e}");
        return Ok(2);
    }
    let deterministic = report.doublecheck.as_ref().is_none_or(|d| d.equal);
    Ok(if report.expectations_met && deterministic {
        0
    } else {
        1
    })
}

/// `scenario NAME` for `mode = "fuzz"`.
pub fn fuzz(
    scenario: &Scenario,
    cases: Option<u32>,
    json: Option<&Path>,
    interrupted: Arc<AtomicBool>,
) -> Result<i32> {
    let mut scenario = scenario.clone();
    if let Some(n) = cases {
        scenario.fuzz.cases = n;
    }
    let report = super::fuzz::run(&scenario, &interrupted).map_err(|e| anyhow!("{e}"))?;
    let text = serde_json::to_string_pretty(&report).expect("json");
    if let Some(path) = json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{text}");
    Ok(if report.expectations_met { 0 } else { 1 })
}

/// `replay ID` for crash-point and bug-base IDs; `Ok(None)` when `id` is neither.
pub fn replay(id: &str, json: Option<&Path>, times: u32) -> Result<Option<i32>> {
    let out = if let Some(pid) = sweep::parse_replay_id(id) {
        let mut scenario = Scenario::load(&pid.scenario).map_err(|e| anyhow!("{e}"))?;
        scenario.seed = pid.seed;
        if scenario.strategy(&pid.strategy).is_none() {
            scenario
                .select_strategies(&pid.strategy)
                .map_err(|e| anyhow!("{e}"))?;
        }
        let mut runs = Vec::new();
        for _ in 0..times.max(1) {
            runs.push(sweep::replay(&pid, &scenario).with_context(|| format!("replay {id}"))?);
        }
        let mut first = runs.remove(0);
        let same = runs.iter().all(|r| r["verdict"] == first["verdict"]);
        first["id"] = id.into();
        first["times"] = (runs.len() + 1).into();
        first["same_verdict_every_time"] = same.into();
        first
    } else if let Some(dir) = super::fuzz::bugbase_entry(id) {
        super::fuzz::replay_entry(&dir, times).with_context(|| format!("replay {id}"))?
    } else {
        return Ok(None);
    };
    let text = serde_json::to_string_pretty(&out).expect("json");
    if let Some(path) = json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "{id}: {} ({})",
        out["verdict"].as_str().unwrap_or("?"),
        out["detail"].as_str().unwrap_or("")
    );
    if json.is_none() {
        println!("{text}");
    }
    Ok(Some(0))
}

/// `bench crash-rate`.
pub fn bench_crash_rate(json: Option<&Path>, seconds: f64) -> Result<i32> {
    let r = super::rate::run(seconds).map_err(|e| anyhow!("{e}"))?;
    let text = serde_json::to_string_pretty(&r).expect("json");
    if let Some(path) = json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{text}");
    Ok(0)
}
