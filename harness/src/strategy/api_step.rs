//! `api-step`: `sqlite3_backup_step(nPage)` in a loop with a sleep between steps.
//!
//! Why it exists: the most common advice (the seed thread, the sqlite3 shell's `.backup` with
//! 100 pages, Python's `Connection.backup`). Between steps the source is unlocked, so a commit
//! from another connection restarts the copy from page 1; the restart count shows it.

use super::common;
use super::{Strategy, StrategyContext};
use crate::event::Claim;

pub struct ApiStep;

const NAME: &str = "api-step";

impl Strategy for ApiStep {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "sqlite3_backup_step(nPage) loop, sleep between steps, BUSY/LOCKED retried (seed advice, shell .backup)"
    }

    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let (src, mut dst) = match common::open_pair(NAME, ctx) {
            Ok(pair) => pair,
            Err(claim) => return claim,
        };
        common::run_stepped(NAME, ctx, &mut dst, &src, &mut |_| Ok(()))
    }
}
