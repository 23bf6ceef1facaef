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

/// Runs the harness; kills it and returns exit -1 if it is still running after `limit` (a
/// check that is not made before the work starts would run the whole work first).
fn harness_within(args: &[&str], limit: std::time::Duration) -> (i32, String) {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the harness");
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (-1, format!("still running after {limit:?}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const QUICK: std::time::Duration = std::time::Duration::from_secs(20);

#[test]
fn meaningless_numbers_exit_2_naming_the_flag() {
    for (args, flag) in [
        (
            &["scenario", "crash-points", "--sample", "0"][..],
            "--sample 0",
        ),
        (&["bench", "restarts", "--pages", "0"][..], "--pages 0"),
        (&["bench", "restarts", "--repeats", "0"][..], "--repeats 0"),
        (
            &["bench", "restarts", "--budget-ms", "0"][..],
            "--budget-ms 0",
        ),
        (
            &["replay", "wal-storm:1:api-step:2", "--times", "0"][..],
            "--times 0",
        ),
        (
            &["scenario", "crash-points", "--iterations", "3"][..],
            "--iterations has no effect on crash-points",
        ),
        (
            &["bench", "crash-rate", "--seconds", "nan"][..],
            "--seconds NaN",
        ),
        (
            &["bench", "crash-rate", "--seconds", "0"][..],
            "--seconds 0",
        ),
        (&["bench", "crash-rate", "--seconds=-1"][..], "--seconds -1"),
        (
            &["bench", "crash-rate", "--seconds", "inf"][..],
            "--seconds inf",
        ),
    ] {
        let (code, err) = harness_within(args, QUICK);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(one_line(&err).contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn a_scenario_file_over_1_mib_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.toml");
    std::fs::write(&path, "# x\n".repeat(300_000)).unwrap();
    for name in [path.to_str().unwrap(), "/dev/zero"] {
        let (code, err) = harness_within(&["scenario", name], QUICK);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(one_line(&err).contains("larger than 1024 KiB"), "{err}");
    }
}

#[test]
fn unwritable_output_paths_exit_2_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let reports = dir.path().join("reports");
    let under_file = file.join("out");
    let (r, f, u) = (
        reports.to_str().unwrap(),
        file.to_str().unwrap(),
        under_file.to_str().unwrap(),
    );
    let d = dir.path().to_str().unwrap();
    for (args, flag) in [
        (
            vec!["scenario", "wal-storm", "--report-dir", r, "--json", d],
            "--json",
        ),
        (
            vec!["scenario", "wal-storm", "--report-dir", u],
            "--report-dir",
        ),
        (
            vec!["scenario", "crash-points", "--report-dir", r, "--json", u],
            "--json",
        ),
        (vec!["scenario", "fuzz", "--report-dir", f], "--report-dir"),
        (
            vec!["replay", "wal-storm:1:api-step:0", "--json", d],
            "--json",
        ),
        (vec!["bench", "restarts", "--svg", u], "--svg"),
        (vec!["bench", "restarts", "--csv", d], "--csv"),
        (vec!["bench", "restarts", "--json", u], "--json"),
        (vec!["bench", "restarts", "--report-dir", f], "--report-dir"),
        (vec!["bench", "restarts", "--baseline", u], "--baseline"),
        (vec!["bench", "crash-rate", "--json", u], "--json"),
        (vec!["bench", "vfs-overhead", "--json", d], "--json"),
    ] {
        let (code, err) = harness_within(&args, QUICK);
        assert_eq!(code, 2, "{args:?}: {err}");
        let line = one_line(&err);
        assert!(
            line.starts_with(&format!("error: {flag} ")),
            "{args:?}: {line}"
        );
        let ran = std::fs::read_dir(&reports).map_or(0, |d| d.count());
        assert_eq!(ran, 0, "{args:?}: a report was written, so the run ran");
    }
    if std::path::Path::new("/proc/self").is_dir() {
        let (code, err) =
            harness_within(&["scenario", "wal-storm", "--report-dir", "/proc/x"], QUICK);
        assert_eq!(code, 2, "{err}");
        assert!(
            one_line(&err).starts_with("error: --report-dir /proc/x: cannot"),
            "{err}"
        );
    }
}

#[test]
fn an_unusable_harness_tmpdir_exits_2_instead_of_falling_back() {
    for bad in ["/nonexistent/harness-tmp", "/proc/version"] {
        let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
            .args(["scenario", "same-conn", "--iterations", "1"])
            .env("HARNESS_TMPDIR", bad)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        let line = one_line(&err);
        assert!(
            line.contains("HARNESS_TMPDIR") && line.contains(bad),
            "{line}"
        );
    }
}
