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
    /// Units this machine could not run (`key: why`): the gate exits 2 for them, not 1.
    pub could_not_run_here: Vec<String>,
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
    let mut could_not_run_here = Vec::new();
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
            (super::units::COULD_NOT_RUN_HERE, _) => {
                could_not_run_here.push(format!("{key}: {}", u.why.join("; ")));
                Some(format!(
                    "could not run on this machine: {}",
                    u.why.join("; ")
                ))
            }
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
        could_not_run_here,
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
    use super::super::config::Pinned;
    use super::super::Figure;
    use super::super::UnitResult;
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
        assert_eq!(unit_of("a:b:1:api-step"), Some(("a:b", "api-step")));
        assert_eq!(unit_of("tools:x:external:cp"), None);
        assert_eq!(unit_of("tools:x:api-step"), None);
        assert_eq!(unit_of("api-step"), None);
    }

    const S: &str = "sc";

    /// A unit of scenario `sc`, seed 1, that ran with `result`.
    fn unit(strategy: &str, expect: &str, result: &str) -> UnitResult {
        let mut u = UnitResult::new(S, 1, strategy, expect);
        u.result = result.to_string();
        u
    }

    fn key(strategy: &str) -> String {
        format!("{S}:1:{strategy}")
    }

    /// A run whose whole matrix is `units` (all planned), and a baseline expecting each
    /// unit's declared expectation.
    fn run_of(units: Vec<UnitResult>) -> (GateRun, Baseline) {
        let keys: Vec<String> = units.iter().map(|u| key(&u.strategy)).collect();
        let mut run = GateRun::new("3".into(), None, keys.clone(), keys);
        let mut baseline = Baseline::default();
        let sb = baseline.scenarios.entry(S.to_string()).or_default();
        for u in &units {
            sb.expect.insert(u.strategy.clone(), u.expect.clone());
        }
        run.units = units;
        (run, baseline)
    }

    fn failures(j: &Judgement) -> Vec<String> {
        j.cases
            .iter()
            .filter_map(|c| c.failure.as_ref().map(|f| format!("{}: {f}", c.name)))
            .collect()
    }

    fn failure_of<'a>(j: &'a Judgement, name: &str) -> Option<&'a str> {
        let c = j.cases.iter().find(|c| c.name == name);
        c.unwrap_or_else(|| panic!("no case {name:?} in {:?}", j.cases))
            .failure
            .as_deref()
    }

    #[test]
    fn a_clean_run_passes_with_one_case_per_unit_and_scenario() {
        let mut safe = unit("api-step", "safe", "ok");
        safe.faults_planned.insert("kill-delay".into(), 2);
        safe.faults_hit.insert("kill-delay".into(), 1);
        let mut control = unit("copy-naive", "unsafe", "caught");
        control.caught = true;
        control.violations = vec!["torn: replay x".into()];
        let (run, baseline) = run_of(vec![safe, control]);
        let j = judge(&run, &baseline);
        assert!(j.passed, "{:?}", failures(&j));
        assert!(j.changes.is_empty(), "{:?}", j.changes);
        let names: Vec<&str> = j.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "seed 1 api-step",
                "seed 1 copy-naive",
                "fault classes reached"
            ]
        );
        assert!(j.cases.iter().all(|c| c.suite == S && c.skipped.is_none()));
    }

    #[test]
    fn a_control_counts_only_when_caught_by_its_own_mechanism() {
        // Violations of other kinds than its `caught_as`: the unit says not caught.
        let mut control = unit("copy-naive", "unsafe", "not-caught");
        control.violations = vec!["stall: replay x".into()];
        let (run, baseline) = run_of(vec![control]);
        let j = judge(&run, &baseline);
        assert!(!j.passed);
        let f = failure_of(&j, "seed 1 copy-naive").expect("a failure");
        assert!(f.contains("not caught"), "{f}");
        assert_eq!(j.changes, [format!("{}: {f}", key("copy-naive"))]);
    }

    #[test]
    fn a_safe_unit_fails_when_violated_or_untested() {
        let mut violated = unit("api-step", "safe", "violated");
        violated.violations = vec!["torn: cargo run -- replay a".into(), "corrupt: b".into()];
        let mut untested = unit("api-oneshot", "safe", "untested");
        untested.why = vec!["kill-delay hit 0 of 3".into(), "no success".into()];
        let (run, baseline) = run_of(vec![violated, untested]);
        let j = judge(&run, &baseline);
        assert!(!j.passed);
        assert_eq!(
            failure_of(&j, "seed 1 api-step"),
            Some("safe, but violated:\ntorn: cargo run -- replay a\ncorrupt: b")
        );
        assert_eq!(
            failure_of(&j, "seed 1 api-oneshot"),
            Some("safe, but untested: kill-delay hit 0 of 3; no success")
        );
        // One line per failure in the changes: the first line of the message.
        assert_eq!(
            j.changes,
            [
                format!("{}: safe, but violated:", key("api-step")),
                format!(
                    "{}: safe, but untested: kill-delay hit 0 of 3; no success",
                    key("api-oneshot")
                ),
            ]
        );
    }

    #[test]
    fn an_any_unit_passes_with_violations_and_untested() {
        let mut u = unit("api-step", "any", "reported");
        u.violations = vec!["torn: x".into()];
        u.why = vec!["untested".into()];
        u.known_missing = vec!["k".into()];
        let (run, baseline) = run_of(vec![u]);
        assert!(judge(&run, &baseline).passed);
    }

    #[test]
    fn known_findings_missing_fail_safe_and_unsafe_units() {
        for expect in ["safe", "unsafe"] {
            let mut u = unit("api-step", expect, "known-missing");
            u.caught = true;
            u.known_missing = vec!["sc:1:api-step:3".into(), "sc:1:api-step:4".into()];
            let (run, baseline) = run_of(vec![u]);
            let j = judge(&run, &baseline);
            assert_eq!(
                failure_of(&j, "seed 1 api-step"),
                Some("known finding(s) did not reproduce: sc:1:api-step:3, sc:1:api-step:4"),
                "{expect}"
            );
        }
    }

    #[test]
    fn a_unit_the_machine_could_not_run_is_listed_apart_for_exit_2() {
        let mut u = unit("api-step", "safe", crate::gate::units::COULD_NOT_RUN_HERE);
        u.why = vec!["environment: /x: 1 MiB free".into()];
        let ok = unit("api-oneshot", "safe", "ok");
        let (run, baseline) = run_of(vec![u, ok]);
        let j = judge(&run, &baseline);
        assert!(!j.passed);
        assert_eq!(
            j.could_not_run_here,
            ["sc:1:api-step: environment: /x: 1 MiB free"]
        );
        assert_eq!(
            failure_of(&j, "seed 1 api-step"),
            Some("could not run on this machine: environment: /x: 1 MiB free")
        );
        let (run, baseline) = run_of(vec![unit("api-step", "safe", "error")]);
        assert!(judge(&run, &baseline).could_not_run_here.is_empty());
    }

    #[test]
    fn a_unit_that_could_not_run_fails_whatever_its_expectation() {
        for expect in ["safe", "unsafe", "any"] {
            let mut u = unit("api-step", expect, "error");
            u.caught = true;
            u.why = vec!["no tool".into(), "at all".into()];
            let (run, baseline) = run_of(vec![u]);
            let j = judge(&run, &baseline);
            assert_eq!(
                failure_of(&j, "seed 1 api-step"),
                Some("could not run: no tool; at all"),
                "{expect}"
            );
        }
    }

    #[test]
    fn a_unit_outside_the_baseline_fails_and_a_changed_expectation_is_said() {
        let (mut run, mut baseline) = run_of(vec![unit("api-step", "safe", "ok")]);
        let sb = baseline.scenarios.get_mut(S).unwrap();
        sb.expect.clear();
        let j = judge(&run, &baseline);
        assert_eq!(
            failure_of(&j, "seed 1 api-step"),
            Some("not in the baseline (the scenario says `safe`; this run: ok); add it")
        );
        // In the baseline as `any`, the scenario says `safe`: passes, the change is said.
        baseline
            .scenarios
            .get_mut(S)
            .unwrap()
            .expect
            .insert("api-step".into(), "any".into());
        run.units[0].violations = vec!["torn: x".into()];
        let j = judge(&run, &baseline);
        assert!(j.passed, "{:?}", failures(&j));
        assert_eq!(
            j.changes,
            [format!(
                "{}: the scenario file now says `safe`, the baseline `any`",
                key("api-step")
            )]
        );
    }

    #[test]
    fn skipped_units_are_skipped_cases_and_count_no_fault_classes() {
        let mut u = unit("external:cp", "unsafe", "skipped");
        u.why = vec!["not installed".into(), "at all".into()];
        u.faults_planned.insert("kill-delay".into(), 3);
        let (run, baseline) = run_of(vec![u]);
        let j = judge(&run, &baseline);
        assert!(j.passed, "{:?}", failures(&j));
        assert_eq!(j.cases.len(), 1, "{:?}", j.cases);
        assert_eq!(j.cases[0].skipped.as_deref(), Some("not installed; at all"));
        assert!(j.cases[0].failure.is_none());
    }

    #[test]
    fn baseline_entries_that_did_not_run_fail() {
        // Not in the matrix at all.
        let (run, mut baseline) = run_of(vec![unit("api-step", "safe", "ok")]);
        let sb = baseline.scenarios.get_mut(S).unwrap();
        sb.expect.insert("vacuum-into".into(), "safe".into());
        let j = judge(&run, &baseline);
        assert_eq!(
            failure_of(&j, "vacuum-into ran"),
            Some("in the baseline, but not in the gate matrix: it did not run")
        );
        assert_eq!(failures(&j).len(), 1);
        // In the matrix and planned, but no unit came back (interrupted).
        let mut run2 = run.clone();
        run2.matrix.push(key("vacuum-into"));
        run2.planned.push(key("vacuum-into"));
        let j = judge(&run2, &baseline);
        assert_eq!(
            failure_of(&j, "vacuum-into ran"),
            Some("planned, but it did not run (interrupted?)")
        );
        // In the matrix, another shard's: nothing to say here.
        let mut run3 = run.clone();
        run3.matrix.push(key("vacuum-into"));
        let j = judge(&run3, &baseline);
        assert!(j.passed, "{:?}", failures(&j));
        assert!(!j.cases.iter().any(|c| c.name == "vacuum-into ran"));
    }

    #[test]
    fn known_findings_must_reproduce_where_they_ran() {
        let id = "sc:1:copy-naive:3";
        let mut control = unit("copy-naive", "unsafe", "caught");
        control.caught = true;
        let (mut run, mut baseline) = run_of(vec![control]);
        baseline.scenarios.get_mut(S).unwrap().known = vec![id.into(), "not an id".into()];
        let j = judge(&run, &baseline);
        assert_eq!(
            failure_of(&j, &format!("known {id}")),
            Some(format!("known finding did not reproduce: {id}").as_str())
        );
        assert!(j
            .changes
            .contains(&format!("known finding did not reproduce: {id}")));
        run.units[0].known_reproduced = vec![id.into()];
        let j = judge(&run, &baseline);
        assert!(j.passed, "{:?}", failures(&j));
        assert_eq!(failure_of(&j, &format!("known {id}")), None);
        // Not planned in this shard: no case.
        run.planned.clear();
        run.units.clear();
        let j = judge(&run, &baseline);
        assert!(!j.cases.iter().any(|c| c.name.starts_with("known")));
        // Its seed is not in the matrix.
        baseline.scenarios.get_mut(S).unwrap().known = vec!["sc:2:copy-naive:3".into()];
        let j = judge(&run, &baseline);
        assert_eq!(
            failure_of(&j, "known sc:2:copy-naive:3"),
            Some(
                "known finding sc:2:copy-naive:3: its strategy and seed are not in the gate matrix"
            )
        );
    }

    #[test]
    fn a_fault_class_planned_and_never_hit_in_a_scenario_fails() {
        let mut a = unit("api-step", "safe", "ok");
        a.faults_planned.insert("kill-delay".into(), 2);
        a.faults_planned.insert("power-cut".into(), 1);
        a.faults_planned.insert("busy".into(), 0);
        let mut b = unit("api-oneshot", "safe", "ok");
        b.faults_planned.insert("kill-delay".into(), 3);
        b.faults_planned.insert("torn".into(), 4);
        b.faults_hit.insert("kill-delay".into(), 1);
        b.faults_hit.insert("torn".into(), 0);
        let (mut run, baseline) = run_of(vec![a, b]);
        let j = judge(&run, &baseline);
        // A hit in another unit of the scenario counts; a kind planned 0 times is not said.
        assert_eq!(
            failure_of(&j, "fault classes reached"),
            Some("fault classes planned and never hit: power-cut (planned 1×), torn (planned 4×)")
        );
        assert!(j.changes.contains(&format!(
            "{S}: fault classes planned and never hit: power-cut (planned 1×), torn (planned 4×)"
        )));
        run.units[0].faults_hit.insert("power-cut".into(), 1);
        run.units[1].faults_hit.insert("torn".into(), 2);
        let j = judge(&run, &baseline);
        assert!(j.passed, "{:?}", failures(&j));
    }

    fn bench_run(value: Option<f64>) -> (GateRun, Baseline) {
        let (mut run, mut baseline) = run_of(vec![]);
        run.matrix.push("bench:restarts".into());
        run.planned.push("bench:restarts".into());
        if let Some(value) = value {
            run.figures.push(Figure {
                bench: "restarts".into(),
                name: "rate".into(),
                value,
            });
        }
        baseline
            .figures
            .entry("restarts".into())
            .or_default()
            .insert(
                "rate".into(),
                Pinned {
                    value: 10.0,
                    tolerance: 2.0,
                },
            );
        (run, baseline)
    }

    #[test]
    fn a_benchmark_figure_passes_only_inside_its_band() {
        for v in [8.0, 9.5, 10.0, 11.0, 12.0] {
            let (run, baseline) = bench_run(Some(v));
            let j = judge(&run, &baseline);
            assert!(j.passed, "{v}: {:?}", failures(&j));
            assert_eq!(failure_of(&j, "rate"), None, "{v}");
        }
        for v in [7.9, 0.0, -10.0, 12.1, 100.0] {
            let (run, baseline) = bench_run(Some(v));
            let j = judge(&run, &baseline);
            assert!(!j.passed, "{v} passed");
            let msg = format!("{v} is outside 10 ± 2");
            assert_eq!(failure_of(&j, "rate"), Some(msg.as_str()), "{v}");
            assert_eq!(j.changes, [format!("bench.restarts `rate`: {msg}")]);
        }
        let (run, baseline) = bench_run(None);
        let j = judge(&run, &baseline);
        assert_eq!(failure_of(&j, "rate"), Some("not measured"));
    }

    #[test]
    fn a_figure_is_judged_by_its_own_bench_and_name() {
        // The same name in another bench, measured first, is not this bench's figure.
        let (mut run, mut baseline) = bench_run(Some(10.0));
        run.figures.insert(
            0,
            Figure {
                bench: "other".into(),
                name: "rate".into(),
                value: 100.0,
            },
        );
        baseline.figures.entry("other".into()).or_default().insert(
            "rate".into(),
            Pinned {
                value: 100.0,
                tolerance: 0.0,
            },
        );
        run.matrix.push("bench:other".into());
        run.planned.push("bench:other".into());
        let j = judge(&run, &baseline);
        assert!(j.passed, "{:?}", failures(&j));
        // Another name in this bench is not it either.
        let (mut run, baseline) = bench_run(None);
        run.figures.push(Figure {
            bench: "restarts".into(),
            name: "rate2".into(),
            value: 10.0,
        });
        let j = judge(&run, &baseline);
        assert_eq!(failure_of(&j, "rate"), Some("not measured"));
    }

    #[test]
    fn benchmarks_outside_the_matrix_or_unpinned_fail() {
        let (mut run, baseline) = bench_run(Some(10.0));
        run.matrix.clear();
        run.planned.clear();
        let j = judge(&run, &baseline);
        assert_eq!(
            failure_of(&j, "ran"),
            Some("bench restarts is in the baseline, not in the gate matrix")
        );
        // In the matrix, another shard's: its pinned figures are not judged here, but a
        // figure this run measured and the baseline does not pin is.
        let (mut run, baseline) = bench_run(Some(10.0));
        run.planned.clear();
        run.figures.push(Figure {
            bench: "restarts".into(),
            name: "other".into(),
            value: 3.0,
        });
        let j = judge(&run, &baseline);
        assert!(!j.cases.iter().any(|c| c.name == "rate"));
        assert_eq!(
            failure_of(&j, "other"),
            Some("bench.restarts `other` = 3 is not pinned in the baseline")
        );
        assert_eq!(j.cases.iter().filter(|c| c.failure.is_some()).count(), 1);
    }

    #[test]
    fn an_interrupted_run_fails() {
        let (mut run, baseline) = run_of(vec![unit("api-step", "safe", "ok")]);
        run.interrupted = true;
        let j = judge(&run, &baseline);
        assert!(!j.passed);
        assert_eq!(failure_of(&j, "finished"), Some("interrupted"));
        assert_eq!(
            j.changes,
            ["the gate was interrupted: partial results".to_string()]
        );
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
