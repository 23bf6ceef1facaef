//! The kill pool: kill points run in worker processes, `kill_parallel` at a time, a
//! new worker starting while the supervisor judges the files the last one left, copied to a
//! memory disk. The outcome of every point must depend on neither: a sweep of a control that
//! violates at many kill points lists the same violations, point by point, with one worker and
//! with two, and with the files judged in place (`memory_lane = false`); every kill happened.

use crate::support;

use serde_json::Value;

fn sweep(kill_parallel: u32, memory_lane: bool) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("kills.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"
description = "kill points of a control, {kill_parallel} workers"
mode = "crash-points"
seed = 3

[source]
pages = 64
page_size = 4096

[workload]
ddl = false

[crash]
destinations = ["existing-delete"]
kinds = ["kill-before", "kill-after"]
dedup_kills = false
kill_parallel = {kill_parallel}
memory_lane = {memory_lane}

[[strategy]]
name = "api-journal-off"
expect = "unsafe"
npage = -1

[[strategy]]
name = "api-oneshot"
expect = "safe"
"#
        ),
    )
    .unwrap();
    support::run_scenario_with(&scenario.to_string_lossy(), &["--sample", "40"]).report
}

#[test]
fn one_worker_and_two_give_every_kill_point_the_same_verdict() {
    let one = sweep(1, true);
    let two = sweep(2, true);
    let in_place = sweep(2, false);
    let combo = |r: &Value| r["strategies"][0].clone();
    let (a, b, c) = (combo(&one), combo(&two), combo(&in_place));
    assert!(c["lane"].as_str().unwrap().starts_with("disk"), "{c}");
    assert_eq!(a["kill_states_run"], 40, "{a}");
    assert_eq!(a["faults_hit"], a["faults_planned"], "every kill happened");
    let points = |c: &Value| -> Vec<(String, String)> {
        c["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["point"].as_str().unwrap().to_string(),
                    v["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (va, vb) = (points(&a), points(&b));
    assert!(
        va.len() >= 5 && va.len() < 40,
        "a control with some violating kill points: {va:?}"
    );
    assert_eq!(va, vb, "violations differ between one worker and two");
    assert_eq!(a["verdicts"], b["verdicts"]);
    assert_eq!(va, points(&c), "violations differ when judged in place");
    assert_eq!(a["verdicts"], c["verdicts"]);
    // A safe strategy: its kills leave hot journals that the next open must roll back.
    let safe = |r: &Value| r["strategies"][1].clone();
    let (sa, sb, sc) = (safe(&one), safe(&two), safe(&in_place));
    assert_eq!(sa["violations"], serde_json::json!([]), "{sa}");
    assert_eq!(sa["verdicts"], sb["verdicts"]);
    assert_eq!(sa["verdicts"], sc["verdicts"]);
    assert_eq!(sa["faults_hit"], sa["faults_planned"]);
    assert_eq!(b["faults_hit"], b["faults_planned"]);
}
