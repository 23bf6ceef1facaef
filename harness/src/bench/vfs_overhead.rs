//! `bench vfs-overhead`: the cost of the fault VFS with nothing armed.
//!
//! The same commit-heavy workload (WAL, `synchronous=NORMAL`, small autocommit inserts, fresh
//! database in a temp dir) runs through `unix` and through `vfs-faults` with an empty plan,
//! interleaved for [`ROUNDS`] rounds in one process (the order alternates per round, so drift
//! hits both). The ratio is the median of the per-round ratios `faults time / unix time`. A
//! third run per round with tracing on says what the trace costs.

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};
use vfs_faults::{FaultPlan, FaultVfs, Options};

/// Interleaved rounds.
pub const ROUNDS: usize = 5;
/// Commits per run.
pub const COMMITS: u64 = 20_000;
/// The overhead target of the vfs-faults issue.
pub const TARGET_RATIO: f64 = 1.02;

const FAULTS: &str = "faults-bench";
const FAULTS_TRACE: &str = "faults-bench-trace";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VfsOverheadReport {
    /// Median over rounds of (faults time / unix time), nothing armed.
    pub ratio: f64,
    pub unix_commits_per_s: f64,
    pub faults_commits_per_s: f64,
    pub commits: u64,
    pub rounds: usize,
    pub round_ratios: Vec<f64>,
    /// Median over rounds of (faults time with trace on / unix time).
    pub trace_on_ratio: f64,
    pub trace_on_commits_per_s: f64,
    pub target_ratio: f64,
    pub within_target: bool,
}

/// Runs `commits` autocommit inserts on a fresh WAL database through `vfs`.
pub fn commit_run(dir: &Path, tag: &str, vfs: &str, commits: u64) -> Result<Duration> {
    let path = dir.join(format!("{tag}.db"));
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let c = Connection::open_with_flags_and_vfs(&path, flags, vfs)
        .with_context(|| format!("open {} through {vfs}", path.display()))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")?;
    let mut st = c.prepare("INSERT INTO t(a, b) VALUES(?1, ?2)")?;
    let start = Instant::now();
    for i in 0..commits {
        st.execute((i as i64, "payload-0123456789"))?;
    }
    let t = start.elapsed();
    drop(st);
    drop(c);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(t)
}

fn instance(name: &str, trace: bool) -> Result<FaultVfs> {
    if let Some(v) = FaultVfs::get(name) {
        return Ok(v);
    }
    Ok(FaultVfs::register_with(
        name,
        Options {
            trace,
            plan: FaultPlan::default(),
            ..Options::default()
        },
    )?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Measures, prints the JSON report, and writes it to `json` if given.
pub fn run(json: Option<&Path>) -> Result<VfsOverheadReport> {
    let _plain = instance(FAULTS, false)?;
    let traced = instance(FAULTS_TRACE, true)?;
    let dir = tempfile::tempdir().context("temp dir")?;
    // Warm-up: page cache, allocator, code paths.
    commit_run(dir.path(), "warm-u", "unix", COMMITS / 5)?;
    commit_run(dir.path(), "warm-f", FAULTS, COMMITS / 5)?;
    let (mut unix_t, mut faults_t, mut trace_t) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut trace_ratios) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (u, f) = if round % 2 == 0 {
            let u = commit_run(dir.path(), &format!("u{round}"), "unix", COMMITS)?;
            let f = commit_run(dir.path(), &format!("f{round}"), FAULTS, COMMITS)?;
            (u, f)
        } else {
            let f = commit_run(dir.path(), &format!("f{round}"), FAULTS, COMMITS)?;
            let u = commit_run(dir.path(), &format!("u{round}"), "unix", COMMITS)?;
            (u, f)
        };
        traced.clear_trace();
        let t = commit_run(dir.path(), &format!("t{round}"), FAULTS_TRACE, COMMITS)?;
        traced.clear_trace();
        ratios.push(f.as_secs_f64() / u.as_secs_f64());
        trace_ratios.push(t.as_secs_f64() / u.as_secs_f64());
        unix_t.push(u.as_secs_f64());
        faults_t.push(f.as_secs_f64());
        trace_t.push(t.as_secs_f64());
    }
    let ratio = median(ratios.clone());
    let report = VfsOverheadReport {
        ratio,
        unix_commits_per_s: COMMITS as f64 / median(unix_t),
        faults_commits_per_s: COMMITS as f64 / median(faults_t),
        commits: COMMITS,
        rounds: ROUNDS,
        round_ratios: ratios,
        trace_on_ratio: median(trace_ratios),
        trace_on_commits_per_s: COMMITS as f64 / median(trace_t),
        target_ratio: TARGET_RATIO,
        within_target: ratio <= TARGET_RATIO,
    };
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(p) = json {
        std::fs::write(p, format!("{text}\n")).with_context(|| format!("write {}", p.display()))?;
    }
    Ok(report)
}
