//! `api-journal-off` (negative control): the stepped backup API into a destination with
//! `PRAGMA journal_mode=OFF` and a tiny page cache.
//!
//! Why it exists: the harness must catch it. What is wrong, on purpose: with no rollback journal
//! the destination's old pages are overwritten in place with nothing to restore them, and the
//! small `cache_size` makes SQLite spill copied pages into the file long before the final step.
//! A kill (or I/O error) mid-backup leaves a destination that is neither the old database nor
//! the new one. (This is what the sqlite3 shell's `.backup --async` does, minus `synchronous`.)

use super::common::{self, error};
use super::{Strategy, StrategyContext};
use crate::event::Claim;

pub struct ApiJournalOff;

const NAME: &str = "api-journal-off";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "control: stepped API into a destination with journal_mode=OFF and a tiny cache (shell .backup --async style)",
    facts: super::Facts {
        // It sets the destination's journal_mode=OFF itself: the scenario's is not applied.
        dest_pragmas: false,
        ..super::API_FACTS
    },
    build: || Box::new(ApiJournalOff),
};

/// Destination page cache, in pages: small, so pages spill to the file during the copy.
pub const DEST_CACHE_PAGES: i32 = 10;

impl Strategy for ApiJournalOff {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let (src, mut dst) = match common::open_pair(NAME, ctx) {
            Ok(pair) => pair,
            Err(claim) => return claim,
        };
        common::phase(ctx, "journal-off");
        // The pragma returns the resulting mode; a WAL destination may refuse and stay "wal".
        if let Err(e) = dst.query_row("PRAGMA journal_mode=OFF", [], |_| Ok(())) {
            return error(NAME, format!("PRAGMA journal_mode=OFF: {e}"));
        }
        if let Err(e) = dst.execute_batch(&format!("PRAGMA cache_size={DEST_CACHE_PAGES}")) {
            return error(NAME, format!("PRAGMA cache_size: {e}"));
        }
        common::run_stepped(NAME, ctx, &mut dst, &src, &mut |_| Ok(()))
    }
}
