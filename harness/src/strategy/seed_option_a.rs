//! `seed-option-a`: the forum advice taken literally, on one source connection:
//! `BEGIN IMMEDIATE`, `PRAGMA wal_checkpoint(TRUNCATE)`, `PRAGMA journal_mode=DELETE`, the
//! backup API, `PRAGMA journal_mode=WAL`.
//!
//! Why it exists: seed option A, as written. Whatever SQLite returns is the result: the first
//! operation that fails ends the strategy with `Claim::Error` carrying SQLite's message; the
//! advice is not "fixed". The transaction is always rolled back at the end.
//!
//! What SQLite really does with it (SQLite 3.54, checked in `tests/all/strategies.rs`): inside the
//! `BEGIN IMMEDIATE` transaction, `PRAGMA wal_checkpoint(TRUNCATE)` fails with SQLITE_LOCKED
//! "database table is locked" (`sqlite3BtreeCheckpoint` refuses while the connection has a
//! transaction open). The advice stops there; the destination is never touched. The later steps
//! would fail too: `PRAGMA journal_mode=DELETE` inside a transaction is refused ("cannot change
//! out of wal mode from within a transaction"), and `sqlite3_backup_step` returns SQLITE_BUSY
//! for as long as its source connection holds a write transaction.

use super::common::{self, error};
use super::{Strategy, StrategyContext};
use crate::event::Claim;
use rusqlite::Connection;

pub struct SeedOptionA;

const NAME: &str = "seed-option-a";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "BEGIN IMMEDIATE, wal_checkpoint(TRUNCATE), journal_mode=DELETE, backup, journal_mode=WAL, literally (seed option A)",
    facts: super::API_FACTS,
    build: || Box::new(SeedOptionA),
};

impl Strategy for SeedOptionA {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let src = match common::open_source(ctx) {
            Ok(c) => c,
            Err(e) => return error(NAME, format!("open source: {e}")),
        };
        let claim = advice(ctx, &src);
        // Clean up whatever state the advice left; a "no transaction is active" error here just
        // means an earlier step already ended it.
        common::phase(ctx, "cleanup");
        let _ = src.execute_batch("ROLLBACK");
        claim
    }
}

fn advice(ctx: &mut StrategyContext<'_>, src: &Connection) -> Claim {
    common::phase(ctx, "lock");
    if let Err(e) = src.execute_batch("BEGIN IMMEDIATE") {
        return error(NAME, format!("BEGIN IMMEDIATE: {e}"));
    }
    common::phase(ctx, "checkpoint");
    match common::wal_checkpoint(src, "TRUNCATE") {
        Ok(row) => common::emit_checkpoint(ctx, "TRUNCATE", row),
        Err(e) => return error(NAME, format!("PRAGMA wal_checkpoint(TRUNCATE): {e}")),
    }
    common::phase(ctx, "journal-delete");
    if let Err(e) = src.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0)) {
        return error(NAME, format!("PRAGMA journal_mode=DELETE: {e}"));
    }
    let mut dst = match common::open_dest(ctx) {
        Ok(c) => c,
        Err(e) => return error(NAME, format!("open destination: {e}")),
    };
    let claim = common::run_stepped(NAME, ctx, &mut dst, src, &mut |_| Ok(()));
    if claim != Claim::Success {
        return claim;
    }
    common::phase(ctx, "journal-wal");
    if let Err(e) = src.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
        return error(NAME, format!("PRAGMA journal_mode=WAL: {e}"));
    }
    Claim::Success
}
