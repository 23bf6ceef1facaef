//! `external:<label>` strategies end to end: a missing program is a one-line exit 2 before
//! anything runs, a tool run by a backup worker copies or claims its error, and a tool never
//! outlives its backup worker (killed by the supervisor, orphaned because the worker died on its
//! own, or killed by someone else with no supervisor around).

use harness::event::{Claim, Event};
use harness::strategy::StrategyParams;
use harness::workload::WorkloadSpec;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Runs the scenario at `path` (it must run: exit 0 or 1) and returns its report.json and
/// stdout.
fn run_to_json(path: &Path, reports: &Path) -> (serde_json::Value, String) {
    let json = reports.with_extension("json");
    let (code, out, err) = harness(&[
        "scenario",
        path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        code == 0 || code == 1,
        "ran: {code}\nstdout: {out}\nstderr: {err}"
    );
    let r = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (r, out)
}

/// An `optional` tool that is not installed (its program, or a path it `requires`) is
/// skipped, not an error: the run goes on with the rest, its row says why, and the report
/// lists it; a required tool that is present runs.
#[test]
fn an_optional_tool_that_is_not_installed_is_skipped_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tools.toml");
    std::fs::write(
        &path,
        format!(
            "{SMALL}[[strategy]]\nname = \"external:absent\"\nexpect = \"safe\"\noptional = true\n\
             command = [\"no-such-backup-tool-4711\", \"{{src}}\", \"{{dst}}\"]\n\
             [[strategy]]\nname = \"external:half\"\nexpect = \"safe\"\noptional = true\n\
             requires = [\"{{scenario_dir}}/not-built\"]\ncommand = [\"cp\", \"{{src}}\", \"{{dst}}\"]\n\
             [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n"
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let (r, out) = run_to_json(&path, &reports);
    let rows: Vec<&str> = r["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(rows, vec!["api-oneshot"]);
    let skipped = r["skipped"].as_array().unwrap();
    let why: Vec<(&str, &str)> = skipped
        .iter()
        .map(|s| (s["strategy"].as_str().unwrap(), s["why"].as_str().unwrap()))
        .collect();
    assert_eq!(why.len(), 2, "{why:?}");
    assert_eq!(why[0].0, "external:absent");
    assert!(
        why[0]
            .1
            .starts_with("not installed (run ci/install-tools.sh)"),
        "{why:?}"
    );
    assert!(why[0].1.contains("no-such-backup-tool-4711"), "{why:?}");
    assert_eq!(why[1].0, "external:half");
    assert!(why[1].1.contains("not-built` does not exist"), "{why:?}");
    assert!(
        out.contains("external:absent") && out.contains("skipped: not installed"),
        "{out}"
    );
    // Asked for by name, a missing tool is an error, not a skip; so is a run left with nothing.
    for only in ["external:absent,api-oneshot", "external:half,api-oneshot"] {
        let (code, _, err) = harness(&[
            "scenario",
            path.to_str().unwrap(),
            "--strategies",
            only,
            "--report-dir",
            reports.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{only}: {err}");
        assert!(
            err.contains("no-such-backup-tool-4711") || err.contains("not-built"),
            "{only}: {err}"
        );
        assert!(!err.contains("no strategy left"), "{only}: {err}");
    }
    let lone = dir.path().join("lone.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &lone,
        &text[..text.find("[[strategy]]\nname = \"external:half\"").unwrap()],
    )
    .unwrap();
    let (code, _, err) = harness(&[
        "scenario",
        lone.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no strategy left to run"), "{err}");
}

/// The tool table: one row per external entry, with the version its `version_command`
/// printed, what it finished, and the kills that landed; a plain strategy gets no row.
#[test]
fn the_tool_table_has_the_probed_version_and_what_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tools.toml");
    let small = SMALL.replace("iterations = 1", "iterations = 2");
    std::fs::write(
        &path,
        format!(
            "{small}[[strategy]]\nname = \"external:cp\"\nexpect = \"any\"\n\
             version_command = [\"sh\", \"-c\", \"echo; echo 'copier 1.2, SQLite none'; echo tail\"]\n\
             command = [\"cp\", \"{{src}}\", \"{{dst}}\"]\n\
             [[strategy]]\nname = \"external:static\"\nexpect = \"any\"\nfault_vfs = \"static-sqlite\"\n\
             command = [\"cp\", \"{{src}}\", \"{{dst}}\"]\n\
             [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n"
        ),
    )
    .unwrap();
    let (r, _) = run_to_json(&path, &dir.path().join("reports"));
    let tools = r["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2, "{tools:?}");
    // Which faults could reach each tool: kills only, and for a statically linked SQLite
    // the reason the preload shim cannot help.
    assert_eq!(tools[0]["fault_vfs"], "none");
    assert!(
        tools[0]["faults_reach"]
            .as_str()
            .unwrap()
            .starts_with("process kills only"),
        "{tools:?}"
    );
    assert_eq!(tools[1]["fault_vfs"], "static-sqlite");
    assert!(
        tools[1]["faults_reach"]
            .as_str()
            .unwrap()
            .contains("statically linked, so the preload shim cannot reach it"),
        "{tools:?}"
    );
    let t = &tools[0];
    assert_eq!(t["strategy"], "external:cp");
    assert_eq!(
        t["version"], "copier 1.2, SQLite none",
        "the first non-empty line"
    );
    assert_eq!(t["iterations"], 2);
    // No kill is planned (complete_fraction 1.0): cp finishes every time.
    assert_eq!(
        (t["finished"].as_u64(), t["kills_planned"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(t["kills_before_claim"], 0);
    let verdicts: u64 = t["verdicts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(verdicts, 2);
    let md = std::fs::read_to_string(
        std::fs::read_dir(dir.path().join("reports"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("report.md"),
    )
    .unwrap();
    assert!(
        md.contains("## Tools")
            && md.contains("| `external:cp` | copier 1.2, SQLite none | 2 / 2 |")
            && md.contains("| process kills only: its SQLite is statically linked"),
        "{md}"
    );
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

/// A small source in `dir` (as the supervisor makes it) and the worker's `--spec`.
fn small_source(dir: &Path) -> (std::path::PathBuf, String) {
    let spec = WorkloadSpec {
        initial_pages: 8,
        ..WorkloadSpec::default()
    };
    let src = dir.join("src dir").join("s.db");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    harness::workload::create_source(&src, &spec).unwrap();
    (src, serde_json::to_string(&spec).unwrap())
}

/// `worker backup --strategy external:t` with `command`, as the supervisor spawns it.
fn backup_worker(dir: &Path, command: &[&str]) -> Command {
    let (src, spec) = small_source(dir);
    let params = StrategyParams {
        command: command.iter().map(|s| s.to_string()).collect(),
        ..StrategyParams::default()
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"));
    cmd.args(["worker", "backup", "--strategy", "external:t", "--source"])
        .arg(&src)
        .arg("--dest")
        .arg(dir.join("d.db"))
        .args(["--spec", &spec, "--params"])
        .arg(serde_json::to_string(&params).unwrap());
    cmd
}

/// The claim a worker's stdout reports.
fn claim_of(stdout: &[u8]) -> Option<Claim> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(Event::from_line)
        .find_map(|e| match e {
            Event::Claim { claim } => Some(claim),
            _ => None,
        })
}

#[test]
fn python_backup_through_a_worker_copies_or_claims_the_error() {
    if harness::strategy::external::find_program("python3").is_none() {
        eprintln!("note: python3 not found; skipping the external python test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = "import sqlite3, sys\n\
                  s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2])\n\
                  s.backup(d); d.close(); s.close()";
    let out = backup_worker(dir.path(), &["python3", "-c", script, "{src}", "{dst}"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(claim_of(&out.stdout), Some(Claim::Success), "{stderr}");
    let d = rusqlite::Connection::open(dir.path().join("d.db")).unwrap();
    let seq: i64 = d
        .query_row("SELECT seq FROM meta", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seq, 0, "the copy is S(0)");

    let failing = "import sys; print('boom', file=sys.stderr); sys.exit(3)";
    let dir = tempfile::tempdir().unwrap();
    let out = backup_worker(dir.path(), &["python3", "-c", failing, "{dst}"])
        .output()
        .unwrap();
    let Some(Claim::Error { message }) = claim_of(&out.stdout) else {
        panic!("expected an error claim: {out:?}")
    };
    assert!(
        message.contains("external:t") && message.contains("exit 3") && message.ends_with("boom"),
        "{message}"
    );
}

/// An error claim quotes the tool's last stderr lines, not only the last one (often just a
/// caret under the statement that failed).
#[test]
fn an_error_claim_quotes_the_last_stderr_lines() {
    let dir = tempfile::tempdir().unwrap();
    let script = "printf 'Parse error near line 1: syntax error\\n  SELEC 1;\\n  ^--- error here\\n' >&2; exit 3";
    let out = backup_worker(dir.path(), &["sh", "-c", script, "sh", "{dst}"])
        .output()
        .unwrap();
    let Some(Claim::Error { message }) = claim_of(&out.stdout) else {
        panic!("expected an error claim: {out:?}")
    };
    assert!(
        message.ends_with(
            "exit 3: Parse error near line 1: syntax error\\n  SELEC 1;\\n  ^--- error here"
        ),
        "{message}"
    );
}

/// A worker killed by someone else than the supervisor (here: its own tool, and no
/// supervisor to kill the group) takes its tool with it: the tool dies with its parent.
#[test]
fn a_tool_dies_with_a_worker_killed_outside_the_supervisor() {
    if !Path::new("/proc/self/cmdline").exists() || !Path::new("/bin/sh").exists() {
        eprintln!("note: needs /proc and /bin/sh; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut worker = backup_worker(
        dir.path(),
        &[
            "sh",
            "-c",
            "kill -9 $PPID; exec sleep 37.789",
            "sh",
            "{dst}",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let status = worker.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the tool killed its worker"
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut left = running(&["sleep", "37.789"]);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left = running(&["sleep", "37.789"]);
    }
    for pid in &left {
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
    assert_eq!(left, Vec::<String>::new(), "the tool outlived its worker");
}
