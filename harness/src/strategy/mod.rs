//! Backup strategies: one module per strategy, one trait for all.
//!
//! To add a strategy: write `strategy/<name>.rs` with a type implementing [`Strategy`] and a
//! `pub const REGISTRATION: Registration` (its name, description, [`Facts`] and constructor),
//! and add the module's name to the `registry!` list below. Each runs inside a backup worker
//! process, reports progress through [`StrategyContext::emit`], and ends with a [`Claim`].
//! The facts say which faults can reach it (the fault model reads them; nothing outside this
//! folder matches strategy names).
//!
//! Besides the registered names, a scenario can define `external:<label>` entries that run a
//! program from an argv template ([`external`]); [`is_known`] and [`registration`] accept both.

pub mod common;
pub mod external;
pub mod raw_backup;

/// The registry: one line per strategy module, in report order. Each module defines
/// `pub const REGISTRATION: Registration`.
macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*
        /// Every built-in strategy, in report order.
        pub const REGISTRY: &[&Registration] = &[$(&$module::REGISTRATION),*];
    };
}

registry![
    api_oneshot,
    api_step,
    api_same_conn,
    api_autockpt_off,
    vacuum_into,
    copy_locked,
    seed_option_a,
    seed_option_b,
    copy_naive,
    api_early_finish,
    api_journal_off,
    stream_vfs,
    stream_vfs_same_conn,
];

use crate::event::{Claim, Event};
use crate::workload::{JournalMode, WorkloadSpec};
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
    /// For `external`: which fault VFS reaches the tool (`preload`: the LD_PRELOAD shim).
    #[serde(skip_serializing_if = "external::FaultVfsRoute::is_none")]
    pub fault_vfs: external::FaultVfsRoute,
    /// `PRAGMA synchronous` on the destination connection (unset: SQLite's default, FULL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_synchronous: Option<Synchronous>,
    /// `PRAGMA journal_mode` on the destination connection (unset: the file's, or DELETE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_journal_mode: Option<JournalMode>,
    /// Stream strategies: the link's bandwidth limit in bytes/s (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub bandwidth_bps: u64,
    /// Stream strategies: the send queue's bound in bytes.
    #[serde(skip_serializing_if = "is_default_queue")]
    pub queue_bytes: u64,
    /// Stream strategies: `unix` (a Unix socket) or `tcp` (loopback).
    #[serde(skip_serializing_if = "is_default")]
    pub link: crate::stream::Transport,
    /// Stream strategies: how the receiver applies frames (`atomic`, or `immediate`: the
    /// negative control without commit atomicity).
    #[serde(skip_serializing_if = "is_default")]
    pub receiver_apply: crate::stream::receiver::ApplyMode,
}

/// The stream strategies' default send queue: 1 MiB.
pub const DEFAULT_QUEUE_BYTES: u64 = 1 << 20;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_default_queue(v: &u64) -> bool {
    *v == DEFAULT_QUEUE_BYTES
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
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
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Off => "off",
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
            Synchronous::Extra => "extra",
        }
    }

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
            fault_vfs: external::FaultVfsRoute::None,
            dest_synchronous: None,
            dest_journal_mode: None,
            bandwidth_bps: 0,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            link: crate::stream::Transport::default(),
            receiver_apply: crate::stream::receiver::ApplyMode::default(),
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
    /// The planned application abort: call `sqlite3_backup_finish()` instead of step number
    /// `n` (1-based) and claim `Aborted` (backup-API strategies only; see [`Facts`]).
    pub abort_before_step: Option<u64>,
    /// The planned link fault (stream strategies only; see [`Facts::link`]).
    pub link_fault: Option<crate::stream::link::LinkFault>,
    /// Progress reporting: step, phase, commit events.
    pub emit: &'a mut dyn FnMut(Event),
}

/// A backup strategy's behaviour (its name, description and facts are in its [`Registration`]).
pub trait Strategy {
    /// Runs the backup; never panics on SQLite errors, it claims `Error` instead.
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim;
}

/// What a strategy is, for the fault model and the reports: facts, not behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Facts {
    /// Writes the destination through SQLite, so through the worker's fault VFS: VFS faults
    /// (kills at an operation, I/O errors, BUSY, torn writes) and power cuts can reach it.
    /// Strategies that write with `std::fs` or run another program cannot be faulted there.
    pub dest_through_vfs: bool,
    /// Drives `sqlite3_backup_step` and emits a `step` event per call, so an application
    /// `abort` (calling `finish()` before `SQLITE_DONE`) can be placed before a step.
    pub backup_api: bool,
    /// Opens the destination connection itself, so the scenario's destination `journal_mode`
    /// and `synchronous` are applied to it.
    pub dest_pragmas: bool,
    /// The events it always sends with its work still ahead (the worker's `start`, then its
    /// phases and first steps): a kill after event n ≤ this lands before its claim.
    pub events_before_work: u64,
    /// Ships the destination over a link to a receiver process: link faults (a break, lost
    /// bytes, a stall, a killed receiver) can reach it.
    pub link: bool,
    /// Reads the source through the worker's fault VFS (role `source`): source faults can
    /// reach it.
    pub source_through_vfs: bool,
    /// Calls `sqlite3_backup_step` with `npage` pages at a time, sleeps `sleep_ms` between
    /// steps and counts its restarts: the entry keys `npage`, `sleep_ms` and `max_restarts`
    /// apply to it (a scenario setting them on another strategy is refused).
    pub steps: bool,
    /// Sets `PRAGMA synchronous` on the destination connection it opens: the entry key
    /// `dest_synchronous` applies to it (`api-journal-off` does this although it sets the
    /// journal mode itself, so `dest_pragmas` is false there).
    pub dest_synchronous: bool,
    /// Waits up to `busy_timeout_ms` on a locked source (its source connection's busy
    /// timeout, or its own BUSY retries): the entry key `busy_timeout_ms` applies to it.
    pub busy_timeout: bool,
}

/// One registered strategy.
pub struct Registration {
    pub name: &'static str,
    /// One line: what it does and where the advice comes from.
    pub describe: &'static str,
    pub facts: Facts,
    pub build: fn() -> Box<dyn Strategy>,
}

/// Facts of the backup-API strategies (write through SQLite, step events, own connection).
pub const API_FACTS: Facts = Facts {
    dest_through_vfs: true,
    backup_api: true,
    dest_pragmas: true,
    // start, phase "backup", and the first steps of a stepped backup.
    events_before_work: 4,
    link: false,
    source_through_vfs: false,
    steps: true,
    busy_timeout: true,
    dest_synchronous: true,
};

/// Facts of the file-copy strategies (`std::fs` writes, no steps, no destination connection).
pub const FILE_COPY_FACTS: Facts = Facts {
    dest_through_vfs: false,
    backup_api: false,
    dest_pragmas: false,
    // start, then the lock and copy phases.
    events_before_work: 4,
    link: false,
    source_through_vfs: false,
    steps: false,
    dest_synchronous: false,
    // The locked copy holds a read transaction on a source connection of its own.
    busy_timeout: true,
};

/// Facts of the network strategies: a stepped backup whose destination is shipped through the
/// stream link (not our fault VFS), with the source read through the fault VFS.
pub const STREAM_FACTS: Facts = Facts {
    dest_through_vfs: false,
    backup_api: true,
    dest_pragmas: false,
    // start, phase "backup", and the first steps.
    events_before_work: 4,
    link: true,
    source_through_vfs: true,
    steps: true,
    busy_timeout: true,
    dest_synchronous: false,
};

/// Every built-in strategy name, in report order.
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|r| r.name)
}

/// The registration of `name`: a built-in one, or [`external::REGISTRATION`] for
/// `external:<label>`.
pub fn registration(name: &str) -> Option<&'static Registration> {
    if external::is_external(name) {
        return Some(&external::REGISTRATION);
    }
    REGISTRY.iter().copied().find(|r| r.name == name)
}

/// Whether `name` is a strategy: a registered one, or `external:<label>`.
pub fn is_known(name: &str) -> bool {
    registration(name).is_some()
}

/// The facts of strategy `name`, if there is one.
pub fn facts(name: &str) -> Option<Facts> {
    registration(name).map(|r| r.facts)
}

/// The strategy called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Box<dyn Strategy>> {
    if external::is_external(name) {
        return Some(Box::new(external::External::new(name)));
    }
    registration(name).map(|r| (r.build)())
}
