//! `external:<label>` strategies end to end: a missing program is a one-line exit 2 before
//! anything runs, and a tool never outlives its backup worker (killed by the supervisor, or
//! orphaned because the worker died on its own).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

const SMALL: &str = "iterations = 1\nwatchdog_ms = 2000\nbudget_ms = 300\n\
    [source]\npages = 8\n[workload]\nwriters = 0\nwarmup_commits = 0\n\
    [checkpointer]\nenabled = false\n[faults]\ncomplete_fraction = 1.0\nkinds = [\"kill-delay\"]\n";

#[test]
fn missing_program_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tools.toml");
    std::fs::write(
        &path,
        format!(
            "{SMALL}[[strategy]]\nname = \"external:bogus\"\nexpect = \"safe\"\n\
             command = [\"no-such-backup-tool-4711\", \"{{src}}\", \"{{dst}}\"]\n"
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let (code, out, err) = harness(&[
        "scenario",
        path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines,
        vec![
            "error: strategy external:bogus: program `no-such-backup-tool-4711` not found on \
             PATH (install it or remove the strategy)"
        ]
    );
    assert!(!reports.exists(), "nothing may run before the check");
}

/// Pids of live processes whose argv is exactly `argv`.
fn running(argv: &[&str]) -> Vec<String> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline == want {
            pids.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    pids
}

#[test]
fn tools_die_with_their_backup_worker() {
    if !Path::new("/proc/self/cmdline").exists() || !Path::new("/bin/sh").exists() {
        eprintln!("note: needs /proc and /bin/sh; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sleepers.toml");
    // A tool the watchdog stops (budget), and one that SIGKILLs its worker and lives on.
    std::fs::write(
        &path,
        format!(
            "{SMALL}[[strategy]]\nname = \"external:sleeper\"\nexpect = \"any\"\n\
             command = [\"sh\", \"-c\", \"exec sleep 37.123\", \"sh\", \"{{dst}}\"]\n\
             [[strategy]]\nname = \"external:orphan\"\nexpect = \"any\"\n\
             command = [\"sh\", \"-c\", \"kill -9 $PPID; exec sleep 37.456\", \"sh\", \"{{dst}}\"]\n"
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let (code, out, err) = harness(&[
        "scenario",
        path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("external:sleeper") && out.contains("external:orphan"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(running(&["sleep", "37.123"]), Vec::<String>::new());
    assert_eq!(running(&["sleep", "37.456"]), Vec::<String>::new());
}
