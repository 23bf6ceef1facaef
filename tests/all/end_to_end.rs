//! End to end: a small storm through the real binary. Safe strategies show no violation, every
//! negative control is caught, and `replay` reproduces a control's violation (exit 1) from the
//! command the report prints.

use crate::support;

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
    // Not under cargo: the replay commands name the binary as it was invoked.
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(["scenario", &fixture(), "--json"])
        .arg(&json)
        .arg("--report-dir")
        .arg(dir.path())
        .env_remove("CARGO")
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
        assert_eq!(s["iterations"], 4, "{name}");
        let total: u64 = s["verdicts"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(total, 4, "{name}: every iteration has one verdict");
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

    // The printed command is `<binary> replay ID`: run it as printed. A replayed violation
    // exits 1, and with --times the headline tallies every run.
    let replay = replay.unwrap();
    let words: Vec<&str> = replay.split(' ').collect();
    assert_eq!(
        words[..2],
        [env!("CARGO_BIN_EXE_sqlite-backup-harness"), "replay"]
    );
    let id = words[2];
    let out_json = dir.path().join("replay.json");
    let out = Command::new(words[0])
        .args(&words[1..])
        .args(["--times", "2", "--json"])
        .arg(&out_json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().next().unwrap().starts_with(&format!(
            "{id}: 2 runs: false-success 2 (first false-success: "
        )),
        "{stdout}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out_json).unwrap()).unwrap();
    assert_eq!(r["verdict"], "false-success", "{r}");
    assert_eq!(r["verdicts"]["false-success"], 2, "{r}");
    assert_eq!(r["deterministic"], true);
    assert_eq!(r["fault_hit"], true);

    // A replay whose verdict is allowed exits 0.
    let safe = format!("{}:7:api-oneshot:1", fixture());
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(["replay", &safe, "--json"])
        .arg(dir.path().join("safe.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with(&format!("{safe}: snapshot (")),
        "{stdout}"
    );
}

/// A planned fault that never fires tested nothing: at `synchronous=OFF` the destination is
/// never synced, so a fault on the final commit's sync cannot fire, and the safe strategy is
/// `untested` (exit 1), not `ok`.
#[test]
fn a_fault_that_never_fires_leaves_its_strategy_untested() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("never-fires.toml");
    std::fs::write(
        &scenario,
        "description = \"faults that cannot fire\"\nseed = 3\niterations = 2\n\
         [source]\npages = 100\n[workload]\nwriters = 0\n[checkpointer]\nenabled = false\n\
         [destination]\nkinds = [\"existing-delete\"]\nsynchronous = \"off\"\n\
         [faults]\ncomplete_fraction = 0.5\nkinds = [\"final-commit-ioerr\"]\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&scenario)
        .arg("--json")
        .arg(&json)
        .arg("--report-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("UNTESTED"), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let s = &report["strategies"][0];
    assert_eq!(s["result"], "untested", "{s}");
    assert_eq!(s["faults_planned"]["final-commit-ioerr"], 1);
    assert!(s["faults_hit"].get("final-commit-ioerr").is_none(), "{s}");
    assert!(
        s["untested_because"][0]
            .as_str()
            .unwrap()
            .starts_with("final-commit-ioerr fired in 0 of 1"),
        "{s}"
    );
}

/// A correct backup onto a destination that already equals an allowed snapshot (an up-to-date
/// replica: the destination is a copy of `S(0)`, no writer, so `S(0)` is in the window) is
/// `snapshot` when it claims success, never `false-success`; killed or aborted, `untouched`.
#[test]
fn a_backup_onto_an_up_to_date_replica_is_a_snapshot() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/up-to-date-replica.toml")
        .display()
        .to_string();
    let run = support::run_scenario_with(&fixture, &[]);
    let strategies = run.report["strategies"].as_array().unwrap();
    let same = strategies
        .iter()
        .find(|s| s["name"] == "same-types")
        .expect("the same-types entry");
    let verdicts = &same["verdicts"];
    assert_eq!(verdicts["false-success"], 0, "{verdicts}\n{}", run.stdout);
    assert!(
        verdicts["snapshot"].as_u64().unwrap() > 0,
        "a completed backup is a snapshot: {verdicts}"
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
}

/// Runs started in the same second with one `--report-dir` keep one report each: every run
/// writes into a folder it alone created, and prints its own `report:` path.
#[test]
fn concurrent_runs_sharing_a_report_dir_keep_every_report() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-storm.toml");
    let reports = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
                .arg("scenario")
                .arg(&fixture)
                .args([
                    "--iterations",
                    "2",
                    "--strategies",
                    "api-oneshot",
                    "--report-dir",
                ])
                .arg(reports.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut printed = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let path = stdout
            .lines()
            .find_map(|l| l.strip_prefix("report: "))
            .unwrap_or_else(|| panic!("no report line: {stdout}"))
            .to_string();
        printed.push(path);
    }
    printed.sort();
    printed.dedup();
    assert_eq!(
        printed.len(),
        3,
        "runs printed one report path: {printed:?}"
    );
    let dirs: Vec<_> = std::fs::read_dir(reports.path())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    for d in dirs {
        let json = std::fs::read_to_string(d.path().join("report.json")).unwrap();
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            report["results"].as_array().map(Vec::len),
            Some(2),
            "{}",
            d.path().display()
        );
    }
}
