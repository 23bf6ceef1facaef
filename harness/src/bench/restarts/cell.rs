//! One cell of the restart grid: a fresh source, a writer at a fixed rate, one stepped backup
//! with a time budget, and every measurement of the issue.
//!
//! Why it exists: the grid, the tests and the model all need "run this (nPage, rate, variant)
//! once and tell me what happened"; keeping it here keeps the orchestration in `mod.rs` small.
//!
//! The backup's source connection goes through a `vfs-faults` instance with tracing on (nothing
//! armed): after every step the trace is drained and the page reads are fed to the
//! [`PassDetector`]; the step results go to [`StepAccounting`]. The writer is a `worker writer`
//! process ([`WriterMode::Process`]), or a thread with its own connection ([`WriterMode::Thread`],
//! for tests, whose executable has no `worker` subcommand), or, in the same-connection variant,
//! the backup's own source connection between steps.

use super::signal::{db_page, wal_frame_header_offset, PassDetector, StepAccounting};
use super::writer::{spawn_collector, start_writer, SizePoller};
use crate::run::child::Message;
use crate::strategy::common::sidecar;
use crate::strategy::raw_backup::{describe_rc, is_retryable, RawBackup, SQLITE_DONE, SQLITE_OK};
use crate::workload::{self, WorkloadSpec};
use anyhow::{anyhow, bail, Context, Result};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vfs_faults::{FaultVfs, FileKind, OpKind};

/// Writer rate of a cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// No writer.
    Zero,
    PerSec(f64),
    /// As fast as the writer can commit.
    Max,
}

impl Rate {
    /// Nominal commits per second (`None` for max).
    pub fn nominal(self) -> Option<f64> {
        match self {
            Rate::Zero => Some(0.0),
            Rate::PerSec(r) => Some(r),
            Rate::Max => None,
        }
    }

    pub fn label(self) -> String {
        match self {
            Rate::Zero => "0".into(),
            Rate::PerSec(r) => format!("{r}"),
            Rate::Max => "max".into(),
        }
    }

    /// The JSON value: a number, or "max".
    pub fn json(self) -> serde_json::Value {
        match self.nominal() {
            Some(r) => serde_json::json!(r),
            None => serde_json::json!("max"),
        }
    }
}

/// Who commits during the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// A writer on another connection (another process): every commit can restart the backup.
    OtherProcess,
    /// The backup's own source connection commits between steps: pages are re-sent instead.
    SameConnection,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::OtherProcess => "other-process",
            Variant::SameConnection => "same-connection",
        }
    }
}

/// How the foreign writer of the other-process variant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterMode {
    /// `current_exe worker writer ...` (the real thing).
    Process,
    /// A thread of this process with its own connection (tests).
    Thread,
}

/// What one cell run is.
#[derive(Debug, Clone, Copy)]
pub struct CellSpec {
    pub npage: i32,
    pub rate: Rate,
    pub variant: Variant,
    pub budget: Duration,
}

/// Where a cell runs.
pub struct CellEnv<'a> {
    /// A closed WAL source in state S(0); copied for every run.
    pub template: &'a Path,
    pub spec: &'a WorkloadSpec,
    /// A scratch directory; the run's files are removed afterwards.
    pub dir: &'a Path,
    /// The traced VFS the backup's source connection goes through.
    pub vfs: &'a FaultVfs,
    pub writer_mode: WriterMode,
    /// Ends a run at its next step (the grid then drops the run: it measured nothing).
    pub interrupted: &'a crate::process::Interrupt,
}

/// Everything measured in one run of a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRun {
    pub completed: bool,
    pub duration_s: f64,
    /// Restarts by the progress formula.
    pub restarts: u64,
    /// Restarts by the VFS signal (page-1 re-reads of the source).
    pub restarts_vfs: u64,
    /// Passes the VFS signal started at a re-read of a page other than page 1.
    pub vfs_fallback_starts: u64,
    /// WAL reads the VFS signal could not map to a page (the WAL restarted under them).
    #[serde(default)]
    pub vfs_unmapped_reads: u64,
    /// Restarts (formula) at steps begun in the first and in the second half of the budget:
    /// whether a run that did not finish was restarting at a steady rate ([`super::trend`]).
    #[serde(default)]
    pub restarts_first_half: u64,
    #[serde(default)]
    pub restarts_second_half: u64,
    pub passes: u64,
    pub steps: u64,
    pub busy_steps: u64,
    pub pages_copied: u64,
    pub pagecount: u64,
    pub amplification: f64,
    /// Writer commits acknowledged between the backup's start and end.
    pub commits: u64,
    /// Commits per second during the backup.
    pub commit_rate: f64,
    pub commit_p50_ms: Option<f64>,
    pub commit_p99_ms: Option<f64>,
    pub max_wal_bytes: u64,
    pub longest_step_ms: f64,
    pub dest_bytes: u64,
}

/// Runs one cell once.
pub fn run_cell(env: &CellEnv<'_>, cell: &CellSpec, run_id: u64) -> Result<CellRun> {
    let source = env.dir.join(format!("src-{run_id}.db"));
    let dest = env.dir.join(format!("dst-{run_id}.db"));
    let result = run_cell_at(env, cell, &source, &dest);
    for p in [&source, &dest] {
        for suffix in ["", "-wal", "-shm", "-journal", ".writer-stderr"] {
            let _ = std::fs::remove_file(sidecar(p, suffix));
        }
    }
    result
}

fn run_cell_at(env: &CellEnv<'_>, cell: &CellSpec, source: &Path, dest: &Path) -> Result<CellRun> {
    std::fs::copy(env.template, source)
        .with_context(|| format!("copying the source template to {}", source.display()))?;
    let (tx, rx) = mpsc::channel::<Message>();
    let collector = spawn_collector(rx);
    let mut writer = match (cell.variant, cell.rate) {
        (Variant::OtherProcess, Rate::Zero) | (Variant::SameConnection, _) => None,
        (Variant::OtherProcess, rate) => Some(start_writer(env, source, rate, tx.clone())?),
    };
    drop(tx);
    if writer.is_some() {
        collector
            .wait_first(Duration::from_secs(10))
            .context("the writer did not commit within 10 s")?;
    }
    let outcome = backup(env, cell, source, dest);
    if let Some(w) = writer.as_mut() {
        w.stop();
    }
    drop(writer);
    let commits = collector.finish();
    let mut b = outcome?;
    // Commits during the backup: by sequence number (exact), not by receipt time.
    let in_window: Vec<u64> = commits
        .iter()
        .filter(|(k, _)| *k > b.k_start && *k <= b.k_end)
        .filter_map(|(_, lat)| *lat)
        .collect();
    let mut lat = if cell.variant == Variant::SameConnection {
        std::mem::take(&mut b.own_latencies_us)
    } else {
        in_window
    };
    let n_commits = b.k_end.saturating_sub(b.k_start);
    lat.sort_unstable();
    let pct = |q: f64| -> Option<f64> {
        (!lat.is_empty()).then(|| {
            let i = ((lat.len() - 1) as f64 * q).round() as usize;
            lat[i] as f64 / 1000.0
        })
    };
    let r = &mut b.run;
    r.commits = n_commits;
    r.commit_rate = n_commits as f64 / r.duration_s.max(1e-9);
    r.commit_p50_ms = pct(0.50);
    r.commit_p99_ms = pct(0.99);
    r.dest_bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    Ok(b.run)
}

struct BackupOutcome {
    run: CellRun,
    /// Source sequence number just before the backup and just after it.
    k_start: u64,
    k_end: u64,
    /// Commit latencies of the same-connection variant's own commits.
    own_latencies_us: Vec<u64>,
}

/// Maps the traced source reads since the last drain to page numbers for the detector.
struct TraceReader<'a> {
    vfs: &'a FaultVfs,
    wal: PathBuf,
    /// The WAL, opened once it exists (it is not deleted while the cell's connections live).
    wal_file: std::cell::RefCell<Option<std::fs::File>>,
    page_size: u32,
}

impl TraceReader<'_> {
    fn discard(&self) {
        self.vfs.clear_trace();
    }

    /// The WAL header's salts (bytes 16..24), if there is a WAL.
    fn wal_salts(&self) -> Option<[u8; 8]> {
        let mut b = [0u8; 8];
        self.with_wal(|f| f.read_exact_at(&mut b, 16).ok())?;
        Some(b)
    }

    fn with_wal<T>(&self, f: impl FnOnce(&std::fs::File) -> Option<T>) -> Option<T> {
        let mut w = self.wal_file.borrow_mut();
        if w.is_none() {
            *w = std::fs::File::open(&self.wal).ok();
        }
        w.as_ref().and_then(f)
    }

    /// Feeds the page reads traced since the last drain to `det`. `salts_before`: the WAL
    /// salts read before the step. A WAL read is mapped to a page through its frame header,
    /// read now, after the step released its snapshot; if the writer restarted the WAL in
    /// between, the frame may have been overwritten. A frame carrying the pre-step salts was
    /// not; when the salts changed across the step, a frame carrying the new ones is ambiguous
    /// and skipped (counted in `unmapped`).
    fn drain_into(
        &self,
        det: &mut PassDetector,
        salts_before: Option<[u8; 8]>,
        unmapped: &mut u64,
    ) {
        let trace = self.vfs.trace();
        self.vfs.clear_trace();
        let ps = i64::from(self.page_size);
        let mut salts_after: Option<Option<[u8; 8]>> = None;
        for e in trace {
            if e.op != OpKind::Read || e.len != Some(ps) {
                continue;
            }
            let Some(off) = e.offset else { continue };
            let page = match e.file {
                FileKind::MainDb => db_page(off, self.page_size),
                FileKind::Wal => {
                    let after = *salts_after.get_or_insert_with(|| self.wal_salts());
                    let frame = self.with_wal(|f| wal_frame(f, off, self.page_size));
                    match frame {
                        Some((page, salts))
                            if salts_before == after || Some(salts) == salts_before =>
                        {
                            Some(page)
                        }
                        _ => {
                            *unmapped += 1;
                            None
                        }
                    }
                }
                _ => None,
            };
            if let Some(p) = page {
                det.observe_page(p);
            }
        }
    }
}

/// The page number and salts in the frame header of the WAL frame whose data is at `offset`.
fn wal_frame(f: &std::fs::File, offset: i64, page_size: u32) -> Option<(u32, [u8; 8])> {
    let hdr = wal_frame_header_offset(offset, page_size)?;
    let mut b = [0u8; 16];
    f.read_exact_at(&mut b, hdr as u64).ok()?;
    let page = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let mut salts = [0u8; 8];
    salts.copy_from_slice(&b[8..16]);
    (page > 0).then_some((page, salts))
}

fn open_source(path: &Path, vfs: &str, same_conn: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let c = Connection::open_with_flags_and_vfs(path, flags, vfs)
        .with_context(|| format!("opening {} through {vfs}", path.display()))?;
    c.busy_timeout(Duration::from_secs(5))?;
    if same_conn {
        c.execute_batch("PRAGMA synchronous = NORMAL;")?;
        c.set_prepared_statement_cache_capacity(64);
    }
    Ok(c)
}

fn backup(env: &CellEnv<'_>, cell: &CellSpec, source: &Path, dest: &Path) -> Result<BackupOutcome> {
    let same_conn = cell.variant == Variant::SameConnection;
    let src = open_source(source, env.vfs.name(), same_conn)?;
    let mut dst = Connection::open(dest).with_context(|| format!("opening {}", dest.display()))?;
    let reader = TraceReader {
        vfs: env.vfs,
        wal: sidecar(source, "-wal"),
        wal_file: std::cell::RefCell::new(None),
        page_size: env.spec.page_size,
    };
    let k_start = workload::read_seq(&src).context("reading the source seq")?;
    let poller = SizePoller::start(sidecar(source, "-wal"));
    env.vfs.set_trace(true);
    reader.discard();
    let mut acct = StepAccounting::new(cell.npage);
    let mut det = PassDetector::new();
    let (mut steps, mut busy, mut longest) = (0u64, 0u64, Duration::ZERO);
    let mut unmapped = 0u64;
    let mut halves = [0u64; 2];
    let mut own = Vec::new();
    let start = Instant::now();
    let mut completed = false;
    let mut bk = RawBackup::init(&mut dst, &src)
        .map_err(|e| anyhow!("backup_init {}: {}", describe_rc(e.rc), e.message))?;
    let result = loop {
        if start.elapsed() >= cell.budget || env.interrupted.is_set() {
            break Ok(());
        }
        det.begin_step();
        let salts = reader.wal_salts();
        let t = Instant::now();
        let rc = bk.step(cell.npage);
        longest = longest.max(t.elapsed());
        steps += 1;
        reader.drain_into(&mut det, salts, &mut unmapped);
        if acct.observe(rc, bk.remaining(), bk.pagecount()) {
            halves[usize::from(t - start >= cell.budget / 2)] += 1;
        }
        if rc == SQLITE_DONE {
            completed = true;
            break Ok(());
        } else if rc == SQLITE_OK {
            if same_conn {
                if let Err(e) = same_conn_commits(&src, env.spec, cell.rate, start, &mut own) {
                    break Err(e);
                }
                reader.discard();
            }
        } else if is_retryable(rc) {
            busy += 1;
            std::thread::sleep(Duration::from_millis(1));
        } else {
            break Err(anyhow!("backup_step {}", describe_rc(rc)));
        }
    };
    let end = Instant::now();
    let frc = bk.finish();
    env.vfs.set_trace(false);
    reader.discard();
    let max_wal = poller.finish();
    result?;
    let k_end = workload::read_seq(&src).context("reading the source seq")?;
    if completed && frc != SQLITE_OK {
        bail!("backup_finish {}", describe_rc(frc));
    }
    let duration_s = (end - start).as_secs_f64();
    let pagecount = acct.pagecount();
    let run = CellRun {
        completed,
        duration_s,
        restarts: acct.restarts(),
        restarts_vfs: det.restarts(),
        vfs_fallback_starts: det.fallback_starts(),
        vfs_unmapped_reads: unmapped,
        restarts_first_half: halves[0],
        restarts_second_half: halves[1],
        passes: acct.restarts() + 1,
        steps,
        busy_steps: busy,
        pages_copied: acct.pages_copied(),
        pagecount,
        amplification: acct.pages_copied() as f64 / pagecount.max(1) as f64,
        commits: 0,
        commit_rate: 0.0,
        commit_p50_ms: None,
        commit_p99_ms: None,
        max_wal_bytes: max_wal,
        longest_step_ms: longest.as_secs_f64() * 1000.0,
        dest_bytes: 0,
    };
    Ok(BackupOutcome {
        run,
        k_start,
        k_end,
        own_latencies_us: own,
    })
}

/// The same-connection writer: commits that are due at `rate` since `start` (one per step at
/// max), on the backup's own source connection.
fn same_conn_commits(
    src: &Connection,
    spec: &WorkloadSpec,
    rate: Rate,
    start: Instant,
    lat: &mut Vec<u64>,
) -> Result<()> {
    let due = match rate {
        Rate::Zero => 0,
        Rate::Max => lat.len() as u64 + 1,
        Rate::PerSec(r) => (start.elapsed().as_secs_f64() * r).floor() as u64 + 1,
    };
    while (lat.len() as u64) < due {
        let t = Instant::now();
        workload::commit_next(src, spec).context("same-connection commit")?;
        lat.push(t.elapsed().as_micros() as u64);
        if rate == Rate::Max {
            break;
        }
    }
    Ok(())
}
