//! A stop signal during a run (Ctrl-C, SIGTERM from `kill`, `timeout` or a CI cancel, SIGHUP
//! from a closed terminal): the run stops, the partial report is written, the exit code is
//! `128 + signal`, and no worker process or temp directory outlives the run.

use crate::support::{processes_mentioning, start_storm};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::Duration;

/// Starts a storm, sends `signal` to the supervisor once its workers run, and checks the exit
/// code, the partial report (naming the signal) and that nothing is left behind.
fn stop_with(signal: Signal, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    // Once workers run (they live under our temp root), send the signal.
    let mut child = start_storm(tmp.path(), reports.path());
    let needle = tmp.path().to_string_lossy().into_owned();
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(code), "{signal}: {status:?}");

    let runs: Vec<_> = std::fs::read_dir(reports.path())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    let json = std::fs::read_to_string(runs[0].path().join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["interrupted_by"], signal.as_str());
    let md = std::fs::read_to_string(runs[0].path().join("report.md")).unwrap();
    assert!(
        md.contains(&format!("**interrupted** by {}", signal.as_str())),
        "{md}"
    );

    // Children are killed and reaped before the supervisor exits; give the kernel a moment.
    std::thread::sleep(Duration::from_millis(200));
    let left = processes_mentioning(&needle);
    assert!(left.is_empty(), "workers outlived the run: {left:?}");
    let dirs: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert!(dirs.is_empty(), "temp dirs outlived the run: {dirs:?}");
}

#[test]
fn ctrl_c_writes_partial_report_and_leaves_nothing_behind() {
    stop_with(Signal::SIGINT, 130);
}

#[test]
fn sigterm_writes_partial_report_exits_143_and_leaves_nothing_behind() {
    stop_with(Signal::SIGTERM, 143);
}

#[test]
fn sighup_writes_partial_report_exits_129_and_leaves_nothing_behind() {
    stop_with(Signal::SIGHUP, 129);
}

/// A stop signal is honoured while a large source is being created (before any iteration):
/// the statement building it is interrupted, the run exits 143 at once and says so.
#[test]
fn sigterm_during_a_large_setup_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    std::fs::write(
        &path,
        "seed = 1\niterations = 1\n[source]\npages = 500000\n\
         [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n",
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&path)
        .arg("--report-dir")
        .arg(dir.path())
        .env("HARNESS_TMPDIR", dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let sent = std::time::Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("while creating the source"), "{stderr}");
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        sent.elapsed()
    );
    // Its scratch dirs are gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("sqlite-backup-harness-")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
