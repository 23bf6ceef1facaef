//! Judging a gate run against the baseline: one test case per scenario × seed × strategy,
//! per known finding, per scenario's fault classes and per benchmark figure; every failure
//! and every difference from the baseline as one line.

use super::config::Baseline;
use super::GateRun;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One JUnit test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// The JUnit suite: the scenario, `bench.<name>`, or `gate`.
    pub suite: String,
    pub name: String,
    /// `None` passed; `Some(message)` failed (the message carries the replay commands).
    pub failure: Option<String>,
    /// Skipped (and why): not a failure, but said.
    pub skipped: Option<String>,
    pub duration_s: f64,
}

/// The verdict of a gate run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub cases: Vec<TestCase>,
    /// What changed against the baseline, one line each (every failure is one).
    pub changes: Vec<String>,
    pub passed: bool,
}

fn case(suite: &str, name: &str, failure: Option<String>, duration_s: f64) -> TestCase {
    TestCase {
        suite: suite.to_string(),
        name: name.to_string(),
        failure,
        skipped: None,
        duration_s,
    }
}

/// Judges `run` against `baseline`.
pub fn judge(run: &GateRun, baseline: &Baseline) -> Judgement {
    let mut cases = Vec::new();
    let mut changes = Vec::new();
    let planned = |key: &str| run.planned.iter().any(|p| p == key);
    // Units.
    for u in &run.units {
        let key = format!("{}:{}:{}", u.scenario, u.seed, u.strategy);
        let title = format!("seed {} {}", u.seed, u.strategy);
        if u.result == "skipped" {
            cases.push(TestCase {
                skipped: Some(u.why.join("; ")),
                ..case(&u.scenario, &title, None, u.duration_s)
            });
            continue;
        }
        let expect = baseline
            .scenarios
            .get(&u.scenario)
            .and_then(|s| s.expect.get(&u.strategy));
        let caught = u.caught;
        let failure = match (u.result.as_str(), expect.map(String::as_str)) {
            ("error", _) => Some(format!("could not run: {}", u.why.join("; "))),
            (_, None) => Some(format!(
                "not in the baseline (the scenario says `{}`; this run: {}); add it",
                u.expect, u.result
            )),
            (_, Some("safe")) if !u.violations.is_empty() => {
                Some(format!("safe, but violated:\n{}", u.violations.join("\n")))
            }
            (_, Some("safe")) if !u.why.is_empty() => {
                Some(format!("safe, but untested: {}", u.why.join("; ")))
            }
            (_, Some("unsafe")) if !caught => {
                Some("a negative control that was not caught: the harness is broken".into())
            }
            (_, Some("safe" | "unsafe")) if !u.known_missing.is_empty() => Some(format!(
                "known finding(s) did not reproduce: {}",
                u.known_missing.join(", ")
            )),
            _ => None,
        };
        if let (Some(e), true) = (expect, u.expect != expect.map(String::as_str).unwrap_or("")) {
            changes.push(format!(
                "{key}: the scenario file now says `{}`, the baseline `{e}`",
                u.expect
            ));
        }
        if let Some(f) = &failure {
            changes.push(format!("{key}: {}", f.lines().next().unwrap_or("")));
        }
        cases.push(case(&u.scenario, &title, failure, u.duration_s));
    }
    // Baseline entries that did not run.
    for (scenario, s) in &baseline.scenarios {
        for strategy in s.expect.keys() {
            let in_matrix: Vec<&String> = run
                .matrix
                .iter()
                .filter(|m| unit_of(m) == Some((scenario.as_str(), strategy.as_str())))
                .collect();
            let failure = if in_matrix.is_empty() {
                Some("in the baseline, but not in the gate matrix: it did not run".to_string())
            } else if in_matrix.iter().any(|m| {
                planned(m)
                    && !run
                        .units
                        .iter()
                        .any(|u| format!("{}:{}:{}", u.scenario, u.seed, u.strategy) == **m)
            }) {
                Some("planned, but it did not run (interrupted?)".to_string())
            } else {
                None
            };
            if let Some(f) = failure {
                changes.push(format!("{scenario}:{strategy}: {f}"));
                cases.push(case(scenario, &format!("{strategy} ran"), Some(f), 0.0));
            }
        }
        // Known findings, one case each.
        for k in &s.known {
            let Some(id) = crate::replay_id::ReplayId::parse(k) else {
                continue;
            };
            let (seed, strategy) = id.seed_and_strategy();
            let key = format!("{scenario}:{seed}:{strategy}");
            if !run.matrix.contains(&key) {
                let f =
                    format!("known finding {k}: its strategy and seed are not in the gate matrix");
                changes.push(f.clone());
                cases.push(case(scenario, &format!("known {k}"), Some(f), 0.0));
                continue;
            }
            if !planned(&key) {
                continue;
            }
            let reproduced = run
                .units
                .iter()
                .any(|u| u.known_reproduced.iter().any(|r| r == k));
            let failure = (!reproduced).then(|| format!("known finding did not reproduce: {k}"));
            if let Some(f) = &failure {
                changes.push(f.clone());
            }
            cases.push(case(scenario, &format!("known {k}"), failure, 0.0));
        }
    }
    // Fault classes: a kind planned in a scenario and never hit in it tested nothing.
    type Counts<'a> = BTreeMap<&'a str, u64>;
    let mut by_scenario: BTreeMap<&str, (Counts, Counts)> = BTreeMap::new();
    for u in run.units.iter().filter(|u| u.result != "skipped") {
        let e = by_scenario.entry(&u.scenario).or_default();
        for (k, n) in &u.faults_planned {
            *e.0.entry(k).or_default() += n;
        }
        for (k, n) in &u.faults_hit {
            *e.1.entry(k).or_default() += n;
        }
    }
    for (scenario, (planned_kinds, hit)) in by_scenario {
        let never: Vec<String> = planned_kinds
            .iter()
            .filter(|(k, n)| **n > 0 && hit.get(*k).copied().unwrap_or(0) == 0)
            .map(|(k, n)| format!("{k} (planned {n}×)"))
            .collect();
        let failure = (!never.is_empty())
            .then(|| format!("fault classes planned and never hit: {}", never.join(", ")));
        if let Some(f) = &failure {
            changes.push(format!("{scenario}: {f}"));
        }
        cases.push(case(scenario, "fault classes reached", failure, 0.0));
    }
    // Benchmark figures.
    for (bench, figs) in &baseline.figures {
        let key = format!("bench:{bench}");
        if !run.matrix.contains(&key) {
            let f = format!("bench {bench} is in the baseline, not in the gate matrix");
            changes.push(f.clone());
            cases.push(case(&format!("bench.{bench}"), "ran", Some(f), 0.0));
            continue;
        }
        if !planned(&key) {
            continue;
        }
        for (name, pin) in figs {
            let got = run
                .figures
                .iter()
                .find(|f| &f.bench == bench && &f.name == name)
                .map(|f| f.value);
            let failure = match got {
                None => Some("not measured".to_string()),
                Some(v) if (v - pin.value).abs() > pin.tolerance + 1e-9 => {
                    Some(format!("{v} is outside {} ± {}", pin.value, pin.tolerance))
                }
                Some(_) => None,
            };
            if let Some(f) = &failure {
                changes.push(format!("bench.{bench} `{name}`: {f}"));
            }
            cases.push(case(&format!("bench.{bench}"), name, failure, 0.0));
        }
    }
    for f in &run.figures {
        let pinned = baseline
            .figures
            .get(&f.bench)
            .is_some_and(|m| m.contains_key(&f.name));
        if !pinned {
            let msg = format!(
                "bench.{} `{}` = {} is not pinned in the baseline",
                f.bench, f.name, f.value
            );
            changes.push(msg.clone());
            cases.push(case(&format!("bench.{}", f.bench), &f.name, Some(msg), 0.0));
        }
    }
    if run.interrupted {
        changes.push("the gate was interrupted: partial results".into());
        cases.push(case("gate", "finished", Some("interrupted".into()), 0.0));
    }
    let passed = cases.iter().all(|c| c.failure.is_none());
    Judgement {
        cases,
        changes,
        passed,
    }
}

/// `(scenario, strategy)` of a matrix key `scenario:seed:strategy` (the scenario may hold `:`;
/// the seed is the first all-digit field from the right after the strategy).
fn unit_of(key: &str) -> Option<(&str, &str)> {
    let (rest, strategy) = key.rsplit_once(':')?;
    let (mut scenario, mut seed) = rest.rsplit_once(':')?;
    let mut strategy_start = strategy;
    if seed == "external" {
        let (s2, seed2) = scenario.rsplit_once(':')?;
        scenario = s2;
        seed = seed2;
        strategy_start = &key[key.len() - strategy.len() - "external:".len()..];
    }
    seed.parse::<u64>().ok()?;
    Some((scenario, strategy_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_keys_split_into_scenario_and_strategy() {
        assert_eq!(
            unit_of("wal-storm:1:api-step"),
            Some(("wal-storm", "api-step"))
        );
        assert_eq!(
            unit_of("tools:1:external:python-backup"),
            Some(("tools", "external:python-backup"))
        );
        assert_eq!(unit_of("bench:restarts"), None);
    }

    /// A figure passes inside its band (edges included) and fails on either side of it: a
    /// figure that fell below its pin is as much a change as one above it.
    #[test]
    fn a_figure_fails_below_its_band_as_well_as_above() {
        let baseline =
            Baseline::parse("[bench.restarts]\n\"steps\" = { value = 10, tolerance = 2 }\n")
                .unwrap();
        let judged = |value: f64| {
            let run = GateRun {
                sqlite_version: "3.test".into(),
                shard: None,
                matrix: vec!["bench:restarts".into()],
                planned: vec!["bench:restarts".into()],
                units: Vec::new(),
                figures: vec![crate::gate::Figure {
                    bench: "restarts".into(),
                    name: "steps".into(),
                    value,
                }],
                known_unchecked: Vec::new(),
                duration_s: 1.0,
                interrupted: false,
                interrupted_by: None,
            };
            judge(&run, &baseline)
        };
        for inside in [8.0, 10.0, 12.0] {
            let j = judged(inside);
            assert!(j.passed, "{inside}: {:?}", j.changes);
        }
        for outside in [7.0, 0.0, -5.0, 13.0] {
            let j = judged(outside);
            assert!(!j.passed, "{outside} passed");
            assert!(
                j.changes
                    .iter()
                    .any(|c| c.contains(&format!("{outside} is outside 10 ± 2"))),
                "{outside}: {:?}",
                j.changes
            );
        }
    }
}
