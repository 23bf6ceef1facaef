//! Systematic crash exploration: every operation of a backup × every fault, with replay,
//! a determinism double-check, fuzzing with shrinking, and a bug base.
//!
//! Why it exists: random kills (the wal-storm scenario) only sample a backup's crash states.
//! Like SQLite's `backup_ioerr.test` (which sweeps the error index) and CrashMonkey/ALICE (which
//! replay every persistence point), this module records the fault-free VFS trace of a strategy
//! on a small deterministic reference workload and then places one fault at every operation of
//! it, across both files a backup touches, each state judged by the oracle (pre-image included).
//!
//! * [`reference`]: the reference source and destinations, built once, digests precomputed.
//! * [`points`]: trace × fault kinds → crash points, each a one-rule fault plan, and their IDs.
//! * [`inprocess`]: the fast path: one VFS, one scratch dir (or a memory disk), no child process.
//! * [`state_files`]: a state's files on disk or on the memory disk, as the cache and oracle read them.
//! * [`verdict_cache`]: verdicts by the content of a state's files.
//! * [`kill`]: kill points, the only ones that need a (child) process to die.
//! * [`lane_choice`]: whether a strategy's in-process states may run on the memory disk.
//! * [`sweep`]: the `crash-points` scenario mode and its report.
//! * [`replay`]: replaying one crash point (its ID is [`points`]'s).
//! * [`report`]: the sweep's report and the `--doublecheck` hashes.
//! * [`fuzz`]: random workloads × random fault plans, split by job: generation, running,
//!   shrinking, and the bug base of shrunk cases.
//! * [`commands`]: the `crash-points` and `fuzz` modes and their `replay`, for the command line.

pub mod commands;
pub mod fuzz;
pub mod inprocess;
pub mod kill;
pub mod lane_choice;
pub mod points;
pub mod reference;
pub mod replay;
pub mod report;
pub mod state_files;
pub mod sweep;
pub mod verdict_cache;

/// Why exploration could not run. Names the strategy, file or point involved.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("setup: {0}")]
    Setup(String),
    #[error("oracle: {0}")]
    Oracle(String),
    #[error("interrupted")]
    Interrupted,
    #[error("bug base: {0}")]
    BugBase(String),
    /// Something the user must allow explicitly (a bug-base entry that runs a program).
    #[error("refused: {0}")]
    Refused(String),
}
