//! `bench digest`: the oracle's logical digest against `PRAGMA quick_check` on the same database.
//!
//! The reference sources of [`PAGES`] pages (`workload::create_source` with the default spec
//! otherwise) are built once in a temp dir and opened the way the oracle opens a file
//! (read-write, default VFS). For each size, [`ROUNDS`] rounds run; inside a round digest and
//! quick_check alternate [`SLICES`] times (the order flips every slice), so that drift and load
//! from other processes hit both alike. The ratio is the median of the per-round ratios
//! `digest time / quick_check time`; the times are the medians of the per-round means. Target:
//! the digest takes at most [`TARGET_RATIO`] × quick_check at every size.

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::digest::{digest_connection, Digest};
use crate::workload::{self, WorkloadSpec};

/// Database sizes measured, in pages (`WorkloadSpec::initial_pages`).
pub const PAGES: [u32; 2] = [1000, 4000];
/// Rounds per size.
pub const ROUNDS: usize = 7;
/// Digest / quick_check pairs per round.
pub const SLICES: usize = 8;
/// The target: digest ≤ 1.5 × quick_check.
pub const TARGET_RATIO: f64 = 1.5;

/// One database size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestSize {
    /// `initial_pages` of the spec.
    pub pages: u32,
    /// `PRAGMA page_count` of the file built.
    pub page_count: i64,
    /// Median over rounds of (digest time / quick_check time).
    pub ratio: f64,
    /// Median over rounds of the mean digest time, in milliseconds.
    pub digest_ms: f64,
    /// Median over rounds of the mean quick_check time, in milliseconds.
    pub quick_check_ms: f64,
    pub round_ratios: Vec<f64>,
    pub within_target: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestReport {
    pub sizes: Vec<DigestSize>,
    /// The ratio at 1000 pages.
    pub ratio_1000: f64,
    /// The ratio at 4000 pages.
    pub ratio_4000: f64,
    pub rounds: usize,
    pub slices: usize,
    pub target_ratio: f64,
    /// Every size within the target.
    pub within_target: bool,
    /// The stop signal that cut the measurement short (the sizes and rounds done are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<crate::process::StopSignal>,
}

/// The median; NaN (JSON null) when no round finished.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn timed_digest(conn: &Connection) -> Result<(Duration, Digest)> {
    let start = Instant::now();
    let d = digest_connection(conn).context("digest")?;
    Ok((start.elapsed(), d))
}

fn timed_quick_check(conn: &Connection) -> Result<Duration> {
    let start = Instant::now();
    let ok: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .context("quick_check")?;
    let t = start.elapsed();
    if ok != "ok" {
        bail!("quick_check: {ok}");
    }
    Ok(t)
}

fn measure(dir: &Path, pages: u32, interrupted: &crate::process::Interrupt) -> Result<DigestSize> {
    let spec = WorkloadSpec {
        initial_pages: pages,
        ..WorkloadSpec::default()
    };
    let path = dir.join(format!("digest-{pages}.db"));
    workload::create_source(&path, &spec).with_context(|| format!("build {pages} pages"))?;
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("open {}", path.display()))?;
    let page_count: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    // Warm-up: page cache, allocator, code paths; and the digest must be the same every time.
    let (_, first) = timed_digest(&conn)?;
    timed_quick_check(&conn)?;
    let (mut ratios, mut dt, mut qt) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        if interrupted.is_set() {
            break;
        }
        let round = ratios.len();
        let (mut d, mut q) = (Duration::ZERO, Duration::ZERO);
        for s in 0..SLICES {
            let digest_first = (round + s).is_multiple_of(2);
            if !digest_first {
                q += timed_quick_check(&conn)?;
            }
            let (t, again) = timed_digest(&conn)?;
            if again != first {
                bail!("digest of {pages} pages changed between runs: {first} then {again}");
            }
            d += t;
            if digest_first {
                q += timed_quick_check(&conn)?;
            }
        }
        ratios.push(d.as_secs_f64() / q.as_secs_f64());
        dt.push(d.as_secs_f64() * 1e3 / SLICES as f64);
        qt.push(q.as_secs_f64() * 1e3 / SLICES as f64);
    }
    let ratio = median(ratios.clone());
    Ok(DigestSize {
        pages,
        page_count,
        ratio,
        digest_ms: median(dt),
        quick_check_ms: median(qt),
        round_ratios: ratios,
        within_target: ratio <= TARGET_RATIO,
    })
}

/// Measures, prints the JSON report, and writes it to `json` if given. A stop signal on
/// `interrupted` ends it between rounds, with what was measured and `interrupted_by`.
pub fn run(json: Option<&Path>, interrupted: &crate::process::Interrupt) -> Result<DigestReport> {
    let dir = crate::run::scratch_dir("bench-digest-").context("scratch dir")?;
    let mut sizes = Vec::new();
    for p in PAGES {
        if interrupted.is_set() {
            break;
        }
        sizes.push(measure(dir.path(), p, interrupted)?);
    }
    let ratio_at = |p: u32| {
        sizes
            .iter()
            .find(|s| s.pages == p)
            .map_or(f64::NAN, |s| s.ratio)
    };
    let report = DigestReport {
        ratio_1000: ratio_at(1000),
        ratio_4000: ratio_at(4000),
        rounds: ROUNDS,
        slices: SLICES,
        target_ratio: TARGET_RATIO,
        within_target: sizes.iter().all(|s| s.within_target),
        sizes,
        interrupted_by: interrupted.signal(),
    };
    let text = serde_json::to_string_pretty(&report)?;
    crate::console::outln!("{text}");
    if let Some(p) = json {
        std::fs::write(p, format!("{text}\n")).with_context(|| format!("write {}", p.display()))?;
    }
    Ok(report)
}
