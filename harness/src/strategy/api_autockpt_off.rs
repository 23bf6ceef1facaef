//! `api-autockpt-off`: `PRAGMA wal_autocheckpoint=0`, `PRAGMA wal_checkpoint(FULL)` on the
//! source connection, then the stepped backup API.
//!
//! Why it exists: the forum poster's approach, taken as written. Both pragmas act on the
//! backup's own source connection only: turning off *its* autocheckpoint does not stop other
//! connections from checkpointing, and a FULL checkpoint that cannot get the writer lock does a
//! PASSIVE one and reports busy (recorded in the `Checkpoint` event, not treated as an error).

use super::common::{self, error};
use super::{Strategy, StrategyContext};
use crate::event::Claim;

pub struct ApiAutockptOff;

const NAME: &str = "api-autockpt-off";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "wal_autocheckpoint=0 and wal_checkpoint(FULL) on the source connection, then the stepped API (forum poster's approach)",
    facts: super::API_FACTS,
    build: || Box::new(ApiAutockptOff),
};

impl Strategy for ApiAutockptOff {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let src = match common::open_source(ctx) {
            Ok(c) => c,
            Err(e) => return error(NAME, format!("open source: {e}")),
        };
        common::phase(ctx, "checkpoint");
        if let Err(e) = src.query_row("PRAGMA wal_autocheckpoint=0", [], |_| Ok(())) {
            return error(NAME, format!("PRAGMA wal_autocheckpoint=0: {e}"));
        }
        match common::wal_checkpoint(&src, "FULL") {
            Ok(row) => common::emit_checkpoint(ctx, "FULL", row),
            Err(e) => return error(NAME, format!("PRAGMA wal_checkpoint(FULL): {e}")),
        }
        let mut dst = match common::open_dest(ctx) {
            Ok(c) => c,
            Err(e) => return error(NAME, format!("open destination: {e}")),
        };
        common::run_stepped(NAME, ctx, &mut dst, &src, &mut |_| Ok(()))
    }
}
