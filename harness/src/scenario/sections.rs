//! The sections of a scenario file (`[source]`, `[workload]`, `[faults]`, `[[strategy]]`, ...)
//! and the names they use, with their defaults. `mod.rs` assembles and validates them.

use crate::fault::{CrashWindow, PointKind};
use crate::strategy::Synchronous;
use crate::workload::{CheckpointMode, DestContent, DestinationSetup, JournalMode, WorkloadSpec};
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

pub use crate::fault::FaultKind;

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
    /// Tables left out of the oracle's digest on both sides (globs: `_litestream_*`).
    pub ignore_tables: Vec<String>,
    /// The writers' automatic checkpoints (`PRAGMA wal_autocheckpoint`, SQLite's default on);
    /// off, only the checkpointer checkpoints and the WAL grows between its runs.
    pub autocheckpoint: bool,
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
            ignore_tables: Vec::new(),
            autocheckpoint: true,
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
    /// Checkpoint modes, cycled in order. Empty: PASSIVE, with every `truncate_every`-th one
    /// TRUNCATE.
    pub modes: Vec<CheckpointMode>,
    /// Without `modes`: every n-th checkpoint is TRUNCATE, the others PASSIVE (0 = never).
    pub truncate_every: u32,
    /// The writers' automatic checkpoints for these iterations (unset: `[workload]
    /// autocheckpoint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autocheckpoint: Option<bool>,
}

impl CheckpointerSection {
    /// The modes the checkpointer cycles through.
    pub fn cycle(&self) -> Vec<CheckpointMode> {
        if !self.modes.is_empty() {
            return self.modes.clone();
        }
        let n = self.truncate_every.max(1) as usize;
        let mut out = vec![CheckpointMode::Passive; n];
        if self.truncate_every > 0 {
            out[n - 1] = CheckpointMode::Truncate;
        }
        out
    }
}

impl Default for CheckpointerSection {
    fn default() -> Self {
        CheckpointerSection {
            enabled: true,
            interval_ms: 25,
            modes: Vec::new(),
            truncate_every: 10,
            autocheckpoint: None,
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
    /// Upper bound of `kill-delay`, in milliseconds (a strategy's `delay_max_ms` overrides).
    pub delay_max_ms: u64,
    /// Lower bound of `kill-delay`, in milliseconds (a strategy's `delay_min_ms` overrides):
    /// a tool that needs 80 ms to start is not killed before it has begun.
    pub delay_min_ms: u64,
    /// A strategy is `untested` unless every fault kind it planned fired in at least this
    /// fraction of the iterations that planned it.
    pub min_fault_hit: f64,
    /// Metadata policy of power cuts: `ordered` (ext4 data=ordered, XFS) or `independent`
    /// (the POSIX worst case).
    pub power_cut_metadata: vfs_faults::MetadataOrder,
    /// What a power cut does to unsynced writes and metadata: `random` (seeded per sector:
    /// kept, reverted or garbled) or `revert` (all undone: the worst case without garbage,
    /// the same outcome every time).
    pub power_cut_unsynced: vfs_faults::Unsynced,
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
            delay_min_ms: 0,
            min_fault_hit: 0.5,
            power_cut_metadata: vfs_faults::MetadataOrder::Ordered,
            power_cut_unsynced: vfs_faults::Unsynced::Random,
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
    /// A database with no tables, DELETE journal mode: `setup_sql` builds its content.
    EmptyDelete,
    /// A database with no tables, WAL mode: `setup_sql` builds its content.
    EmptyWal,
}

impl DestinationChoice {
    pub const ALL: [DestinationChoice; 7] = [
        DestinationChoice::Fresh,
        DestinationChoice::ExistingDelete,
        DestinationChoice::ExistingWal,
        DestinationChoice::ConflictingDelete,
        DestinationChoice::ConflictingWal,
        DestinationChoice::EmptyDelete,
        DestinationChoice::EmptyWal,
    ];

    /// The preset: what the file holds and its journal mode (`None`: no file).
    pub fn preset(self) -> (DestContent, Option<JournalMode>) {
        match self {
            DestinationChoice::Fresh => (DestContent::Fresh, None),
            DestinationChoice::ExistingDelete => (DestContent::Existing, Some(JournalMode::Delete)),
            DestinationChoice::ExistingWal => (DestContent::Existing, Some(JournalMode::Wal)),
            DestinationChoice::ConflictingDelete => {
                (DestContent::Conflicting, Some(JournalMode::Delete))
            }
            DestinationChoice::ConflictingWal => (DestContent::Conflicting, Some(JournalMode::Wal)),
            DestinationChoice::EmptyDelete => (DestContent::Empty, Some(JournalMode::Delete)),
            DestinationChoice::EmptyWal => (DestContent::Empty, Some(JournalMode::Wal)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationChoice::Fresh => "fresh",
            DestinationChoice::ExistingDelete => "existing-delete",
            DestinationChoice::ExistingWal => "existing-wal",
            DestinationChoice::ConflictingDelete => "conflicting-delete",
            DestinationChoice::ConflictingWal => "conflicting-wal",
            DestinationChoice::EmptyDelete => "empty-delete",
            DestinationChoice::EmptyWal => "empty-wal",
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

/// `[app]`: an application whose stages commit at their own points, sharing the source
/// (see `workload::app`). Its tables (`app_*`) are left out of the digest and judged by
/// `invariants` on the recovered source and on every snapshot destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppSection {
    /// Pipeline worker processes (0: no app).
    pub workers: u32,
    /// `right` (blocks before the file) or `wrong` (the file first: a negative control).
    pub order: crate::workload::AppOrder,
    /// Files per second per worker; 0 = as fast as possible.
    pub rate: f64,
    /// Work before the split and the store stages commit (reading a file, uploading its
    /// blocks), in ms.
    pub stage_ms: u64,
    /// Queries that must return no rows: `{ name = "...", sql = "SELECT ..." }`.
    pub invariants: Vec<crate::oracle::Invariant>,
}

impl Default for AppSection {
    fn default() -> Self {
        AppSection {
            workers: 0,
            order: crate::workload::AppOrder::Right,
            rate: 0.0,
            stage_ms: 0,
            invariants: Vec::new(),
        }
    }
}

/// `[crash]`: the crash-points sweep (mode = "crash-points").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrashSection {
    /// Destinations every strategy is swept on (a strategy's `destinations` overrides).
    pub destinations: Vec<DestinationChoice>,
    /// Fault kinds placed at every operation.
    pub kinds: Vec<PointKind>,
    /// Kill points that leave identical files share one child process (see `explore::sweep`).
    pub dedup_kills: bool,
    /// Backup worker processes run at once for kill points.
    pub kill_parallel: u32,
    /// In-process states of a strategy × destination run on an in-memory disk when its
    /// fault-free run there gives the trace, claim and files it gives on disk (see
    /// `explore::sweep`); `false`: every state on real files.
    pub memory_lane: bool,
    /// Where in the trace faults are placed: `all` (default) or `final-commit` (after the
    /// last read of source content: the `remaining()==0` window).
    pub window: CrashWindow,
}

impl Default for CrashSection {
    fn default() -> Self {
        CrashSection {
            destinations: vec![
                DestinationChoice::ExistingDelete,
                DestinationChoice::ExistingWal,
            ],
            kinds: PointKind::ALL.to_vec(),
            dedup_kills: true,
            kill_parallel: 2,
            memory_lane: true,
            window: CrashWindow::All,
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
    /// Where new violations are saved (`<dir>/<id>/`). Unset: `<report-dir>/new-bugs`
    /// (`--bugbase DIR` overrides both). The bug base that ships in `reports/bugbase` is
    /// written only when named here or with `--bugbase`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bugbase: Option<PathBuf>,
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
            bugbase: None,
            power_cut_metadata: vfs_faults::MetadataOrder::Ordered,
        }
    }
}

/// The keys that describe a destination beyond its preset (`[destination]`, or a
/// strategy's `[strategy.destination]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DestinationKeys {
    /// The destination's journal mode: set on a pre-existing file (WAL persists in it) and on
    /// the strategy's destination connection. Unset: the preset's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_mode: Option<JournalMode>,
    /// `PRAGMA synchronous` of the strategy's destination connection. Unset: SQLite's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<Synchronous>,
    /// Page size of a pre-existing destination. Unset: the source's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Statements run on a pre-existing destination after its preset content, before the
    /// pre-image is taken.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub setup_sql: Vec<String>,
}

impl DestinationKeys {
    /// These keys, with `over`'s set keys in their place.
    pub fn merged(&self, over: Option<&DestinationKeys>) -> DestinationKeys {
        let Some(o) = over else {
            return self.clone();
        };
        DestinationKeys {
            journal_mode: o.journal_mode.or(self.journal_mode),
            synchronous: o.synchronous.or(self.synchronous),
            page_size: o.page_size.or(self.page_size),
            setup_sql: if o.setup_sql.is_empty() {
                self.setup_sql.clone()
            } else {
                o.setup_sql.clone()
            },
        }
    }

    /// The destination of one iteration: `choice`'s preset with these keys over it.
    pub fn setup(&self, choice: DestinationChoice, source_page_size: u32) -> DestinationSetup {
        let (content, preset_journal) = choice.preset();
        DestinationSetup {
            content,
            journal_mode: self.journal_mode.or(preset_journal),
            page_size: self.page_size.unwrap_or(source_page_size),
            setup_sql: self.setup_sql.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DestinationSection {
    /// Destination presets, cycled through the iterations.
    pub kinds: Vec<DestinationChoice>,
    #[serde(flatten)]
    pub keys: DestinationKeys,
}

impl Default for DestinationSection {
    fn default() -> Self {
        DestinationSection {
            kinds: vec![DestinationChoice::Fresh],
            keys: DestinationKeys::default(),
        }
    }
}
