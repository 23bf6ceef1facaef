//! `copy-naive` (negative control): copies the database file alone, with no lock, straight
//! onto the destination path.
//!
//! Why it exists: the harness must prove it catches a wrong backup. What is wrong, on purpose:
//! * no lock: writers and checkpointers change the file while it is read, so the copy mixes
//!   pages from different states (torn / corrupt);
//! * the `-wal` is ignored: in WAL mode recent commits live only there, and a checkpoint may have
//!   written part of a transaction into the db file, so even an untorn copy can be out of window;
//! * it writes in place in small chunks (truncate first), so a kill mid-copy leaves the
//!   destination neither old nor new;
//! * no fsync, and it claims `Success` regardless.

use super::common::{self, error};
use super::{Strategy, StrategyContext};
use crate::event::Claim;

pub struct CopyNaive;

const NAME: &str = "copy-naive";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "control: copy the db file only, no lock, no -wal, in place (the classic cp mistake)",
    facts: super::Facts {
        // start, phase "copy-db": one copy.
        events_before_work: 2,
        link: false,
        source_through_vfs: false,
        // It copies the file with no SQLite connection, so no lock to wait for.
        busy_timeout: false,
        ..super::FILE_COPY_FACTS
    },
    build: || Box::new(CopyNaive),
};

impl Strategy for CopyNaive {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        common::phase(ctx, "copy-db");
        match common::copy_chunked(ctx.source, ctx.dest, false) {
            Ok(_) => Claim::Success,
            Err(e) => error(NAME, format!("copy {}: {e}", ctx.source.display())),
        }
    }
}
