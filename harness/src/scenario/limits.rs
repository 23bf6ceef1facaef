//! The limits of this harness: upper bounds of the values that would otherwise abort the
//! process (a cycle of four billion checkpoint modes, a 192 GB row) or run until killed (a
//! fuzz source of four billion pages, a crash-points sweep of a million-page source).
//!
//! Why its own module: each bound has one definition, used by scenario files and by the
//! bug base's `plan.json` alike, and documented in the README and `scenarios/wal-storm.toml`.
//! They are limits of this harness on a 24 GiB machine, not of SQLite.

use super::*;

/// The largest `[checkpointer] truncate_every`: the checkpointer is given one mode per
/// checkpoint of its cycle, so the cycle must stay a short list.
pub const MAX_TRUNCATE_EVERY: u32 = 1000;
/// The largest row the workload writes (`[workload] max_row_bytes`): 1 MiB. Rows are built in
/// memory, and the model keeps every one.
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// The most operations of one workload transaction (`[workload] ops_max`).
pub const MAX_OPS: u32 = 10_000;
/// The largest source of a fuzz case, in pages (`[fuzz] pages_max`, a bug-base entry's
/// `pages`): every case builds its source and runs the backup several times while it shrinks.
pub const MAX_FUZZ_PAGES: u32 = 4096;
/// The largest crash-points reference, in pages (`[source] pages` in mode `crash-points`):
/// every operation of the backup is a state to run, and each state copies the files, so the
/// sweep grows with the square of the pages. The shipped 256-page sweep takes 114 s for
/// `api-step` alone in a debug build; 1024 pages is about 16 times that.
pub const MAX_CRASH_PAGES: u32 = 1024;
/// The longest `sleep_ms` between two backup steps: one second (a longer pause is a stall
/// test; a `blocker` makes one).
pub const MAX_SLEEP_MS: u64 = 1000;
/// The longest `busy_timeout_ms`: one hour (the watchdog stops a storm backup before).
pub const MAX_BUSY_TIMEOUT_MS: u64 = 3_600_000;
/// The longest `watchdog_ms` and `budget_ms`: one hour.
pub const MAX_WATCHDOG_MS: u64 = 3_600_000;
/// The most shrink steps of one fuzz violation (`[fuzz] shrink_steps`).
pub const MAX_SHRINK_STEPS: u32 = 100_000;
/// The most faults of one fuzz plan (`[fuzz] max_faults`, a bug-base entry's `faults`).
pub const MAX_FUZZ_FAULTS: u32 = 16;

impl Scenario {
    /// The bounds above, as `Err((key, message))`.
    pub(super) fn check_limits(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, msg: String| Err((key.to_string(), msg));
        if self.mode == Mode::CrashPoints && self.source.pages > MAX_CRASH_PAGES {
            return bad(
                "source.pages",
                format!(
                    "{} is out of range 1..={MAX_CRASH_PAGES} in mode crash-points (every \
                     operation of the backup is a state to run)",
                    self.source.pages
                ),
            );
        }
        if self.checkpointer.truncate_every > MAX_TRUNCATE_EVERY {
            return bad(
                "checkpointer.truncate_every",
                format!(
                    "{} is out of range 0..={MAX_TRUNCATE_EVERY}",
                    self.checkpointer.truncate_every
                ),
            );
        }
        for (i, s) in self.strategies.iter().enumerate() {
            let every = s.checkpointer.as_ref().map_or(0, |c| c.truncate_every);
            if every > MAX_TRUNCATE_EVERY {
                return bad(
                    &format!("strategy[{i}].checkpointer.truncate_every"),
                    format!("{every} is out of range 0..={MAX_TRUNCATE_EVERY}"),
                );
            }
        }
        if self.workload.max_row_bytes > MAX_ROW_BYTES {
            return bad(
                "workload.max_row_bytes",
                format!(
                    "{} is out of range 0..={MAX_ROW_BYTES} (1 MiB)",
                    self.workload.max_row_bytes
                ),
            );
        }
        if self.workload.ops_max > MAX_OPS {
            return bad(
                "workload.ops_max",
                format!("{} is out of range 1..={MAX_OPS}", self.workload.ops_max),
            );
        }
        if self.watchdog_ms > MAX_WATCHDOG_MS || self.budget_ms > MAX_WATCHDOG_MS {
            let key = if self.watchdog_ms > MAX_WATCHDOG_MS {
                "watchdog_ms"
            } else {
                "budget_ms"
            };
            return bad(
                key,
                format!("watchdog_ms and budget_ms must be at most {MAX_WATCHDOG_MS} (one hour)"),
            );
        }
        if self.sql_timeout_ms == 0 || self.sql_timeout_ms > MAX_WATCHDOG_MS {
            return bad(
                "sql_timeout_ms",
                format!(
                    "{} is out of range 1..={MAX_WATCHDOG_MS} (one hour)",
                    self.sql_timeout_ms
                ),
            );
        }
        if self.fuzz.pages_max > MAX_FUZZ_PAGES {
            return bad(
                "fuzz.pages_max",
                format!(
                    "{} is out of range 2..={MAX_FUZZ_PAGES}",
                    self.fuzz.pages_max
                ),
            );
        }
        if self.fuzz.shrink_steps > MAX_SHRINK_STEPS {
            return bad(
                "fuzz.shrink_steps",
                format!(
                    "{} is out of range 0..={MAX_SHRINK_STEPS}",
                    self.fuzz.shrink_steps
                ),
            );
        }
        Ok(())
    }
}

/// Range checks of a strategy's parameters, as `Err((key, message))`: the one definition of
/// their bounds, for scenario entries and for the cases of a bug base.
pub fn check_params(p: &crate::strategy::StrategyParams) -> Result<(), (String, String)> {
    if p.npage == 0 || p.npage < -1 {
        return Err((
            "npage".into(),
            format!("npage {} must be -1 or >= 1", p.npage),
        ));
    }
    if p.sleep_ms > MAX_SLEEP_MS {
        return Err((
            "sleep_ms".into(),
            format!("{} is out of range 0..={MAX_SLEEP_MS}", p.sleep_ms),
        ));
    }
    if p.busy_timeout_ms > MAX_BUSY_TIMEOUT_MS {
        return Err((
            "busy_timeout_ms".into(),
            format!(
                "{} is out of range 0..={MAX_BUSY_TIMEOUT_MS} (one hour)",
                p.busy_timeout_ms
            ),
        ));
    }
    Ok(())
}
