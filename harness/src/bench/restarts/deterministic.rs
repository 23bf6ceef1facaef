//! `bench restarts --deterministic`: the restart question with the clock taken out.
//!
//! Why it exists: in the wall-clock grid whether a cell finishes depends on how fast this
//! machine steps and commits, so two runs can disagree. Here one process interleaves the two
//! on a schedule: a writer connection commits one transaction (an in-place update: the source
//! does not grow) before every `every`-th step of a stepped backup from another connection.
//! Restarts and completion are then exact functions of (nPage, schedule, source size), the
//! same on any machine, and the model is exact too: a commit from another connection makes
//! the next step start over from page 1, so with `S = ceil(pages / nPage)` steps per pass the
//! backup finishes (in `S` steps, no restart) when `S <= every`, and never otherwise.

use crate::process::{Interrupt, StopSignal};
use crate::strategy::raw_backup::{RawBackup, SQLITE_DONE, SQLITE_OK};
use anyhow::{bail, Context, Result};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The schedules of the grid: a commit before every `every`-th step.
pub const EVERY: [u64; 8] = [1, 4, 16, 64, 256, 1024, 4096, 16384];
/// Passes a cell may start before it counts as "never".
pub const MAX_PASSES: u64 = 3;

/// One cell: what happened, and what the model says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetCell {
    pub npage: i32,
    pub every: u64,
    /// Steps one pass needs (`ceil(pages / nPage)`).
    pub steps_per_pass: u64,
    pub completed: bool,
    /// Steps taken (to completion, or up to the limit of `MAX_PASSES` passes).
    pub steps: u64,
    /// Restarts seen: steps after which more pages remained than before.
    pub restarts: u64,
    /// Commits made by the writer.
    pub commits: u64,
    pub predicted_completed: bool,
    /// The model's steps and restarts for this cell.
    pub predicted_steps: u64,
    pub predicted_restarts: u64,
}

impl DetCell {
    /// Whether the observation is the model's.
    pub fn as_predicted(&self) -> bool {
        self.completed == self.predicted_completed
            && self.steps == self.predicted_steps
            && self.restarts == self.predicted_restarts
    }
}

/// The deterministic grid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetReport {
    pub mode: String,
    pub pages: u32,
    pub sqlite_version: String,
    pub cells: Vec<DetCell>,
    /// Cells whose observation differs from the model.
    pub mismatches: u64,
    pub advice: String,
    /// The signal that stopped the run early: `cells` holds those that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<StopSignal>,
}

/// The model: steps per pass, and whether, in how many steps and with how many restarts a
/// cell ends (within `MAX_PASSES` passes' worth of steps).
pub fn predict(pages: u64, npage: i32, every: u64) -> (u64, bool, u64, u64) {
    let s = if npage <= 0 {
        1
    } else {
        pages.div_ceil(npage as u64).max(1)
    };
    if s <= every {
        (s, true, s, 0)
    } else {
        let limit = MAX_PASSES * s;
        // Commits before steps every+1, 2*every+1, ... up to the limit: each one restarts.
        (s, false, limit, (limit - 1) / every)
    }
}

/// Runs one cell on a copy of `template` in `dir`.
/// One cell; `None` when a stop signal ended it before it did.
fn run_cell(
    template: &Path,
    dir: &Path,
    npage: i32,
    every: u64,
    interrupted: &Interrupt,
) -> Result<Option<DetCell>> {
    let src = dir.join(format!("src-{npage}-{every}.db"));
    let dst = dir.join(format!("dst-{npage}-{every}.db"));
    std::fs::copy(template, &src).context("copying the source")?;
    let source = Connection::open(&src)?;
    let writer = Connection::open(&src)?;
    // Durability is not the question here; thousands of commits must be cheap.
    writer.execute_batch("PRAGMA synchronous = OFF")?;
    let mut dest = Connection::open(&dst)?;
    let pages = source.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))? as u64;
    let (s, predicted_completed, predicted_steps, predicted_restarts) =
        predict(pages, npage, every);
    let limit = MAX_PASSES * s;
    let mut bk = RawBackup::init(&mut dest, &source)
        .map_err(|e| anyhow::anyhow!("backup_init: {}", e.message))?;
    let (mut steps, mut restarts, mut commits) = (0u64, 0u64, 0u64);
    let mut prev_remaining: Option<i32> = None;
    let mut completed = false;
    while steps < limit {
        if interrupted.is_set() {
            bk.finish();
            return Ok(None);
        }
        if steps > 0 && steps % every == 0 {
            writer.execute(
                "UPDATE t SET n = n + 1 WHERE id = (?1 % (SELECT count(*) FROM t)) + 1",
                [commits as i64],
            )?;
            commits += 1;
        }
        let rc = bk.step(npage);
        steps += 1;
        if rc == SQLITE_DONE {
            completed = true;
            break;
        }
        if rc != SQLITE_OK {
            bail!("backup_step: rc {rc}");
        }
        let remaining = bk.remaining();
        if prev_remaining.is_some_and(|p| remaining >= p) {
            restarts += 1;
        }
        prev_remaining = Some(remaining);
    }
    bk.finish();
    drop(dest);
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&dst);
    Ok(Some(DetCell {
        npage,
        every,
        steps_per_pass: s,
        completed,
        steps,
        restarts,
        commits,
        predicted_completed,
        predicted_steps,
        predicted_restarts,
    }))
}

/// Builds a `pages`-page source of rows `t(id, n, pad)` in WAL mode at `path`.
fn make_source(path: &Path, pages: u32, interrupted: &Interrupt) -> Result<()> {
    let c = Connection::open(path)?;
    let stop = || interrupted.is_set();
    crate::workload::setup::interruptible(&c, &stop, || fill_source(&c, pages))
}

fn fill_source(c: &Connection, pages: u32) -> Result<()> {
    c.execute_batch(
        "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;
         CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, pad BLOB);",
    )?;
    c.execute(
        "INSERT INTO t(n, pad) SELECT 0, zeroblob(1000) FROM
         (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1)
          SELECT i FROM c)",
        [i64::from(pages) * 4],
    )?;
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

/// Runs the grid: every nPage of `npages` × every schedule of `every`.
pub fn run(
    pages: u32,
    npages: &[i32],
    every: &[u64],
    interrupted: &Interrupt,
) -> Result<DetReport> {
    run_cells(pages, interrupted, |_| {
        npages
            .iter()
            .flat_map(|&n| every.iter().map(move |&e| (n, e)))
            .collect()
    })
}

/// Each nPage at its boundary, for the wall-clock grid: a commit every `S` steps (finishes in
/// `S` steps) and every `S − 1` steps (never), `S` = steps per pass. Exact and cheap (at most
/// three commits per cell), so `bench restarts` runs it next to the clock-bound grid.
pub fn boundary(pages: u32, npages: &[i32], interrupted: &Interrupt) -> Result<DetReport> {
    run_cells(pages, interrupted, |actual| {
        let mut cells = Vec::new();
        for &n in npages {
            let s = predict(actual, n, 1).0;
            cells.push((n, s));
            if s > 1 {
                cells.push((n, s - 1));
            }
        }
        cells
    })
}

/// Builds the source and runs the `(nPage, every)` cells `cells(actual pages)` names.
/// A stop signal ends it early with the cells that ran (`interrupted_by` set).
fn run_cells(
    pages: u32,
    interrupted: &Interrupt,
    cells: impl FnOnce(u64) -> Vec<(i32, u64)>,
) -> Result<DetReport> {
    let dir = crate::run::scratch_dir("restarts-det-").context("a scratch dir")?;
    let template = dir.path().join("template.db");
    let stopped = |r: Result<DetReport>| match interrupted.signal() {
        Some(s) => Ok(DetReport::stopped(s)),
        None => r,
    };
    if let Err(e) = make_source(&template, pages, interrupted) {
        return stopped(Err(e));
    }
    let actual: u32 =
        Connection::open(&template)?.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let mut done = Vec::new();
    for (n, e) in cells(u64::from(actual)) {
        match run_cell(&template, dir.path(), n, e, interrupted)? {
            Some(c) => done.push(c),
            None => break,
        }
    }
    let cells = done;
    let mismatches = cells.iter().filter(|c| !c.as_predicted()).count() as u64;
    let advice = advice(&cells);
    Ok(DetReport {
        mode: "deterministic".into(),
        pages: actual,
        sqlite_version: rusqlite::version().to_string(),
        cells,
        mismatches,
        advice,
        interrupted_by: interrupted.signal(),
    })
}

impl DetReport {
    /// The report of a run stopped by `s` before any cell ran.
    fn stopped(s: StopSignal) -> DetReport {
        DetReport {
            mode: "deterministic".into(),
            pages: 0,
            sqlite_version: rusqlite::version().to_string(),
            cells: Vec::new(),
            mismatches: 0,
            advice: String::new(),
            interrupted_by: Some(s),
        }
    }
}

/// For each schedule, the smallest nPage that finishes, in words.
fn advice(cells: &[DetCell]) -> String {
    let mut parts = Vec::new();
    let mut every: Vec<u64> = cells.iter().map(|c| c.every).collect();
    every.sort_unstable();
    every.dedup();
    for e in every {
        let ok: Vec<i32> = cells
            .iter()
            .filter(|c| c.every == e && c.completed)
            .map(|c| c.npage)
            .collect();
        let smallest = ok.iter().filter(|&&n| n > 0).min().copied();
        parts.push(match (smallest, ok.contains(&-1)) {
            (Some(n), _) => format!("X={e}: nPage >= {n}"),
            (None, true) => format!("X={e}: only nPage = -1"),
            (None, false) => format!("X={e}: nothing finishes"),
        });
    }
    format!(
        "advice: a stepped backup from another connection finishes only if a whole pass \
         (pages / nPage steps) fits between two commits, so nPage must be at least pages / X \
         for a commit every X steps ({})",
        parts.join("; ")
    )
}

/// The table: nPage down, schedules across; a cell is `S` (steps to finish) or `never/R`
/// (restarts in three passes' worth of steps), `!` where it differs from the model.
pub fn table(r: &DetReport) -> String {
    let mut every: Vec<u64> = r.cells.iter().map(|c| c.every).collect();
    every.sort_unstable();
    every.dedup();
    let mut out = format!(
        "deterministic: a {}-page source, one commit from another connection before every X-th step\n{:>7}",
        r.pages, "nPage"
    );
    for e in &every {
        out.push_str(&format!(" {:>11}", format!("X={e}")));
    }
    out.push('\n');
    let mut npages: Vec<i32> = r.cells.iter().map(|c| c.npage).collect();
    npages.dedup();
    for n in npages {
        let label = if n < 0 {
            "all".to_string()
        } else {
            n.to_string()
        };
        out.push_str(&format!("{label:>7}"));
        for e in &every {
            let cell = r.cells.iter().find(|c| c.npage == n && c.every == *e);
            let text = match cell {
                Some(c) if c.completed => format!("{}", c.steps),
                Some(c) => format!("never/{}", c.restarts),
                None => "-".into(),
            };
            let mark = if cell.is_some_and(|c| !c.as_predicted()) {
                "!"
            } else {
                ""
            };
            out.push_str(&format!(" {:>11}", format!("{text}{mark}")));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "cells: steps to finish, or never/restarts; {} differ from the model (marked !)\n{}\n",
        r.mismatches, r.advice
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_signal_ends_the_deterministic_grid_early() {
        let stop = Interrupt::new();
        stop.raise(StopSignal::Term);
        let r = run(64, &[1, -1], &[1, 8], &stop).unwrap();
        assert_eq!(r.interrupted_by, Some(StopSignal::Term));
        assert!(r.cells.is_empty(), "{:?}", r.cells);
    }

    #[test]
    fn the_model_finishes_exactly_when_a_pass_fits_between_commits() {
        assert_eq!(predict(4000, 1000, 4), (4, true, 4, 0));
        assert_eq!(predict(4000, 1000, 3), (4, false, 12, 3));
        assert_eq!(predict(4000, -1, 1), (1, true, 1, 0));
        assert_eq!(predict(10, 3, 4), (4, true, 4, 0));
    }

    #[test]
    fn observations_match_the_model_and_repeat_exactly() {
        let a = run(64, &[1, 8, 64, -1], &[1, 8, 64], &Interrupt::new()).unwrap();
        assert_eq!(a.mismatches, 0, "{}", table(&a));
        // Finishing and never-finishing cells both occur.
        assert!(a.cells.iter().any(|c| c.completed) && a.cells.iter().any(|c| !c.completed));
        let b = run(64, &[1, 8, 64, -1], &[1, 8, 64], &Interrupt::new()).unwrap();
        assert_eq!(a, b, "two runs, one answer");
    }

    #[test]
    fn the_boundary_finishes_at_s_and_never_at_s_minus_one() {
        let r = boundary(64, &[8, -1], &Interrupt::new()).unwrap();
        assert_eq!(r.mismatches, 0, "{}", table(&r));
        let got: Vec<(i32, u64, bool)> = r
            .cells
            .iter()
            .map(|c| (c.npage, c.every, c.completed))
            .collect();
        let s = r.cells[0].steps_per_pass;
        assert_eq!(got, vec![(8, s, true), (8, s - 1, false), (-1, 1, true)]);
    }
}
