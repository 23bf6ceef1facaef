//! No orphans: a worker (writer, checkpointer, backup, or the launcher of an external tool)
//! whose parent is already gone when it starts exits at once instead of running forever, and
//! `exec-tool` becomes its tool in place (same pid), with the tool dying with its parent.

use crate::support::{processes_mentioning, start_storm};
use harness::process::{PARENT_GONE_EXIT, PARENT_PID_ENV};
use harness::workload::WorkloadSpec;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
}

/// Waits up to `limit` for `child` to exit; kills it and returns `None` if it does not.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The worker roles, each as the supervisor would start it on `src` (those that run until
/// killed: a writer at one commit a second, the checkpointer, the launcher of a sleeping tool).
fn workers(dir: &Path) -> Vec<(&'static str, Command)> {
    let spec = WorkloadSpec {
        initial_pages: 8,
        ..WorkloadSpec::default()
    };
    let src = dir.join("source.db");
    harness::workload::create_source(&src, &spec).unwrap();
    let spec = serde_json::to_string(&spec).unwrap();
    let mut writer = bin();
    writer
        .args(["worker", "writer", "--source"])
        .arg(&src)
        .args(["--spec", &spec, "--id", "0", "--rate", "1"]);
    let mut checkpointer = bin();
    checkpointer
        .args(["worker", "checkpointer", "--source"])
        .arg(&src)
        .args(["--interval-ms", "50", "--modes", "passive"]);
    let mut backup = bin();
    backup
        .args(["worker", "backup", "--strategy", "api-step", "--source"])
        .arg(&src)
        .arg("--dest")
        .arg(dir.join("dest.db"))
        .args([
            "--spec",
            &spec,
            "--params",
            "{\"npage\": 1, \"sleep_ms\": 1000}",
        ]);
    let mut tool = bin();
    tool.args(["worker", "exec-tool", "--", "sleep", "37.321"]);
    vec![
        ("writer", writer),
        ("checkpointer", checkpointer),
        ("backup", backup),
        ("exec-tool", tool),
    ]
}

#[test]
fn a_worker_whose_parent_is_gone_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (role, mut cmd) in workers(dir.path()) {
        // The parent this worker was started for: not the process that really is its parent,
        // as when the supervisor died and the worker was reparented.
        let mut child = cmd
            .env(PARENT_PID_ENV, "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert_eq!(
            exit_within(&mut child, Duration::from_secs(10)),
            Some(PARENT_GONE_EXIT),
            "{role} kept running after its parent was gone"
        );
    }
}

#[test]
fn a_worker_whose_parent_is_there_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (role, mut cmd) in workers(dir.path()) {
        let mut child = cmd
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let early = child.try_wait().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(early, None, "{role} stopped although its parent is alive");
    }
}

/// `exec-tool` does not run the tool as its child: it becomes the tool (the tool's parent is
/// the worker that started `exec-tool`), and the tool does not see the harness's variable.
#[test]
fn exec_tool_becomes_the_tool() {
    let out = bin()
        .args([
            "worker",
            "exec-tool",
            "--",
            "sh",
            "-c",
            "echo $PPID ${HARNESS_PARENT_PID-unset}",
        ])
        .env(PARENT_PID_ENV, std::process::id().to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{} unset", std::process::id())
    );
    let out = bin()
        .args(["worker", "exec-tool", "--", "/no/such/tool-4711"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot execute `/no/such/tool-4711`"), "{err}");
}

/// SIGKILL cannot be handled: the supervisor's workers die with it (death signal), its temp
/// dirs stay, and the next run removes them because their owner is dead.
#[test]
fn a_killed_supervisors_workers_die_and_the_next_run_removes_its_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let mut supervisor = start_storm(tmp.path(), reports.path());
    let needle = tmp.path().to_string_lossy().into_owned();
    std::thread::sleep(Duration::from_millis(300));
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(3);
    let mut left = processes_mentioning(&needle);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left = processes_mentioning(&needle);
    }
    assert!(
        left.is_empty(),
        "workers outlived their supervisor: {left:?}"
    );
    let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
    assert!(leftovers > 0, "a SIGKILLed supervisor cannot clean up");

    let tiny = tmp.path().join("..").join(format!(
        "tiny-{}.toml",
        tmp.path().file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &tiny,
        "iterations = 1\n[source]\npages = 8\n[workload]\nwriters = 0\nwarmup_commits = 0\n\
         [checkpointer]\nenabled = false\n[faults]\ncomplete_fraction = 1.0\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
    )
    .unwrap();
    let out = bin()
        .arg("scenario")
        .arg(&tiny)
        .arg("--report-dir")
        .arg(reports.path())
        .env("HARNESS_TMPDIR", tmp.path())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&tiny);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let dirs: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert!(dirs.is_empty(), "the next run left these: {dirs:?}");
}
