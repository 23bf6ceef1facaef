//! The gate's Markdown, JSON and JUnit as insta snapshots of a fixed run judged against a
//! fixed baseline (one pass, one flipped control, one lost known finding, one figure out of
//! tolerance, one fault class never hit). Timings, seeds and versions are fixed in the
//! fixture, so nothing needs redacting.

use harness::gate::config::Baseline;
use harness::gate::{judge, output, Figure, GateRun, UnitResult};
use std::collections::BTreeMap;

fn unit(strategy: &str, expect: &str, result: &str, violations: &[&str]) -> UnitResult {
    UnitResult {
        scenario: "wal-storm".into(),
        seed: 1,
        strategy: strategy.into(),
        expect: expect.into(),
        result: result.into(),
        why: Vec::new(),
        violations: violations.iter().map(|v| v.to_string()).collect(),
        caught: !violations.is_empty(),
        known_reproduced: Vec::new(),
        known_missing: Vec::new(),
        faults_planned: [("kill-delay".to_string(), 2), ("busy".to_string(), 1)]
            .into_iter()
            .collect(),
        faults_hit: [("kill-delay".to_string(), 1)].into_iter().collect(),
        duration_s: 1.5,
    }
}

fn fixed() -> (GateRun, Baseline) {
    let run = GateRun {
        sqlite_version: "3.test".into(),
        shard: None,
        matrix: vec![
            "wal-storm:1:api-step".into(),
            "wal-storm:1:copy-naive".into(),
            "bench:restarts".into(),
        ],
        planned: vec![
            "wal-storm:1:api-step".into(),
            "wal-storm:1:copy-naive".into(),
            "bench:restarts".into(),
        ],
        units: vec![
            unit("api-step", "safe", "ok", &[]),
            unit(
                "copy-naive",
                "unsafe",
                "caught",
                &["out-of-window: cargo run -- replay wal-storm:1:copy-naive:3 <x>"],
            ),
        ],
        figures: vec![Figure {
            bench: "restarts".into(),
            name: "restarts without writers".into(),
            value: 2.0,
        }],
        known_unchecked: Vec::new(),
        duration_s: 12.0,
        interrupted: false,
        interrupted_by: None,
    };
    let baseline = Baseline::parse(
        "[wal-storm]\n\"api-step\" = \"safe\"\n\"copy-naive\" = \"safe\"\n\
         known = [\"wal-storm:1:api-step:4\"]\n\
         [bench.restarts]\n\"restarts without writers\" = { value = 0, tolerance = 0 }\n",
    )
    .unwrap();
    (run, baseline)
}

#[test]
fn gate_markdown() {
    let (run, b) = fixed();
    insta::assert_snapshot!(output::markdown(&run, &judge::judge(&run, &b)));
}

#[test]
fn gate_junit() {
    let (run, b) = fixed();
    insta::assert_snapshot!(output::junit(&judge::judge(&run, &b)));
}

#[test]
fn gate_json() {
    let (run, b) = fixed();
    insta::assert_snapshot!(output::json(&run, &judge::judge(&run, &b)));
}

#[test]
fn every_failure_is_a_failed_case_and_a_change_line() {
    let (run, b) = fixed();
    let j = judge::judge(&run, &b);
    assert!(!j.passed);
    let failed: BTreeMap<String, String> = j
        .cases
        .iter()
        .filter_map(|c| Some((format!("{}/{}", c.suite, c.name), c.failure.clone()?)))
        .collect();
    assert!(failed["wal-storm/seed 1 copy-naive"].contains("safe, but violated"));
    assert!(failed["wal-storm/known wal-storm:1:api-step:4"].contains("did not reproduce"));
    assert!(failed["bench.restarts/restarts without writers"].contains("outside 0 ± 0"));
    assert!(failed["wal-storm/fault classes reached"].contains("busy"));
    assert_eq!(failed.len(), 4, "{failed:?}");
    assert_eq!(j.changes.len(), 5, "{:?}", j.changes);
}
