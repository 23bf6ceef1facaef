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
    let (code, err) = harness_within(&["scenario", path.to_str().unwrap()], QUICK);
    assert_eq!(code, 2, "{err}");
    assert!(one_line(&err).contains("larger than 1024 KiB"), "{err}");
}

#[test]
fn devices_and_fifos_are_refused_in_one_line_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("x.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for (name, what) in [
        (fifo.to_str().unwrap(), "a FIFO"),
        ("/dev/zero", "a character device"),
    ] {
        let (code, err) = harness_within(&["scenario", name], QUICK);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(
            one_line(&err).contains(&format!("not a regular file ({what})")),
            "{err}"
        );
    }
    // Every other input file: a gate config, a bench baseline, reports to merge.
    let f = fifo.to_str().unwrap();
    for args in [
        &["gate", "--config", f][..],
        &["bench", "restarts", "--baseline", f][..],
        &["report", "merge", f][..],
    ] {
        let (code, err) = harness_within(args, QUICK);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            one_line(&err).contains("not a regular file (a FIFO)"),
            "{args:?}: {err}"
        );
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

#[test]
fn bug_base_entries_are_checked_as_strictly_as_scenario_entries() {
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("bug-api-step-corrupt-00000000");
    std::fs::create_dir_all(&entry).unwrap();
    let plan = |pages: &str, params: &str| {
        format!(
            "{{\"faults\": [], \"pages\": {pages}, \"workload_seed\": 0, \"strategy\": \
             \"api-step\", \"params\": {{{params}}}, \"destination\": \"existing-delete\"}}"
        )
    };
    // Each of these made `replay` hang (or run for hours) before it was refused.
    for (text, key) in [
        (plan("8", "\"npage\": 0"), "params.npage"),
        (
            plan("8", "\"npage\": 1, \"sleep_ms\": 4000000000"),
            "params.sleep_ms",
        ),
        (plan("50000000", "\"npage\": 5"), "pages"),
        (
            plan("8", "\"busy_timeout_ms\": 18446744073709551615"),
            "params.busy_timeout_ms",
        ),
    ] {
        std::fs::write(entry.join("plan.json"), &text).unwrap();
        let (code, err) = harness_within(&["replay", entry.to_str().unwrap()], QUICK);
        assert_eq!(code, 2, "{text}: {err}");
        let line = one_line(&err);
        assert!(
            line.contains("plan.json: key `") && line.contains(&format!("`{key}`")),
            "{text}: {line}"
        );
    }
    // A FIFO as plan.json is refused too, without blocking.
    std::fs::remove_file(entry.join("plan.json")).unwrap();
    nix::unistd::mkfifo(&entry.join("plan.json"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let (code, err) = harness_within(&["replay", entry.to_str().unwrap()], QUICK);
    assert_eq!(code, 2, "{err}");
    assert!(
        one_line(&err).contains("not a regular file (a FIFO)"),
        "{err}"
    );
}

#[test]
fn values_that_would_abort_or_run_for_ever_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let entry = "[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n";
    for (top, key) in [
        (
            "[checkpointer]\ntruncate_every = 4000000000\n",
            "checkpointer.truncate_every",
        ),
        (
            "[workload]\nmax_row_bytes = 1000000000000\n",
            "workload.max_row_bytes",
        ),
        ("[workload]\nops_max = 4000000000\n", "workload.ops_max"),
        (
            "mode = \"fuzz\"\n[fuzz]\npages_max = 4000000000\n",
            "fuzz.pages_max",
        ),
        (
            "mode = \"crash-points\"\n[source]\npages = 1000000\n",
            "source.pages",
        ),
        ("watchdog_ms = 18446744073709551615\n", "watchdog_ms"),
    ] {
        let path = dir.path().join("bound.toml");
        std::fs::write(&path, format!("{top}{entry}")).unwrap();
        let (code, err) = harness_within(&["scenario", path.to_str().unwrap()], QUICK);
        assert_eq!(code, 2, "{top}: {err}");
        let line = one_line(&err);
        assert!(
            line.contains(&format!("key `{key}`"))
                && (line.contains("out of range") || line.contains("at most")),
            "{top}: {line}"
        );
    }
}

const FOREVER: &str =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";

/// A small storm scenario with `extra` before its one `api-oneshot` entry.
fn small_storm(extra: &str) -> String {
    format!(
        "iterations = 1\nwatchdog_ms = 2000\nbudget_ms = 1500\n{extra}\n[source]\npages = 50\n\
         [workload]\nwriters = 1\nwarmup_commits = 5\n[faults]\ncomplete_fraction = 1.0\n\
         kinds = []\n[[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n"
    )
}

#[test]
fn scenario_sql_that_never_ends_stops_at_its_deadline_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    for (extra, key) in [
        (
            format!(
                "sql_timeout_ms = 300\n[destination]\nkinds = [\"existing-delete\"]\nsetup_sql = [\"{FOREVER}\"]"
            ),
            "`setup_sql[0]` still running after sql_timeout_ms = 300",
        ),
        (
            format!(
                "sql_timeout_ms = 300\n[app]\nworkers = 1\ninvariants = [{{ name = \"forever\", sql = \"{FOREVER}\" }}]"
            ),
            "[app] invariant `forever`` still running after sql_timeout_ms = 300",
        ),
    ] {
        let path = dir.path().join("forever.toml");
        std::fs::write(&path, small_storm(&extra)).unwrap();
        let (code, err) = harness_within(
            &[
                "scenario",
                path.to_str().unwrap(),
                "--report-dir",
                reports.to_str().unwrap(),
            ],
            QUICK,
        );
        assert_eq!(code, 2, "{extra}: {err}");
        assert!(one_line(&err).contains(key), "{extra}: {err}");
    }
}

#[test]
fn sigterm_stops_scenario_sql_that_never_ends() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forever.toml");
    std::fs::write(
        &path,
        small_storm(&format!(
            "[destination]\nkinds = [\"existing-delete\"]\nsetup_sql = [\"{FOREVER}\"]"
        )),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(["scenario", path.to_str().unwrap(), "--report-dir"])
        .arg(dir.path().join("reports"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Past the source's creation, inside the setup_sql (whose deadline is 10 s).
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let signalled = std::time::Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if signalled.elapsed() > std::time::Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running 5 s after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(code, Some(143));
    assert!(signalled.elapsed() < std::time::Duration::from_secs(2));
}

/// `--strategies` and replay IDs select only entries the scenario defines: a matrix's template
/// name runs none of its cells (it once ran one default entry with `expect = any`).
#[test]
fn a_matrix_template_name_is_refused_with_its_cells() {
    for args in [
        &["scenario", "checkpoint-race", "--strategies", "api-step"][..],
        &["replay", "checkpoint-race:1:api-step:0"][..],
        &["replay", "wal-storm:1:stream-vfs:0"][..],
    ] {
        let (code, _, err) = harness(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        let line = one_line(&err);
        assert!(
            line.contains("is not defined") || line.contains("api-step.none.on"),
            "{line}"
        );
    }
}
