//! `seed-option-b`: the forum advice taken literally: `PRAGMA wal_checkpoint(FULL)`,
//! `BEGIN IMMEDIATE`, copy the db file, `-wal` and `-shm` directly onto the destination's
//! paths, `COMMIT`.
//!
//! Why it exists: seed option B, as written. Under the lock the copied db + `-wal` pair is
//! consistent, but the copy is made in place: a kill mid-copy leaves a truncated or mixed
//! destination (and a `-wal` that may not belong to the db file beside it); nothing is fsynced.
//! The copied `-shm` is a snapshot of live shared memory; SQLite rebuilds it on first open.

use super::common::{self, error, sidecar};
use super::{Strategy, StrategyContext};
use crate::event::Claim;
use rusqlite::Connection;

pub struct SeedOptionB;

const NAME: &str = "seed-option-b";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "wal_checkpoint(FULL), BEGIN IMMEDIATE, copy db + -wal + -shm onto the destination, COMMIT, literally (seed option B)",
    facts: super::FILE_COPY_FACTS,
    build: || Box::new(SeedOptionB),
};

impl Strategy for SeedOptionB {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let src = match common::open_source(ctx) {
            Ok(c) => c,
            Err(e) => return error(NAME, format!("open source: {e}")),
        };
        common::phase(ctx, "checkpoint");
        match common::wal_checkpoint(&src, "FULL") {
            Ok(row) => common::emit_checkpoint(ctx, "FULL", row),
            Err(e) => return error(NAME, format!("PRAGMA wal_checkpoint(FULL): {e}")),
        }
        common::phase(ctx, "lock");
        if let Err(e) = src.execute_batch("BEGIN IMMEDIATE") {
            return error(NAME, format!("BEGIN IMMEDIATE: {e}"));
        }
        let copied = copy_files(ctx);
        common::phase(ctx, "unlock");
        let committed = src.execute_batch("COMMIT");
        if let Err(msg) = copied {
            let _ = src.execute_batch("ROLLBACK");
            return error(NAME, msg);
        }
        if let Err(e) = committed {
            return error(NAME, format!("COMMIT: {e}"));
        }
        close(src)
    }
}

fn copy_files(ctx: &mut StrategyContext<'_>) -> Result<(), String> {
    for (suffix, phase) in [("", "copy-db"), ("-wal", "copy-wal"), ("-shm", "copy-shm")] {
        let from = sidecar(ctx.source, suffix);
        if suffix.is_empty() || from.exists() {
            common::phase(ctx, phase);
            let to = sidecar(ctx.dest, suffix);
            common::copy_chunked(&from, &to, false)
                .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

fn close(src: Connection) -> Claim {
    match src.close() {
        Ok(()) => Claim::Success,
        Err((_, e)) => error(NAME, format!("close source: {e}")),
    }
}
