//! `bench vfs-overhead`: the cost of the fault VFS with nothing armed.
//!
//! The same commit-heavy workload (WAL, `synchronous=NORMAL`, small autocommit inserts, fresh
//! database in a temp dir) runs through `unix` and through `vfs-faults` with an empty plan,
//! interleaved for [`ROUNDS`] rounds in one process; inside a round the runs alternate in
//! [`SLICES`] short slices so that drift and load from other processes hit both alike. The ratio is the median of the per-round ratios `faults time / unix time`. A
//! third run per round with tracing on says what the trace costs.

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};
use vfs_faults::{FaultPlan, FaultVfs, Options};

/// Interleaved rounds.
pub const ROUNDS: usize = 5;
/// Commits per run and round.
pub const COMMITS: u64 = 20_000;
/// Alternating slices per round.
pub const SLICES: u64 = 20;
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
    /// The stop signal that cut the measurement short (the figures are of the rounds done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<crate::process::StopSignal>,
}

/// One fresh WAL database opened through `vfs`, ready for timed inserts.
pub struct Workload {
    conn: Connection,
    path: std::path::PathBuf,
    next: i64,
}

impl Workload {
    pub fn new(dir: &Path, tag: &str, vfs: &str) -> Result<Workload> {
        let path = dir.join(format!("{tag}.db"));
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags_and_vfs(&path, flags, vfs)
            .with_context(|| format!("open {} through {vfs}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")?;
        Ok(Workload {
            conn,
            path,
            next: 0,
        })
    }

    /// Times `commits` small autocommit inserts.
    pub fn commits(&mut self, commits: u64) -> Result<Duration> {
        let mut st = self
            .conn
            .prepare_cached("INSERT INTO t(a, b) VALUES(?1, ?2)")?;
        let start = Instant::now();
        for _ in 0..commits {
            st.execute((self.next, "payload-0123456789"))?;
            self.next += 1;
        }
        Ok(start.elapsed())
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
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

/// The median; NaN (JSON null) when no round finished.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Measures, prints the JSON report, and writes it to `json` if given. A stop signal on
/// `interrupted` ends it between slices, with the rounds done so far and `interrupted_by`.
pub fn run(
    json: Option<&Path>,
    interrupted: &crate::process::Interrupt,
) -> Result<VfsOverheadReport> {
    let _plain = instance(FAULTS, false)?;
    let traced = instance(FAULTS_TRACE, true)?;
    let dir = crate::run::scratch_dir("bench-vfs-").context("scratch dir")?;
    // Warm-up: page cache, allocator, code paths.
    Workload::new(dir.path(), "warm-u", "unix")?.commits(COMMITS / 10)?;
    Workload::new(dir.path(), "warm-f", FAULTS)?.commits(COMMITS / 10)?;
    let (mut unix_t, mut faults_t, mut trace_t) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut trace_ratios) = (Vec::new(), Vec::new());
    let slice = COMMITS / SLICES;
    'rounds: for round in 0..ROUNDS {
        // Within a round the three runs alternate in short slices, so that load from other
        // processes falls on all of them alike.
        let mut u = Workload::new(dir.path(), &format!("u{round}"), "unix")?;
        let mut f = Workload::new(dir.path(), &format!("f{round}"), FAULTS)?;
        let mut t = Workload::new(dir.path(), &format!("t{round}"), FAULTS_TRACE)?;
        let (mut ud, mut fd, mut td) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for s in 0..SLICES {
            if interrupted.is_set() {
                break 'rounds;
            }
            if (round as u64 + s).is_multiple_of(2) {
                ud += u.commits(slice)?;
                fd += f.commits(slice)?;
            } else {
                fd += f.commits(slice)?;
                ud += u.commits(slice)?;
            }
            td += t.commits(slice)?;
            traced.clear_trace();
        }
        ratios.push(fd.as_secs_f64() / ud.as_secs_f64());
        trace_ratios.push(td.as_secs_f64() / ud.as_secs_f64());
        unix_t.push(ud.as_secs_f64());
        faults_t.push(fd.as_secs_f64());
        trace_t.push(td.as_secs_f64());
    }
    let ratio = median(ratios.clone());
    let report = VfsOverheadReport {
        ratio,
        unix_commits_per_s: COMMITS as f64 / median(unix_t),
        faults_commits_per_s: COMMITS as f64 / median(faults_t),
        commits: COMMITS,
        rounds: ratios.len(),
        round_ratios: ratios,
        trace_on_ratio: median(trace_ratios),
        trace_on_commits_per_s: COMMITS as f64 / median(trace_t),
        target_ratio: TARGET_RATIO,
        within_target: ratio <= TARGET_RATIO,
        interrupted_by: interrupted.signal(),
    };
    let text = serde_json::to_string_pretty(&report)?;
    crate::console::outln!("{text}");
    if let Some(p) = json {
        std::fs::write(p, format!("{text}\n")).with_context(|| format!("write {}", p.display()))?;
    }
    Ok(report)
}
