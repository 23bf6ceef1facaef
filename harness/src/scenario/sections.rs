//! The sections of a scenario file (`[source]`, `[workload]`, `[faults]`, `[[strategy]]`, ...)
//! and the names they use, with their defaults. `mod.rs` assembles and validates them.

use crate::strategy::StrategyParams;
use crate::workload::WorkloadSpec;
use crate::workload::{DestJournal, DestinationKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a strategy is expected to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// No violation in any iteration.
    Safe,
    /// At least one violation (negative controls): if none shows, the harness is broken.
    Unsafe,
    /// Report only.
    Any,
}

impl Expect {
    /// Whether `violations` violations meet this expectation.
    pub fn is_met(self, violations: usize) -> bool {
        match self {
            Expect::Safe => violations == 0,
            Expect::Unsafe => violations > 0,
            Expect::Any => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Safe => "safe",
            Expect::Unsafe => "unsafe",
            Expect::Any => "any",
        }
    }
}

/// Fault kinds an iteration can draw. See [`crate::fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL the backup worker after its n-th progress event (deterministic point).
    KillAfterEvent,
    /// The backup worker's own VFS SIGKILLs it at the n-th destination operation: mostly
    /// database writes, sometimes the commit's journal sync, database sync or journal delete.
    KillDestOp,
    /// Like `kill-dest-op`, always at the n-th write of the destination database file.
    KillDestWrite,
    /// SIGKILL the backup worker after a seeded wall-clock delay (not deterministic).
    KillDelay,
    /// An I/O error inside the destination's final commit, the "remaining()==0 but not
    /// SQLITE_DONE" window.
    FinalCommitIoerr,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::KillAfterEvent => "kill-after-event",
            FaultKind::KillDestOp => "kill-dest-op",
            FaultKind::KillDestWrite => "kill-dest-write",
            FaultKind::KillDelay => "kill-delay",
            FaultKind::FinalCommitIoerr => "final-commit-ioerr",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSection {
    /// Writer processes.
    pub writers: u32,
    /// Commits per second per writer; 0 = as fast as possible.
    pub rate: f64,
    pub ddl: bool,
    pub max_row_bytes: usize,
    pub ops_min: u32,
    pub ops_max: u32,
    /// Acknowledged commits to wait for before the backup starts.
    pub warmup_commits: u64,
}

impl Default for WorkloadSection {
    fn default() -> Self {
        let w = WorkloadSpec::default();
        WorkloadSection {
            writers: 2,
            rate: 0.0,
            ddl: w.ddl,
            max_row_bytes: w.max_row_bytes,
            ops_min: w.ops_min,
            ops_max: w.ops_max,
            warmup_commits: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceSection {
    pub pages: u32,
    pub page_size: u32,
}

impl Default for SourceSection {
    fn default() -> Self {
        SourceSection {
            pages: 2000,
            page_size: 4096,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointerSection {
    pub enabled: bool,
    pub interval_ms: u64,
    /// Every n-th checkpoint is TRUNCATE, the others PASSIVE.
    pub truncate_every: u32,
}

impl Default for CheckpointerSection {
    fn default() -> Self {
        CheckpointerSection {
            enabled: true,
            interval_ms: 25,
            truncate_every: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSection {
    /// Fraction of iterations that run to completion with no fault.
    pub complete_fraction: f64,
    /// Fault kinds drawn (uniformly) for the other iterations.
    pub kinds: Vec<FaultKind>,
    /// Upper bound of `kill-delay`, in milliseconds.
    pub delay_max_ms: u64,
}

impl Default for FaultSection {
    fn default() -> Self {
        FaultSection {
            complete_fraction: 0.5,
            kinds: vec![
                FaultKind::KillAfterEvent,
                FaultKind::KillDestOp,
                FaultKind::KillDelay,
                FaultKind::FinalCommitIoerr,
            ],
            delay_max_ms: 300,
        }
    }
}

/// A destination as a scenario names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestinationChoice {
    /// No file: the backup creates it.
    Fresh,
    /// An unrelated database in rollback (DELETE) journal mode.
    ExistingDelete,
    /// An unrelated database in WAL mode.
    ExistingWal,
    /// Tables with the source's names but other columns, DELETE journal mode.
    ConflictingDelete,
    /// Tables with the source's names but other columns, WAL mode.
    ConflictingWal,
}

impl DestinationChoice {
    pub fn kind(self) -> DestinationKind {
        match self {
            DestinationChoice::Fresh => DestinationKind::Fresh,
            DestinationChoice::ExistingDelete => DestinationKind::Existing {
                journal: DestJournal::Delete,
            },
            DestinationChoice::ExistingWal => DestinationKind::Existing {
                journal: DestJournal::Wal,
            },
            DestinationChoice::ConflictingDelete => DestinationKind::Conflicting {
                journal: DestJournal::Delete,
            },
            DestinationChoice::ConflictingWal => DestinationKind::Conflicting {
                journal: DestJournal::Wal,
            },
        }
    }
    /// Whether the destination is a WAL-mode database before the backup.
    pub fn is_wal(self) -> bool {
        matches!(
            self,
            DestinationChoice::ExistingWal | DestinationChoice::ConflictingWal
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationChoice::Fresh => "fresh",
            DestinationChoice::ExistingDelete => "existing-delete",
            DestinationChoice::ExistingWal => "existing-wal",
            DestinationChoice::ConflictingDelete => "conflicting-delete",
            DestinationChoice::ConflictingWal => "conflicting-wal",
        }
    }
}

/// What `scenario NAME` does with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Iterations under a writer storm with one sampled fault each (wal-storm).
    #[default]
    Storm,
    /// Every operation × every fault on the reference workload (`harness::explore`).
    CrashPoints,
    /// Random workloads × random fault plans, shrinking, bug base.
    Fuzz,
}

/// `[crash]`: the crash-points sweep (mode = "crash-points").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrashSection {
    /// Destinations every strategy is swept on (a strategy's `destinations` overrides).
    pub destinations: Vec<DestinationChoice>,
    /// Fault kinds placed at every operation.
    pub kinds: Vec<crate::explore::points::PointKind>,
    /// Kill points that leave identical files share one child process (see `explore::sweep`).
    pub dedup_kills: bool,
    /// Backup worker processes run at once for kill points.
    pub kill_parallel: u32,
}

impl Default for CrashSection {
    fn default() -> Self {
        CrashSection {
            destinations: vec![
                DestinationChoice::ExistingDelete,
                DestinationChoice::ExistingWal,
            ],
            kinds: crate::explore::points::PointKind::ALL.to_vec(),
            dedup_kills: true,
            kill_parallel: 2,
        }
    }
}

/// `[fuzz]`: random workloads and fault plans (mode = "fuzz").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FuzzSection {
    /// Cases drawn per strategy.
    pub cases: u32,
    /// Largest number of faults in one plan.
    pub max_faults: u32,
    /// Source size range, in pages.
    pub pages_min: u32,
    pub pages_max: u32,
    /// Shrink steps allowed per violation.
    pub shrink_steps: u32,
    /// Where violations are saved (`<dir>/<id>/`).
    pub bugbase: PathBuf,
    /// Metadata policy of the fuzzed power cuts: `ordered` (default: ext4 data=ordered, XFS)
    /// or `independent` (the POSIX worst case, each unsynced metadata change on its own).
    pub power_cut_metadata: vfs_faults::MetadataOrder,
}

impl Default for FuzzSection {
    fn default() -> Self {
        FuzzSection {
            cases: 64,
            max_faults: 3,
            pages_min: 8,
            pages_max: 64,
            shrink_steps: 200,
            bugbase: PathBuf::from("reports/bugbase"),
            power_cut_metadata: vfs_faults::MetadataOrder::Ordered,
        }
    }
}

/// One strategy of the scenario, with its parameters and expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyEntry {
    pub name: String,
    pub expect: Expect,
    /// Overrides `[faults] kinds` for this strategy.
    #[serde(default)]
    pub faults: Option<Vec<FaultKind>>,
    /// Overrides `[destination] kinds` for this strategy.
    #[serde(default)]
    pub destinations: Option<Vec<DestinationChoice>>,
    /// Overrides `[faults] complete_fraction` for this strategy.
    #[serde(default)]
    pub complete_fraction: Option<f64>,
    #[serde(flatten)]
    pub params: StrategyParams,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DestinationSection {
    /// Destination kinds, cycled through the iterations.
    pub kinds: Vec<DestinationChoice>,
}

impl Default for DestinationSection {
    fn default() -> Self {
        DestinationSection {
            kinds: vec![DestinationChoice::Fresh],
        }
    }
}
