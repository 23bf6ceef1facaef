//! The two independent restart signals of `bench restarts`, as pure state machines.
//!
//! Why it exists: the backup API has no restart counter, so the bench counts restarts twice
//! and checks that the two agree.
//!
//! * [`StepAccounting`]: the API side. It feeds every step's `(rc, remaining, pagecount)` to the
//!   robust formula of SQLITE-NOTES.md ([`RestartCounter`]) and derives how many pages each
//!   step copied (for the amplification).
//! * [`PassDetector`]: the VFS side. It sees the page numbers the source connection read from
//!   disk (main db or WAL) during backup steps. Within one pass the backup reads each page at
//!   most once and in increasing order, and page 1 stays in the pager cache between steps (it is
//!   the first page every step pins). The source pager re-reads page 1, and then pages it already
//!   read, only after it discarded its cache, which is exactly when SQLite restarts the backup
//!   (`pager_reset` calls `sqlite3BackupRestart`). So a new pass starts at a disk read of page 1,
//!   or at a read of a page already read in the current pass (the fallback for a page 1 read
//!   the bench could not map to its page number).

use super::cell::CellRun;
use crate::strategy::common::RestartCounter;
use crate::strategy::raw_backup::{SQLITE_DONE, SQLITE_OK};
use std::collections::HashSet;

/// Restarts (robust formula) and pages copied, from the steps' `(remaining, pagecount)`.
#[derive(Debug, Clone)]
pub struct StepAccounting {
    counter: RestartCounter,
    prev_remaining: i64,
    prev_pagecount: i64,
    pages_copied: u64,
    last_pagecount: i64,
}

impl StepAccounting {
    pub fn new(npage: i32) -> Self {
        StepAccounting {
            counter: RestartCounter::new(npage),
            prev_remaining: 0,
            prev_pagecount: 0,
            pages_copied: 0,
            last_pagecount: 0,
        }
    }

    /// Feeds one step; returns true if this step restarted the backup (formula).
    pub fn observe(&mut self, rc: i32, remaining: i32, pagecount: i32) -> bool {
        if rc != SQLITE_OK && rc != SQLITE_DONE {
            return false;
        }
        let before = self.counter.restarts();
        let restarted = self.counter.observe(rc, remaining, pagecount) > before;
        let (rem, pc) = (i64::from(remaining), i64::from(pagecount));
        let copied = if restarted {
            pc - rem
        } else {
            self.prev_remaining + (pc - self.prev_pagecount) - rem
        };
        self.pages_copied += copied.max(0) as u64;
        self.prev_remaining = rem;
        self.prev_pagecount = pc;
        self.last_pagecount = pc;
        restarted
    }

    pub fn restarts(&self) -> u64 {
        self.counter.restarts()
    }

    pub fn pages_copied(&self) -> u64 {
        self.pages_copied
    }

    /// The source's page count at the last successful step.
    pub fn pagecount(&self) -> u64 {
        self.last_pagecount.max(0) as u64
    }
}

/// Counts passes from the source pages read from disk during backup steps (VFS side).
#[derive(Debug, Clone, Default)]
pub struct PassDetector {
    seen: HashSet<u32>,
    passes: u64,
    page_reads: u64,
    /// Passes that began at a re-read of a page other than page 1.
    fallback_starts: u64,
    /// No pass started yet in the current step.
    step_open: bool,
}

impl PassDetector {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backup step begins. The source pager discards its cache at most once per step (when
    /// the step opens its read transaction), so at most one pass starts per step. (The very
    /// first step can read page 1 twice: once in rollback mode, once more after the pager
    /// found the database in WAL mode and reset its cache, before the backup registered.)
    pub fn begin_step(&mut self) {
        self.step_open = true;
    }

    /// One page-sized read of source page `page` (1-based) by a backup step.
    pub fn observe_page(&mut self, page: u32) {
        self.page_reads += 1;
        let reread = self.seen.contains(&page);
        if self.passes == 0 || (self.step_open && (page == 1 || reread)) {
            if self.passes > 0 && page != 1 {
                self.fallback_starts += 1;
            }
            self.passes += 1;
            self.step_open = false;
            self.seen.clear();
        }
        self.seen.insert(page);
    }

    /// Passes started so far (0 before any read).
    pub fn passes(&self) -> u64 {
        self.passes
    }

    /// Restarts: passes after the first.
    pub fn restarts(&self) -> u64 {
        self.passes.saturating_sub(1)
    }

    pub fn page_reads(&self) -> u64 {
        self.page_reads
    }

    pub fn fallback_starts(&self) -> u64 {
        self.fallback_starts
    }
}

/// Which restart count the report trusts, and why the other one can be lower.
pub const AUTHORITATIVE: &str = "restarts (the progress formula over the steps' remaining \
    and pagecount: it sees every step) is authoritative; restarts_vfs (page-1 re-reads in the \
    VFS trace) is a cross-check that misses a restart when the page-1 read came from a WAL \
    frame the writer overwrote (WAL restarted) before the bench read its frame header; such \
    reads are counted in runs[].vfs_unmapped_reads and bound the difference";

/// Why the two restart counts differ in some run of a cell, if they do: explained when every
/// such run's VFS count is lower by at most its unmapped WAL reads.
pub fn disagree_reason(runs: &[CellRun]) -> Option<String> {
    let off: Vec<&CellRun> = runs
        .iter()
        .filter(|r| r.restarts != r.restarts_vfs)
        .collect();
    if off.is_empty() {
        return None;
    }
    let missed: u64 = off
        .iter()
        .map(|r| r.restarts.abs_diff(r.restarts_vfs))
        .sum();
    let unmapped: u64 = off.iter().map(|r| r.vfs_unmapped_reads).sum();
    let explained = off.iter().all(|r| {
        r.restarts_vfs < r.restarts && r.restarts - r.restarts_vfs <= r.vfs_unmapped_reads
    });
    Some(if explained {
        format!("the VFS signal missed {missed} restart(s) in {} run(s) with {unmapped} unmapped WAL reads (WAL restarted under them); the formula count is authoritative", off.len())
    } else {
        format!("unexplained: the counts differ by {missed} in {} run(s) with {unmapped} unmapped WAL reads", off.len())
    })
}

/// The page number of a page-sized read at `offset` of the main db file.
pub fn db_page(offset: i64, page_size: u32) -> Option<u32> {
    (offset >= 0 && page_size > 0)
        .then(|| u32::try_from(offset / i64::from(page_size) + 1).ok())
        .flatten()
}

/// WAL header and frame header sizes (wal.c).
pub const WAL_HDR: i64 = 32;
pub const WAL_FRAME_HDR: i64 = 24;

/// Offset of the frame header for a page-sized WAL read at `offset` (the page data follows
/// its 24-byte frame header), if `offset` is a frame's data offset for `page_size`.
pub fn wal_frame_header_offset(offset: i64, page_size: u32) -> Option<i64> {
    let frame = WAL_FRAME_HDR + i64::from(page_size);
    let rel = offset - WAL_HDR - WAL_FRAME_HDR;
    (rel >= 0 && rel % frame == 0).then_some(offset - WAL_FRAME_HDR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::raw_backup::SQLITE_BUSY;

    #[test]
    fn accounting_counts_pages_and_restarts() {
        let mut a = StepAccounting::new(10);
        assert!(!a.observe(SQLITE_OK, 40, 50));
        assert!(!a.observe(SQLITE_OK, 30, 50));
        // Restart: back to page 1, 10 pages copied again.
        assert!(a.observe(SQLITE_OK, 40, 50));
        // Busy steps copy nothing.
        assert!(!a.observe(SQLITE_BUSY, 40, 50));
        for rem in [30, 20, 10] {
            assert!(!a.observe(SQLITE_OK, rem, 50));
        }
        assert!(!a.observe(SQLITE_DONE, 0, 50));
        assert_eq!(a.restarts(), 1);
        assert_eq!(a.pages_copied(), 70);
        assert_eq!(a.pagecount(), 50);
    }

    #[test]
    fn accounting_one_shot_and_growth() {
        let mut a = StepAccounting::new(-1);
        assert!(!a.observe(SQLITE_DONE, 0, 4000));
        assert_eq!((a.restarts(), a.pages_copied()), (0, 4000));
        // The source grows by 3 pages while stepping: copied pages include them, no restart.
        let mut g = StepAccounting::new(100);
        assert!(!g.observe(SQLITE_OK, 900, 1000));
        assert!(!g.observe(SQLITE_OK, 803, 1003));
        assert!(!g.observe(SQLITE_OK, 703, 1003));
        assert_eq!((g.restarts(), g.pages_copied()), (0, 300));
    }

    #[test]
    fn detector_counts_passes_from_page_one_rereads() {
        let mut d = PassDetector::new();
        // Pass 1: pages 1..=6 over three steps (page 1 read once, at the first step; twice
        // in that step when the pager switched to WAL mode: still one pass).
        d.begin_step();
        d.observe_page(1);
        d.observe_page(1);
        d.observe_page(2);
        for p in 3..=6 {
            d.begin_step();
            d.observe_page(p);
        }
        // A foreign commit: the cache is gone, page 1 is read again, then 2, 3...
        d.begin_step();
        for p in 1..=3 {
            d.observe_page(p);
        }
        // Another one right after the first step of that pass.
        d.begin_step();
        d.observe_page(1);
        for p in 2..=8 {
            d.observe_page(p);
        }
        assert_eq!((d.passes(), d.restarts(), d.fallback_starts()), (3, 2, 0));
        assert_eq!(d.page_reads(), 18);
    }

    #[test]
    fn detector_falls_back_to_rereads_when_page_one_is_unmapped() {
        let mut d = PassDetector::new();
        // First read is not page 1 (page 1 came from a WAL frame that could not be mapped).
        d.begin_step();
        for p in [2, 3, 4, 5] {
            d.observe_page(p);
        }
        // Restart whose page 1 read was unmapped too: page 2 again starts a pass.
        d.begin_step();
        for p in [2, 3] {
            d.observe_page(p);
        }
        assert_eq!((d.passes(), d.restarts(), d.fallback_starts()), (2, 1, 1));
    }

    #[test]
    fn offsets_map_to_pages_and_frames() {
        assert_eq!(db_page(0, 4096), Some(1));
        assert_eq!(db_page(4096 * 9, 4096), Some(10));
        assert_eq!(db_page(-1, 4096), None);
        // Frame 1's data starts at 32 + 24; frame 3's at 32 + 2 * (24 + 4096) + 24.
        assert_eq!(wal_frame_header_offset(56, 4096), Some(32));
        let f3 = 32 + 2 * (24 + 4096) + 24;
        assert_eq!(wal_frame_header_offset(f3, 4096), Some(f3 - 24));
        assert_eq!(wal_frame_header_offset(100, 4096), None);
    }
}
