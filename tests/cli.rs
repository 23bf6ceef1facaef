//! The command line's contract for bad input: exit 2 with one line naming what is wrong.

use std::process::Command;

fn harness(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(args)
        .output()
        .expect("run the harness");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    lines[0]
}

#[test]
fn unknown_scenario_exits_2_pointing_to_list() {
    let (code, _, err) = harness(&["scenario", "no-such-scenario"]);
    assert_eq!(code, 2);
    let line = one_line(&err);
    assert!(
        line.contains("no-such-scenario") && line.contains("list"),
        "{line}"
    );
}

#[test]
fn unknown_strategy_exits_2_pointing_to_list() {
    let (code, _, err) = harness(&["scenario", "wal-storm", "--strategies", "api-oneshot,bogus"]);
    assert_eq!(code, 2);
    let line = one_line(&err);
    assert!(line.contains("bogus") && line.contains("list"), "{line}");
}

#[test]
fn malformed_scenario_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "seed = 1\n\n[workload]\nwriters = \"many\"\n").unwrap();
    let (code, _, err) = harness(&["scenario", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    let line = one_line(&err);
    assert!(line.contains("bad.toml:4"), "{line}");
    assert!(line.contains("workload.writers"), "{line}");
}

#[test]
fn out_of_range_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("range.toml");
    std::fs::write(
        &path,
        "[faults]\ncomplete_fraction = 1.5\n[[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
    )
    .unwrap();
    let (code, _, err) = harness(&["scenario", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    let line = one_line(&err);
    assert!(
        line.contains("complete_fraction") && line.contains("range"),
        "{line}"
    );
    let (code, _, err) = harness(&["scenario", "wal-storm", "--iterations", "0"]);
    assert_eq!(code, 2);
    assert!(one_line(&err).contains("--iterations"), "{err}");
}

#[test]
fn malformed_replay_id_exits_2() {
    let (code, _, err) = harness(&["replay", "not-an-id"]);
    assert_eq!(code, 2);
    assert!(one_line(&err).contains("not-an-id"));
}

#[test]
fn list_names_every_strategy_and_wal_storm() {
    let (code, out, _) = harness(&["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("wal-storm"));
    for name in harness::strategy::names() {
        assert!(out.contains(name), "{name} missing from list");
    }
}
