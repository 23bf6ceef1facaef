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

/// Starts the harness with `args` (temp root `tmp`), sends `signal` after `delay`, and returns
/// its output and how long it took to exit after the signal.
fn signal_after(
    args: &[&str],
    tmp: &std::path::Path,
    delay: Duration,
    signal: Signal,
) -> (std::process::Output, Duration) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(args)
        .env("HARNESS_TMPDIR", tmp)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let sent = std::time::Instant::now();
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    (out, sent.elapsed())
}

/// What a stopped run left in its temp root.
fn leftovers(tmp: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// A replay stopped while it creates its source, and while its iterations run, exits
/// `128 + signal` (not 2, "could not run") within 2 s and leaves nothing behind.
#[test]
fn an_interrupted_replay_exits_with_the_signal() {
    for (delay_ms, signal, code) in [(50, Signal::SIGTERM, 143), (600, Signal::SIGINT, 130)] {
        let tmp = tempfile::tempdir().unwrap();
        let (out, took) = signal_after(
            &["replay", "wal-storm:1:api-step:2", "--times", "40"],
            tmp.path(),
            Duration::from_millis(delay_ms),
            signal,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{delay_ms} ms: {stderr}");
        assert!(
            stderr.contains(&format!("interrupted by {signal}")),
            "{stderr}"
        );
        assert!(took < Duration::from_secs(2), "took {took:?} to stop");
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            leftovers(tmp.path()).is_empty(),
            "{:?}",
            leftovers(tmp.path())
        );
    }
}

/// Crash-points on its largest source (1024 pages, a sweep of many minutes) honours a stop
/// signal: exit 130 within 2 s, a partial report naming the signal, no scratch left.
#[test]
fn crash_points_on_a_large_source_stops_on_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let scenario = dir.path().join("big.toml");
    std::fs::write(
        &scenario,
        "mode = \"crash-points\"\nseed = 1\n[source]\npages = 1024\n\
         [crash]\ndestinations = [\"existing-delete\"]\nkinds = [\"kill-before\"]\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let (out, took) = signal_after(
        &[
            "scenario",
            scenario.to_str().unwrap(),
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        &tmp,
        Duration::from_millis(1000),
        Signal::SIGINT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");
    let runs: Vec<_> = std::fs::read_dir(&reports).unwrap().flatten().collect();
    assert_eq!(runs.len(), 1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["interrupted_by"], "SIGINT", "{report}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(leftovers(&tmp).is_empty(), "{:?}", leftovers(&tmp));
}

/// `bench restarts` (the grid and `--deterministic`) stops on a signal within 2 s with its
/// partial JSON (`interrupted_by`) in its run folder and at `--json`, exit `128 + signal`, and
/// no scratch dir left.
#[test]
fn bench_restarts_stops_with_a_partial_report() {
    for (extra, signal, code) in [
        (&["--quick"][..], Signal::SIGTERM, 143),
        (&["--deterministic"][..], Signal::SIGINT, 130),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let reports = dir.path().join("reports");
        let json = dir.path().join("out.json");
        let mut args = vec!["bench", "restarts"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--report-dir", reports.to_str().unwrap()]);
        if extra == ["--quick"] {
            args.extend_from_slice(&["--json", json.to_str().unwrap()]);
        }
        let (out, took) = signal_after(&args, &tmp, Duration::from_millis(700), signal);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{extra:?}: {stderr}");
        assert!(took < Duration::from_secs(2), "took {took:?} to stop");
        let runs: Vec<_> = std::fs::read_dir(&reports).unwrap().flatten().collect();
        assert_eq!(runs.len(), 1, "{extra:?}");
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(runs[0].path().join("report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(report["interrupted_by"], signal.as_str(), "{extra:?}");
        if extra == ["--quick"] {
            let again: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            assert_eq!(again, report);
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(leftovers(&tmp).is_empty(), "{:?}", leftovers(&tmp));
    }
}

/// The other benches (`digest`, `vfs-overhead`, `crash-rate`) stop on a signal too: exit
/// `128 + signal` within 2 s, their JSON written with `interrupted_by`, no scratch left.
#[test]
fn every_other_bench_stops_with_partial_json() {
    for (which, signal, code) in [
        (&["digest"][..], Signal::SIGINT, 130),
        (&["vfs-overhead"][..], Signal::SIGTERM, 143),
        (&["crash-rate", "--seconds", "30"][..], Signal::SIGTERM, 143),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let json = dir.path().join("out.json");
        let mut args = vec!["bench"];
        args.extend_from_slice(which);
        args.extend_from_slice(&["--json", json.to_str().unwrap()]);
        let (out, took) = signal_after(&args, &tmp, Duration::from_millis(1500), signal);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{which:?}: {stderr}");
        assert!(
            took < Duration::from_secs(2),
            "{which:?} took {took:?} to stop"
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let name = format!("{signal:?}");
        assert_eq!(report["interrupted_by"], name.as_str(), "{which:?}");
        assert!(
            leftovers(&tmp).is_empty(),
            "{which:?}: {:?}",
            leftovers(&tmp)
        );
    }
}
