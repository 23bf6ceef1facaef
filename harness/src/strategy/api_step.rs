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

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "sqlite3_backup_step(nPage) loop, sleep between steps, BUSY/LOCKED retried (seed advice, shell .backup)",
    facts: super::API_FACTS,
    build: || Box::new(ApiStep),
};

impl Strategy for ApiStep {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let (src, mut dst) = match common::open_pair(NAME, ctx) {
            Ok(pair) => pair,
            Err(claim) => return claim,
        };
        common::run_stepped(NAME, ctx, &mut dst, &src, &mut |_| Ok(()))
    }
}
