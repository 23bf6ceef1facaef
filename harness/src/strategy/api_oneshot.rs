//! `api-oneshot`: the whole database in one `sqlite3_backup_step(-1)` call.
//!
//! Why it exists: the simplest correct use of the backup API. One step holds the source read
//! transaction for the whole copy, so concurrent commits cannot restart it (it never registers
//! with the source pager), and the destination is written as one transaction.

use super::common::{self, error};
use super::raw_backup::{describe_rc, is_retryable, SQLITE_DONE, SQLITE_OK};
use super::{Strategy, StrategyContext};
use crate::event::{Claim, Event};
use std::time::{Duration, Instant};

pub struct ApiOneshot;

const NAME: &str = "api-oneshot";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "sqlite3_backup_step(-1) from a separate source connection, BUSY/LOCKED retried (SQLite backup API docs)",
    facts: super::Facts {
        // start, phase "backup": the whole copy is one step.
        events_before_work: 2,
        link: false,
        source_through_vfs: false,
        // One step(-1): no `npage`, no sleep between steps, no restart to count.
        steps: false,
        ..super::API_FACTS
    },
    build: || Box::new(ApiOneshot),
};

impl Strategy for ApiOneshot {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let (src, mut dst) = match common::open_pair(NAME, ctx) {
            Ok(pair) => pair,
            Err(claim) => return claim,
        };
        common::phase(ctx, "backup");
        let mut bk = match common::init_backup(NAME, &mut dst, &src) {
            Ok(b) => b,
            Err(claim) => return claim,
        };
        let busy_limit = Duration::from_millis(ctx.params.busy_timeout_ms);
        let started = Instant::now();
        let mut step = 0u64;
        let rc = loop {
            if common::abort_due(ctx, step + 1) {
                return common::abort(NAME, ctx, bk, step + 1);
            }
            let rc = bk.step(-1);
            step += 1;
            (ctx.emit)(Event::Step {
                step,
                rc,
                remaining: bk.remaining(),
                pagecount: bk.pagecount(),
                restarts: 0,
                done: rc == SQLITE_DONE,
            });
            if !is_retryable(rc) || started.elapsed() > busy_limit {
                break rc;
            }
            std::thread::sleep(common::BUSY_RETRY);
        };
        let msg = bk.dest_errmsg();
        let frc = bk.finish();
        if rc != SQLITE_DONE {
            return error(
                NAME,
                format!(
                    "backup_step {} (backup_finish {})",
                    describe_rc(rc),
                    describe_rc(frc)
                ),
            );
        }
        if frc != SQLITE_OK {
            return error(NAME, format!("backup_finish {}: {msg}", describe_rc(frc)));
        }
        Claim::Success
    }
}
