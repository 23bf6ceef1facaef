//! `api-same-conn`: the backup is driven from the writer's own connection, which keeps
//! committing workload transactions between steps.
//!
//! Why it exists: the SQLite author's advice for backups of a busy database (e.g. over a
//! network): writes made through the source connection itself are pushed into the running
//! backup (`backupUpdate` re-sends the changed pages), so they do not restart it. Commits from
//! *other* connections still do. Each own commit is acknowledged as `Commit{k, writer: 99}`.

use super::common;
use super::raw_backup::is_retryable;
use super::{Strategy, StrategyContext};
use crate::event::{Claim, Event};
use crate::workload::{self, WorkloadError};

pub struct ApiSameConn;

const NAME: &str = "api-same-conn";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "stepped backup driven from the writer's own connection, one commit between steps: pages re-sent, no restart (SQLite author's advice)",
    facts: super::API_FACTS,
    build: || Box::new(ApiSameConn),
};

/// The `writer` id of commits made by this strategy's own connection.
pub const SAME_CONN_WRITER: u32 = 99;

impl Strategy for ApiSameConn {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let (src, mut dst) = match common::open_pair(NAME, ctx) {
            Ok(pair) => pair,
            Err(claim) => return claim,
        };
        let src_ref = &src;
        let mut commit = |ctx: &mut StrategyContext<'_>| commit_own(src_ref, ctx);
        common::run_stepped(NAME, ctx, &mut dst, &src, &mut commit)
    }
}

/// One workload transaction on the backup's own source connection, acknowledged as
/// `Commit{k, writer: 99}`. BUSY (another writer held the lock past `busy_timeout`) is not an
/// error: the commit did not happen and the backup carries on.
pub fn commit_own(
    src: &rusqlite::Connection,
    ctx: &mut StrategyContext<'_>,
) -> Result<(), String> {
    match workload::commit_next(src, ctx.workload) {
        Ok(k) => {
            (ctx.emit)(Event::Commit {
                k,
                writer: SAME_CONN_WRITER,
                latency_us: None,
            });
            Ok(())
        }
        Err(WorkloadError::Sqlite { ref source, .. }) if sqlite_busy(source) => Ok(()),
        Err(e) => Err(format!("commit_next: {e}")),
    }
}

fn sqlite_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if is_retryable(f.extended_code))
}
