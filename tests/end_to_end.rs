//! End to end: a small storm through the real binary. Safe strategies show no violation, every
//! negative control is caught, and `replay` reproduces a control's violation.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/small-storm.toml")
        .display()
        .to_string()
}

#[test]
fn small_storm_catches_every_control_and_replays_one() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(["scenario", &fixture(), "--json"])
        .arg(&json)
        .arg("--report-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in [
        "scenario",
        "seed",
        "sqlite_version",
        "duration_s",
        "source_commits",
        "commits_per_s",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}");
    }
    assert!(
        report["source_commits"].as_u64().unwrap() > 0,
        "the writers committed nothing"
    );
    let strategies = report["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), 5);
    let mut replay = None;
    for s in strategies {
        let name = s["name"].as_str().unwrap();
        let violations = s["violations"].as_array().unwrap();
        assert_eq!(s["iterations"], 2, "{name}");
        let total: u64 = s["verdicts"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(total, 2, "{name}: every iteration has one verdict");
        match s["expect"].as_str().unwrap() {
            "safe" => assert!(violations.is_empty(), "{name}: {violations:?}"),
            "unsafe" => assert!(!violations.is_empty(), "{name}: control not caught"),
            other => panic!("unexpected expect {other}"),
        }
        if name == "api-early-finish" {
            let v = &violations[0];
            assert_eq!(v["kind"], "false-success", "{v}");
            replay = Some(v["replay"].as_str().unwrap().to_string());
        }
    }
    // A report directory was written too.
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("report.md").exists())
        .collect();
    assert_eq!(written.len(), 1);

    // The printed command is `cargo run -- replay ID`; run the ID with the binary.
    let replay = replay.unwrap();
    let id = replay.rsplit(' ').next().unwrap();
    let out_json = dir.path().join("replay.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(["replay", id, "--json"])
        .arg(&out_json)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out_json).unwrap()).unwrap();
    assert_eq!(r["verdict"], "false-success", "{r}");
    assert_eq!(r["deterministic"], true);
    assert_eq!(r["fault_hit"], true);
}
