//! `api-early-finish` (negative control): a stepped backup that treats
//! `sqlite3_backup_remaining() == 0` as "done".
//!
//! Why it exists: the harness must catch it. What is wrong, on purpose: `remaining()` is 0 both
//! before the first successful step (so a first step that returns BUSY looks finished) and
//! right after the final step copied the last page but *failed to commit* the destination (an
//! I/O error, `SQLITE_FULL` or BUSY from the destination's VFS inside that commit). Only
//! `SQLITE_DONE` means committed; this loop ignores the code, ignores `finish()`'s result, and
//! claims `Success`.

use super::common::{self, error, Stepper};
use super::raw_backup::{describe_rc, is_retryable, SQLITE_DONE, SQLITE_OK};
use super::{Strategy, StrategyContext};
use crate::event::Claim;
use std::time::Duration;

pub struct ApiEarlyFinish;

const NAME: &str = "api-early-finish";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "control: stepped API that stops when remaining()==0 and claims success without SQLITE_DONE",
    facts: super::API_FACTS,
    build: || Box::new(ApiEarlyFinish),
};

impl Strategy for ApiEarlyFinish {
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
        let npage = ctx.params.npage;
        let sleep = Duration::from_millis(ctx.params.sleep_ms);
        let mut stepper = Stepper::new(npage);
        loop {
            if common::abort_due(ctx, stepper.next()) {
                return common::abort(NAME, ctx, bk, stepper.next());
            }
            let (rc, remaining) = stepper.step(&mut bk, ctx);
            // The bug: "nothing remaining" taken to mean "done", whatever rc says.
            if remaining == 0 {
                break;
            }
            if rc != SQLITE_OK && rc != SQLITE_DONE && !is_retryable(rc) {
                let frc = bk.finish();
                return error(
                    NAME,
                    format!(
                        "backup_step {} (backup_finish {})",
                        describe_rc(rc),
                        describe_rc(frc)
                    ),
                );
            }
            let pause = if is_retryable(rc) {
                sleep.max(common::BUSY_RETRY)
            } else {
                sleep
            };
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
        // The bug, continued: finish()'s code is ignored too.
        let _ = bk.finish();
        Claim::Success
    }
}
