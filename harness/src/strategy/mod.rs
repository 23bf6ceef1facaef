//! Backup strategies: one module per strategy, one trait for all.
//!
//! To add a strategy: write `strategy/<name>.rs` with a type implementing [`Strategy`], and add
//! it to [`ALL`] and [`by_name`]. Each runs inside a backup worker process, reports progress
//! through [`StrategyContext::emit`], and ends with a [`Claim`].
//!
//! Besides the fixed names in [`ALL`], a scenario can define `external:<label>` entries that run
//! a program from an argv template ([`external`]); [`is_known`] accepts both.

pub mod api_autockpt_off;
pub mod api_early_finish;
pub mod api_journal_off;
pub mod api_oneshot;
pub mod api_same_conn;
pub mod api_step;
pub mod common;
pub mod copy_locked;
pub mod copy_naive;
pub mod external;
pub mod raw_backup;
pub mod seed_option_a;
pub mod seed_option_b;
pub mod vacuum_into;

use crate::event::{Claim, Event};
use crate::workload::WorkloadSpec;
use std::path::Path;

/// Tunables a scenario can set per strategy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrategyParams {
    /// Pages per `sqlite3_backup_step` (-1 = all at once).
    pub npage: i32,
    /// Sleep between steps, in milliseconds.
    pub sleep_ms: u64,
    /// `busy_timeout` for the strategy's connections, in milliseconds.
    pub busy_timeout_ms: u64,
    /// For `external`: the argv template, with `{src}` and `{dst}`.
    pub command: Vec<String>,
    /// `PRAGMA synchronous` on the destination connection (unset: SQLite's default, FULL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_synchronous: Option<Synchronous>,
}

/// A `PRAGMA synchronous` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl Synchronous {
    pub fn as_sql(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

impl Default for StrategyParams {
    fn default() -> Self {
        StrategyParams {
            npage: 100,
            sleep_ms: 0,
            busy_timeout_ms: 5000,
            command: Vec::new(),
            dest_synchronous: None,
        }
    }
}

/// Everything a strategy gets to work with.
pub struct StrategyContext<'a> {
    pub source: &'a Path,
    pub dest: &'a Path,
    /// VFS to open the source with (`None` = default VFS).
    pub source_vfs: Option<&'a str>,
    /// VFS to open the destination with (`None` = default VFS). The backup worker registers a
    /// `vfs-faults` instance here with the iteration's fault plan.
    pub dest_vfs: Option<&'a str>,
    pub params: &'a StrategyParams,
    /// The workload, for strategies that write from their own connection (`api-same-conn`).
    pub workload: &'a WorkloadSpec,
    /// Progress reporting: step, phase, commit events.
    pub emit: &'a mut dyn FnMut(Event),
}

pub trait Strategy {
    fn name(&self) -> &'static str;
    /// One line: what it does and where the advice comes from.
    fn describe(&self) -> &'static str;
    /// Runs the backup; never panics on SQLite errors, it claims `Error` instead.
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim;
}

/// Every strategy name, in report order.
pub const ALL: &[&str] = &[
    "api-oneshot",
    "api-step",
    "api-same-conn",
    "api-autockpt-off",
    "vacuum-into",
    "copy-locked",
    "seed-option-a",
    "seed-option-b",
    "copy-naive",
    "api-early-finish",
    "api-journal-off",
];

/// Whether `name` is a strategy: one of [`ALL`], or `external:<label>`.
pub fn is_known(name: &str) -> bool {
    ALL.contains(&name) || external::is_external(name)
}

/// The strategy called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Box<dyn Strategy>> {
    if external::is_external(name) {
        return Some(Box::new(external::External::new(name)));
    }
    Some(match name {
        "api-oneshot" => Box::new(api_oneshot::ApiOneshot),
        "api-step" => Box::new(api_step::ApiStep),
        "api-same-conn" => Box::new(api_same_conn::ApiSameConn),
        "api-autockpt-off" => Box::new(api_autockpt_off::ApiAutockptOff),
        "vacuum-into" => Box::new(vacuum_into::VacuumInto),
        "copy-locked" => Box::new(copy_locked::CopyLocked),
        "seed-option-a" => Box::new(seed_option_a::SeedOptionA),
        "seed-option-b" => Box::new(seed_option_b::SeedOptionB),
        "copy-naive" => Box::new(copy_naive::CopyNaive),
        "api-early-finish" => Box::new(api_early_finish::ApiEarlyFinish),
        "api-journal-off" => Box::new(api_journal_off::ApiJournalOff),
        _ => return None,
    })
}
