//! The matrix cut into units, the deterministic shard split, and running one unit.
//!
//! A unit is one strategy of one scenario with one seed (storm iterations, crash-point
//! combos and fuzz cases of different strategies are independent: each is seeded from the
//! scenario seed and the strategy alone), or one benchmark. Shard `K/N` takes the units whose
//! position in the matrix is `K-1` modulo `N`.

use super::config::{Baseline, GateConfig, RunSpec};
use super::{Figure, UnitResult};
use crate::process::Interrupt;
use crate::report::{untested_reasons, Outcome, Report};
use crate::scenario::{Expect, Mode, Scenario};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// One unit of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Unit {
    Scenario {
        spec: RunSpec,
        scenario: Box<Scenario>,
        /// The name reports and replay IDs use.
        name: String,
        seed: u64,
        strategy: String,
    },
    Restarts,
}

impl Unit {
    /// `scenario:seed:strategy`, or `bench:restarts`.
    pub fn key(&self) -> String {
        match self {
            Unit::Scenario {
                name,
                seed,
                strategy,
                ..
            } => format!("{name}:{seed}:{strategy}"),
            Unit::Restarts => "bench:restarts".into(),
        }
    }
}

/// A `--shard K/N` value.
pub fn parse_shard(s: &str) -> Option<(u32, u32)> {
    let (k, n) = s.split_once('/')?;
    let (k, n): (u32, u32) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
    (n >= 1 && (1..=n).contains(&k)).then_some((k, n))
}

/// Every unit of the matrix, in matrix order. Scenario paths are relative to `base` (the gate
/// file's directory) unless they name a bundled scenario.
pub fn plan(cfg: &GateConfig, base: &Path, baseline: &Baseline) -> Result<Vec<Unit>, String> {
    let mut units = Vec::new();
    for spec in &cfg.runs {
        let loaded = if spec.scenario.ends_with(".toml") {
            Scenario::load(&base.join(&spec.scenario).display().to_string())
        } else {
            Scenario::load(&spec.scenario)
        }
        .map_err(|e| e.to_string())?;
        let mut scenario = loaded;
        let name = scenario.name.clone();
        if let Some(b) = baseline.scenarios.get(&name) {
            for k in &b.known {
                if !scenario.known.contains(k) {
                    scenario.known.push(k.clone());
                }
            }
        }
        if let Some(only) = &spec.strategies {
            if let Some(bad) = only.iter().find(|id| scenario.strategy(id).is_none()) {
                return Err(format!(
                    "run `{}`: no strategy `{bad}` in the scenario",
                    spec.scenario
                ));
            }
        }
        for &seed in &spec.seeds {
            for entry in &scenario.strategies {
                if spec
                    .strategies
                    .as_ref()
                    .is_some_and(|only| !only.iter().any(|id| id == entry.id()))
                {
                    continue;
                }
                units.push(Unit::Scenario {
                    spec: spec.clone(),
                    scenario: Box::new(scenario.clone()),
                    name: name.clone(),
                    seed,
                    strategy: entry.id().to_string(),
                });
            }
        }
    }
    if cfg.bench.restarts {
        units.push(Unit::Restarts);
    }
    Ok(units)
}

/// The units of shard `k` of `n` (1-based).
pub fn shard(units: Vec<Unit>, k: u32, n: u32) -> Vec<Unit> {
    units
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i as u32 % n == k - 1)
        .map(|(_, u)| u)
        .collect()
}

/// What running a unit gave.
pub enum UnitOutput {
    Result(Box<UnitResult>),
    Figures(Vec<Figure>),
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Violated => "violated",
        Outcome::Untested => "untested",
        Outcome::Caught => "caught",
        Outcome::NotCaught => "not-caught",
        Outcome::Reported => "reported",
        Outcome::KnownMissing => "known-missing",
    }
}

/// The result of a unit that this machine could not run (a scratch file system too small, a
/// full disk, no memory): the gate exits 2 for it, not 1, since nothing regressed.
pub const COULD_NOT_RUN_HERE: &str = "could-not-run-here";

/// Whether a unit's error is the machine's: the run's own free-space refusal or a helper that
/// stopped on a full disk (`environment: ...`), or a full disk or memory met anywhere else.
fn could_not_run_here(error: &str) -> bool {
    [
        "environment: ",
        "No space left on device",
        "database or disk is full",
        "Cannot allocate memory",
    ]
    .iter()
    .any(|m| error.contains(m))
}

/// Runs one unit. Errors become an `error` result (the gate fails on them; the machine's, a
/// [`COULD_NOT_RUN_HERE`] one), never a panic.
pub fn run(unit: &Unit, interrupted: &Interrupt) -> UnitOutput {
    match unit {
        Unit::Restarts => UnitOutput::Figures(restart_figures()),
        Unit::Scenario {
            spec,
            scenario,
            name,
            seed,
            strategy,
        } => {
            let started = Instant::now();
            let mut r = match run_scenario(spec, scenario, name, *seed, strategy, interrupted) {
                Ok(r) => r,
                Err(e) => {
                    let expect = scenario
                        .strategy(strategy)
                        .map_or("", |e| e.expect.as_str());
                    UnitResult {
                        result: if could_not_run_here(&e) {
                            COULD_NOT_RUN_HERE.into()
                        } else {
                            "error".into()
                        },
                        why: vec![e],
                        ..UnitResult::new(name, *seed, strategy, expect)
                    }
                }
            };
            r.duration_s = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
            UnitOutput::Result(Box::new(r))
        }
    }
}

fn run_scenario(
    spec: &RunSpec,
    scenario: &Scenario,
    name: &str,
    seed: u64,
    strategy: &str,
    interrupted: &Interrupt,
) -> Result<UnitResult, String> {
    let mut s = scenario.clone();
    s.seed = seed;
    s.select_strategies(strategy).map_err(|e| e.to_string())?;
    let entry = s.strategies[0].clone();
    let mut out = UnitResult::new(name, seed, strategy, entry.expect.as_str());
    if crate::strategy::external::is_external(&entry.name) {
        if let Err(e) =
            crate::strategy::external::check_installed(&entry.name, &entry.params, &entry.requires)
        {
            if spec.optional_tools {
                out.result = "skipped".into();
                out.why = vec![format!("not installed: {e}")];
                return Ok(out);
            }
            return Err(e.to_string());
        }
    }
    match s.mode {
        Mode::Storm => {
            if let Some(n) = spec.iterations {
                s.iterations = n;
            }
            let mut ctx =
                crate::run::RunContext::new(s.clone(), name.to_string(), interrupted.clone())
                    .map_err(|e| e.to_string())?;
            let run = crate::run::run_scenario(
                &mut ctx,
                &crate::run::Selection::default(),
                false,
                |_| {},
            );
            if let Some(e) = &run.error {
                return Err(e.clone());
            }
            let report = Report::build(&run);
            let sr = report
                .strategies
                .into_iter()
                .next()
                .ok_or("no strategy row")?;
            out.result = outcome_name(sr.result).into();
            out.why = sr.untested_because;
            out.why.extend(
                report
                    .known_unchecked
                    .iter()
                    .map(|k| format!("known finding not checked: {k}")),
            );
            if !report.known_unchecked.is_empty() && sr.result.is_met() {
                out.result = "known-missing".into();
            }
            out.violations = sr
                .violations
                .iter()
                .filter(|v| !v.known)
                .map(|v| format!("{}: {}", v.kind.as_str(), v.replay))
                .collect();
            out.caught = sr
                .violations
                .iter()
                .any(|v| entry.caught_as.is_empty() || entry.caught_as.contains(&v.kind));
            out.known_reproduced = sr.known_reproduced;
            out.known_missing = sr.known_missing;
            out.faults_planned = sr.faults_planned;
            out.faults_hit = sr.faults_hit;
        }
        Mode::CrashPoints => {
            let opts = crate::explore::sweep::SweepOptions {
                sample: spec.sample,
                doublecheck: false,
                progress: false,
            };
            let report = crate::explore::sweep::run(&s, name, &opts, interrupted.clone());
            if let Some(e) = &report.error {
                return Err(e.clone());
            }
            let mut unexpected = Vec::new();
            for c in &report.strategies {
                for (k, n) in &c.faults_planned {
                    *out.faults_planned.entry(k.clone()).or_default() += n;
                }
                for (k, n) in &c.faults_hit {
                    *out.faults_hit.entry(k.clone()).or_default() += n;
                }
                out.known_reproduced
                    .extend(c.known_reproduced.iter().cloned());
                out.known_missing.extend(c.known_missing.iter().cloned());
                unexpected.extend(
                    c.violations
                        .iter()
                        .filter(|v| !v.known)
                        .map(|v| format!("{}: {}", v.kind.as_str(), v.replay)),
                );
            }
            let all = report
                .strategies
                .iter()
                .map(|c| c.violations.len())
                .sum::<usize>();
            out.caught = all > 0;
            out.why = untested_reasons(
                &out.faults_planned,
                &out.faults_hit,
                &BTreeMap::new(),
                &BTreeMap::new(),
                1,
                s.faults.min_fault_hit,
            );
            out.why.extend(
                report
                    .known_unchecked
                    .iter()
                    .map(|k| format!("known finding not checked: {k}")),
            );
            let mut missing = out.known_missing.clone();
            missing.extend(report.known_unchecked.iter().cloned());
            let counted = if entry.expect == Expect::Safe {
                unexpected.len()
            } else {
                all
            };
            out.result =
                outcome_name(Outcome::judge(entry.expect, counted, &out.why, &missing)).into();
            unexpected.truncate(20);
            out.violations = unexpected;
        }
        Mode::Fuzz => {
            if let Some(n) = spec.cases {
                s.fuzz.cases = n;
            }
            // Shrunk cases go to a scratch bug base, never into the repository.
            let bugs = crate::run::scratch_dir("sqlite-backup-harness-gate-bugbase-")
                .map_err(|e| format!("scratch bug base: {e}"))?;
            s.fuzz.bugbase = Some(bugs.path().to_path_buf());
            let report = crate::explore::fuzz::run(&s, name, interrupted);
            if let Some(e) = &report.error {
                return Err(e.clone());
            }
            let fr = report
                .strategies
                .into_iter()
                .next()
                .ok_or("no strategy row")?;
            out.faults_planned.insert("fuzz-fault".into(), fr.cases);
            out.faults_hit
                .insert("fuzz-fault".into(), fr.faults_fired.min(fr.cases));
            let ids: Vec<&str> = fr
                .violations
                .iter()
                .filter_map(|v| v.replay.rsplit(' ').next())
                .collect();
            let kc = crate::report::known::check(&s.known, seed, strategy, |_| true, &ids);
            out.why = if fr.faults_fired == 0 {
                vec!["no fault fired in any case".into()]
            } else {
                Vec::new()
            };
            let counted = if entry.expect == Expect::Safe {
                kc.unexpected
            } else {
                fr.violations.len()
            };
            out.result =
                outcome_name(Outcome::judge(entry.expect, counted, &out.why, &kc.missing)).into();
            out.violations = fr
                .violations
                .iter()
                .filter(|v| {
                    !crate::report::known::is_known(
                        &s.known,
                        v.replay.rsplit(' ').next().unwrap_or(""),
                    )
                })
                .take(20)
                .map(|v| format!("{}: {}", v.kind.as_str(), v.replay))
                .collect();
            out.caught = !fr.violations.is_empty();
            out.known_reproduced = kc.reproduced;
            out.known_missing = kc.missing;
        }
    }
    Ok(out)
}

/// The quick restarts grid, reduced to the figures the baseline pins: facts of SQLite's
/// backup that hold on any machine, not timings.
fn restart_figures() -> Vec<Figure> {
    use crate::bench::restarts::{cell::Variant, run_grid, GridConfig, RestartsArgs};
    let args = RestartsArgs {
        quick: true,
        json: None,
        svg: None,
        csv: None,
        pages: 2000,
        repeats: None,
        budget_ms: None,
        baseline: None,
        report_dir: std::env::temp_dir(),
        deterministic: false,
    };
    let cfg = GridConfig::from_args(&args);
    let fig = |name: &str, value: f64| Figure {
        bench: "restarts".into(),
        name: name.into(),
        value,
    };
    let report = match run_grid(&cfg, true, |_| {}) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("bench restarts: {e:#}");
            return vec![fig("grid ran", 0.0)];
        }
    };
    let rows = &report.rows;
    let rate0 = |r: &&crate::bench::restarts::Row| r.writer_rate.as_f64() == Some(0.0);
    let frac = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let all = rows.iter().filter(|r| r.npage == -1).count();
    let done = rows.iter().filter(|r| r.npage == -1 && r.completed).count();
    let agree = rows.iter().filter(|r| r.restarts_agree).count();
    let one_1000 = rows
        .iter()
        .filter(|r| r.npage == 1 && r.writer_rate.as_f64() == Some(1000.0))
        .filter(|r| r.completed)
        .count();
    vec![
        fig("grid ran", 1.0),
        fig(
            "restarts without writers",
            rows.iter().filter(rate0).map(|r| r.restarts).sum(),
        ),
        fig(
            "restarts of the same-connection backup",
            rows.iter()
                .filter(|r| r.variant == Variant::SameConnection)
                .map(|r| r.restarts)
                .sum(),
        ),
        fig("npage -1 completes (fraction of rates)", frac(done, all)),
        fig(
            "npage 1 at 1000 commits/s completes (cells)",
            one_1000 as f64,
        ),
        fig(
            "restart counters agree (fraction of cells)",
            frac(agree, rows.len()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_matrix() {
        assert_eq!(parse_shard("2/3"), Some((2, 3)));
        for bad in ["0/3", "4/3", "1/0", "x", "1-3"] {
            assert_eq!(parse_shard(bad), None, "{bad}");
        }
        let units: Vec<Unit> = (0..10).map(|_| Unit::Restarts).collect();
        let sizes: Vec<usize> = (1..=3).map(|k| shard(units.clone(), k, 3).len()).collect();
        assert_eq!(sizes, vec![4, 3, 3]);
    }

    #[test]
    fn the_machines_errors_are_told_from_the_runs() {
        for e in [
            "environment: /tmp/x: 1 MiB free, an iteration of this scenario needs about 64 MiB",
            "api-step iteration 0 (seed 1): writing /tmp/x/src.db: No space left on device (os error 28)",
            "setup: database or disk is full",
        ] {
            assert!(could_not_run_here(e), "{e}");
        }
        for e in [
            "setup: no such table: t",
            "oracle: model replay to 3: bad",
            "",
        ] {
            assert!(!could_not_run_here(e), "{e}");
        }
    }
}
