//! `stream-vfs-same-conn`: the network backup of `stream-vfs`, driven from the writer's own
//! connection, which commits one workload transaction between steps.
//!
//! Why it exists: the SQLite author's advice for a live network backup. Writes through the
//! backup's own source connection are pushed into the running backup (`backupUpdate` re-sends
//! the changed pages), so they do not restart it: only the changed pages cross the link again.
//! The report gives the re-sent pages against the pages those commits changed.

use super::stream_vfs::run_stream;
use super::{Strategy, StrategyContext};
use crate::event::Claim;

pub struct StreamVfsSameConn;

const NAME: &str = "stream-vfs-same-conn";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "network backup (stream-vfs) driven from the writer's own connection, one commit between steps: changed pages re-sent, no restart (SQLite author's advice)",
    facts: super::STREAM_FACTS,
    build: || Box::new(StreamVfsSameConn),
};

impl Strategy for StreamVfsSameConn {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        run_stream(NAME, ctx, true)
    }
}
