//! Output into a closed pipe (`sqlite-backup-harness list | head -1`): every subcommand exits
//! quietly, as `rg … | head` does, with no panic, and a scenario still writes its report and
//! leaves no temporary directory behind.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The write end of a pipe whose read end is already closed: every write to it fails with
/// EPIPE, whatever the timing.
fn closed_pipe() -> OwnedFd {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    write
}

/// Runs the harness with `args`, stdout into a closed pipe and `TMPDIR` in `tmp`.
fn run_into_closed_pipe(args: &[&str], tmp: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(args)
        .env("TMPDIR", tmp)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(closed_pipe()))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

const TINY: &str = "description = \"tiny\"\nseed = 5\niterations = 2\nwatchdog_ms = 3000\n\
                    budget_ms = 2000\n[source]\npages = 40\n[workload]\nwriters = 0\n\
                    warmup_commits = 0\n[checkpointer]\nenabled = false\n\
                    [destination]\nkinds = [\"fresh\"]\n[faults]\ncomplete_fraction = 1.0\n\
                    [[strategy]]\nname = \"api-oneshot\"\nexpect = \"any\"\n";

#[test]
fn every_subcommand_exits_quietly_into_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, TINY).unwrap();
    let scenario = scenario.to_str().unwrap().to_string();
    let json = dir.path().join("r.json");
    let reports = dir.path().join("reports");
    let replay = format!("{scenario}:5:api-oneshot:1");
    let runs: Vec<Vec<&str>> = vec![
        vec!["list"],
        vec!["--help"],
        vec!["scenario", "--help"],
        vec!["bench", "restarts", "--help"],
        vec![
            "scenario",
            &scenario,
            "--json",
            json.to_str().unwrap(),
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        vec!["replay", &replay],
    ];
    for args in &runs {
        let out = run_into_closed_pipe(args, &tmp);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {:?}\n{stderr}",
            out.status
        );
    }
    // The scenario wrote its report although its table went nowhere, and cleaned up.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["strategies"][0]["iterations"], 2);
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}
