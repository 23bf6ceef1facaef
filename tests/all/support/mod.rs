//! Helpers shared by the strategy integration tests: a small WAL source, content dumps,
//! running one strategy in-process, and simulated kills (files copied at every event).
#![allow(dead_code)]

use harness::event::{Claim, Event};
use harness::strategy::{self, StrategyContext, StrategyParams};
use harness::workload::WorkloadSpec;
use rusqlite::types::Value;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// A small WAL source: a few hundred rows (some overflow pages), a `meta` row, and committed
/// content left in the `-wal` (the connection stays open, autocheckpoint off).
pub fn make_source(dir: &Path) -> (PathBuf, Connection) {
    let path = dir.join("src.db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE meta(id INTEGER PRIMARY KEY CHECK(id=1), seq INTEGER);
         INSERT INTO meta VALUES (1, 0);
         CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB);
         CREATE INDEX t_n ON t(n);",
    )
    .unwrap();
    c.execute_batch("BEGIN").unwrap();
    for i in 0..300i64 {
        let len = if i % 50 == 0 {
            6000
        } else {
            (i as usize * 37) % 700
        };
        c.execute(
            "INSERT INTO t(n, r, s, b) VALUES (?1, ?2, ?3, zeroblob(?4))",
            rusqlite::params![i * 7 % 101, i as f64 / 3.0, format!("row {i}"), len as i64],
        )
        .unwrap();
    }
    c.execute_batch("COMMIT; PRAGMA wal_checkpoint(PASSIVE);")
        .unwrap();
    // More commits after the checkpoint, living only in the WAL.
    for k in 1..=5i64 {
        c.execute_batch(&format!(
            "BEGIN; UPDATE meta SET seq={k}; DELETE FROM t WHERE id % 29 = {k};
             INSERT INTO t(n, r, s) VALUES ({k}, 0.5, 'wal only'); COMMIT;"
        ))
        .unwrap();
    }
    (path, c)
}

/// Schema plus the rows of every table, sorted, as text.
pub fn content(path: &Path) -> Vec<String> {
    try_content(path).unwrap()
}

/// [`content`] that reports a damaged database instead of panicking.
pub fn try_content(path: &Path) -> Result<Vec<String>, rusqlite::Error> {
    let c = Connection::open(path)?;
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(rusqlite::Error::InvalidQuery);
    }
    Ok(content_of(&c))
}

pub fn content_of(c: &Connection) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut names = Vec::new();
    {
        let mut st = c
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name")
            .unwrap();
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (ty, name, sql) = row.unwrap();
            out.push(format!("{ty} {name} {sql:?}"));
            if ty == "table" {
                names.push(name);
            }
        }
    }
    for name in names {
        let mut st = c.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                let vals: Vec<Value> = (0..n).map(|i| r.get(i)).collect::<Result<_, _>>()?;
                Ok(format!("{name} {vals:?}"))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.sort();
        out.extend(rows);
    }
    out
}

/// Copies the destination and its sidecars, as they are right now, into `snap_dir` (what a kill
/// at this instant would leave behind); returns the copied database's path.
pub fn snapshot(dest: &Path, snap_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(snap_dir).unwrap();
    let name = dest.file_name().unwrap().to_string_lossy().into_owned();
    for suffix in ["", "-journal", "-wal"] {
        let from = dest.with_file_name(format!("{name}{suffix}"));
        if from.exists() {
            std::fs::copy(&from, snap_dir.join(format!("{name}{suffix}"))).unwrap();
        }
    }
    snap_dir.join(name)
}

/// Runs `name` into a pre-existing destination and snapshots it at every event; returns the
/// recovered content of each snapshot (Err = damaged), the old and the new content.
#[allow(clippy::type_complexity)]
pub fn kill_points(
    name: &str,
) -> (
    Vec<(String, Result<Vec<String>, rusqlite::Error>)>,
    Vec<String>,
    Vec<String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    let dest = dir.path().join("k.db");
    make_preexisting(&dest);
    let old = content(&dest);
    let params = StrategyParams {
        npage: 7,
        ..StrategyParams::default()
    };
    let workload = WorkloadSpec::default();
    let mut snaps = Vec::new();
    let mut emit = |e: Event| {
        let snap_dir = dir.path().join(format!("snap{}", snaps.len()));
        if !matches!(e, Event::Phase { .. } | Event::Step { .. }) || snaps.len() > 40 {
            return;
        }
        if dest.exists() {
            snaps.push((format!("{e:?}"), snapshot(&dest, &snap_dir)));
        }
    };
    let mut ctx = StrategyContext {
        source: &src,
        dest: &dest,
        source_vfs: None,
        dest_vfs: None,
        params: &params,
        workload: &workload,
        abort_before_step: None,
        link_fault: None,
        emit: &mut emit,
    };
    let claim = strategy::by_name(name).unwrap().run(&mut ctx);
    assert_eq!(claim, Claim::Success);
    let new = content(&src);
    let states = snaps
        .into_iter()
        .map(|(ev, p)| (ev, try_content(&p)))
        .collect();
    (states, old, new)
}

pub fn make_preexisting(dest: &Path) {
    let c = Connection::open(dest).unwrap();
    c.execute_batch(
        "CREATE TABLE old(x); INSERT INTO old VALUES ('previous backup');
         CREATE TABLE t(id INTEGER PRIMARY KEY, junk TEXT);
         INSERT INTO t(junk) SELECT 'x' FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<500) SELECT i FROM c);",
    )
    .unwrap();
}

pub fn run(name: &str, source: &Path, dest: &Path, dest_vfs: Option<&str>) -> (Claim, Vec<Event>) {
    let params = StrategyParams {
        npage: 7,
        busy_timeout_ms: 500,
        ..StrategyParams::default()
    };
    let workload = WorkloadSpec::default();
    let mut events = Vec::new();
    let mut emit = |e: Event| events.push(e);
    let mut ctx = StrategyContext {
        source,
        dest,
        source_vfs: None,
        dest_vfs,
        params: &params,
        workload: &workload,
        abort_before_step: None,
        link_fault: None,
        emit: &mut emit,
    };
    let s = strategy::by_name(name).expect("known strategy");
    assert_eq!(strategy::registration(name).map(|r| r.name), Some(name));
    let claim = s.run(&mut ctx);
    (claim, events)
}

pub fn steps(events: &[Event]) -> Vec<(i32, i32, i32)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Step {
                rc,
                remaining,
                pagecount,
                ..
            } => Some((*rc, *remaining, *pagecount)),
            _ => None,
        })
        .collect()
}

/// Runs `name` into a fresh and into a pre-existing destination; both must be exact copies.
pub fn check_copies(name: &str) -> Vec<Event> {
    let dir = tempfile::tempdir().unwrap();
    let (src, _writer) = make_source(dir.path());
    let expected = content(&src);
    let mut all = Vec::new();
    for pre in [false, true] {
        let dest = dir.path().join(format!("dest-{pre}.db"));
        if pre {
            make_preexisting(&dest);
        }
        let (claim, events) = run(name, &src, &dest, None);
        assert_eq!(
            claim,
            Claim::Success,
            "{name} pre-existing={pre}: {events:?}"
        );
        assert_eq!(content(&dest), expected, "{name} pre-existing={pre}");
        all.extend(events);
    }
    all
}

/// Processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(text);
            }
        }
    }
    found
}

/// Starts the binary on the small storm fixture (50 iterations) with its temp root at `tmp`
/// and its reports under `reports`, and returns once its workers run (their command lines
/// name `tmp`).
pub fn start_storm(tmp: &Path, reports: &Path) -> std::process::Child {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-storm.toml");
    let child = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&fixture)
        .args(["--iterations", "50", "--report-dir"])
        .arg(reports)
        .env("HARNESS_TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let needle = tmp.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_mentioning("worker")
        .iter()
        .all(|p| !p.contains(&needle))
    {
        assert!(Instant::now() < deadline, "no worker started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// What `scenario` printed and wrote: its exit code, its JSON report and its stdout.
pub struct ScenarioRun {
    pub code: Option<i32>,
    pub report: serde_json::Value,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the scenario `text` (written to a temp file) through the real binary, with its report
/// in a temp dir, and reads back the JSON report.
pub fn run_scenario_text(text: &str) -> ScenarioRun {
    run_scenario_text_under(&[], text)
}

/// [`run_scenario_text`], the binary started by `prefix` (a program and its arguments that
/// `exec`s the binary, e.g. a shell setting a resource limit); empty: directly.
pub fn run_scenario_text_under(prefix: &[&str], text: &str) -> ScenarioRun {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    run_scenario_in(prefix, &path.to_string_lossy(), &[], dir.path())
}

/// Runs `scenario <scenario> <args>` (a bundled name or a file) through the real binary, with
/// its report in a temp dir, and reads back the JSON report.
pub fn run_scenario_with(scenario: &str, args: &[&str]) -> ScenarioRun {
    let dir = tempfile::tempdir().unwrap();
    run_scenario_in(&[], scenario, args, dir.path())
}

fn run_scenario_in(prefix: &[&str], scenario: &str, args: &[&str], dir: &Path) -> ScenarioRun {
    let json = dir.join("r.json");
    let bin = env!("CARGO_BIN_EXE_sqlite-backup-harness");
    let mut cmd = match prefix.split_first() {
        Some((program, pargs)) => {
            let mut c = std::process::Command::new(program);
            c.args(pargs).arg(bin);
            c
        }
        None => std::process::Command::new(bin),
    };
    let out = cmd
        .arg("scenario")
        .arg(scenario)
        .args(args)
        .arg("--report-dir")
        .arg(dir)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|e| panic!("no report ({e}); stdout: {stdout}\nstderr: {stderr}"));
    ScenarioRun {
        code: out.status.code(),
        report,
        stdout,
        stderr,
    }
}
