//! The oracle: decides, on real files after real faults, whether a destination is untouched,
//! a consistent snapshot of the source within the strategy's window, or a violation.
//!
//! It always runs in the supervisor with no fault VFS, and opens the destination the way a
//! user's next open would, so hot journals and WAL files are recovered first.

pub mod digest;

use crate::event::Claim;
use crate::workload::Model;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("oracle on {path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Workload(#[from] crate::workload::WorkloadError),
}

/// The destination before the strategy ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreImage {
    /// No file (or an empty one): equivalent to an empty database.
    Absent,
    Present(digest::Digest),
}

/// What the destination holds after recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestState {
    Untouched,
    Snapshot { k: u64 },
    Corrupt { reason: String },
    Torn { reason: String },
}

/// The source after the iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCheck {
    pub k: u64,
    /// `None` when it passes integrity, matches `S(k)` and kept every acknowledged commit.
    pub damage: Option<String>,
}

/// Source sequence numbers when the strategy started and returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub k_start: u64,
    pub k_end: u64,
}

/// What the supervisor saw of the strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The strategy's claim; `None` when the worker died before making one.
    pub claim: Option<Claim>,
    pub window: Window,
    /// Set when the watchdog fired: what the worker was last doing.
    pub stall: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    Untouched,
    Snapshot,
    Corrupt,
    Torn,
    FalseSuccess,
    OutOfWindow,
    SourceDamaged,
    Stall,
    Error,
}

impl VerdictKind {
    pub const ALL: [VerdictKind; 9] = [
        VerdictKind::Untouched,
        VerdictKind::Snapshot,
        VerdictKind::Corrupt,
        VerdictKind::Torn,
        VerdictKind::FalseSuccess,
        VerdictKind::OutOfWindow,
        VerdictKind::SourceDamaged,
        VerdictKind::Stall,
        VerdictKind::Error,
    ];
    /// Violations break the invariant; `stall` and `error` are reported but allowed.
    pub fn is_violation(self) -> bool {
        matches!(
            self,
            VerdictKind::Corrupt
                | VerdictKind::Torn
                | VerdictKind::FalseSuccess
                | VerdictKind::OutOfWindow
                | VerdictKind::SourceDamaged
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Untouched => "untouched",
            VerdictKind::Snapshot => "snapshot",
            VerdictKind::Corrupt => "corrupt",
            VerdictKind::Torn => "torn",
            VerdictKind::FalseSuccess => "false-success",
            VerdictKind::OutOfWindow => "out-of-window",
            VerdictKind::SourceDamaged => "source-damaged",
            VerdictKind::Stall => "stall",
            VerdictKind::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// The snapshot's sequence number, when the destination is a snapshot.
    pub k: Option<u64>,
    /// `k_end - k` for snapshots.
    pub lag: Option<u64>,
    pub detail: String,
}

/// Records the destination's pre-image before the strategy runs.
pub fn take_pre_image(_dest: &Path) -> Result<PreImage, OracleError> {
    todo!()
}

/// Opens the destination (recovering it), checks integrity, digests it and compares.
pub fn inspect_destination(
    _dest: &Path,
    _pre: &PreImage,
    _model: &mut Model,
) -> Result<DestState, OracleError> {
    todo!()
}

/// Checks the source: integrity, digest equals `S(k)`, and `k >= max_acked`.
pub fn check_source(
    _source: &Path,
    _model: &mut Model,
    _max_acked: u64,
) -> Result<SourceCheck, OracleError> {
    todo!()
}

/// The verdict, from the destination's state, what the strategy claimed, and the source.
pub fn classify(_dest: &DestState, _obs: &Observation, _source: &SourceCheck) -> Verdict {
    todo!()
}
