//! The sections of a scenario file (`[source]`, `[workload]`, `[faults]`, `[[strategy]]`, ...)
//! and the names they use, with their defaults. `mod.rs` assembles and validates them.

use crate::fault::{CrashWindow, PointKind};
use crate::strategy::{StrategyParams, Synchronous};
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

/// One strategy of the scenario, with its parameters and expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyEntry {
    pub name: String,
    /// Names this entry in reports and replay IDs when the scenario runs one strategy twice
    /// (letters, digits, `.`, `_`, `-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
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
    /// Overrides `[faults] delay_max_ms` for this strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_max_ms: Option<u64>,
    /// Replaces `[checkpointer]` for this strategy's iterations (`[strategy.checkpointer]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpointer: Option<CheckpointerSection>,
    /// Overrides keys of `[destination]` for this strategy (`[strategy.destination]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<DestinationKeys>,
    /// Expands this entry into one entry per destination `journal_mode` × `synchronous`
    /// (`[strategy.matrix]`), labelled `<label>.<journal>.<sync>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixSpec>,
    /// With `matrix`: cells whose variant matches one of these patterns (`journal=off`,
    /// `journal=wal,sync=normal`: every `key=value` must match) expect `unsafe`; give each a
    /// comment naming the mechanism.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsafe_variants: Vec<String>,
    /// SQLite refuses this backup (e.g. a page size change of a WAL destination): every
    /// iteration must end in an error with the destination untouched; a snapshot means the
    /// answer changed (and `untested` no longer asks for one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
    /// For `unsafe` controls: the violation kinds that catch it (`["out-of-window", "torn",
    /// "corrupt"]`). A violation of another kind (say `source-damaged` from a shifted model)
    /// does not count as caught. Empty: any violation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caught_as: Vec<crate::oracle::VerdictKind>,
    /// A helper that takes a lock before the backup starts and holds it until the backup
    /// ends (`dest-write`, `dest-read`, `source-write`; see `workload::Blocker`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocker: Option<crate::workload::Blocker>,
    /// After every iteration, with the writers and the blocker stopped, back up again onto
    /// the same destination with no fault: it must claim success and leave a snapshot (no
    /// stale lock, journal or WAL may stand in its way).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recover: bool,
    /// Overrides `[app] order` for this entry's iterations (`wrong`: the negative control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_order: Option<crate::workload::AppOrder>,
    /// The entry is meant to stall: unless some iteration ends in `stall`, it tested
    /// nothing (`untested`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stalls: bool,
    /// The matrix cell this entry is (`journal=off,sync=full`); set by the expansion, not a
    /// key of the file.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(flatten)]
    pub params: StrategyParams,
}

/// `[strategy.matrix]`: the dimensions an entry is expanded over, each optional: the
/// destination's `journal_mode` and `synchronous`, the checkpointer's one `checkpoint` mode
/// (`none` = no checkpointer) and the writers' `autocheckpoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSpec {
    #[serde(default)]
    pub journal_mode: Vec<JournalMode>,
    #[serde(default)]
    pub synchronous: Vec<Synchronous>,
    #[serde(default)]
    pub checkpoint: Vec<CheckpointChoice>,
    #[serde(default)]
    pub autocheckpoint: Vec<bool>,
}

/// A checkpoint mode of a matrix, or none (no checkpointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointChoice {
    None,
    Passive,
    Full,
    Restart,
    Truncate,
}

impl CheckpointChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointChoice::None => "none",
            CheckpointChoice::Passive => "passive",
            CheckpointChoice::Full => "full",
            CheckpointChoice::Restart => "restart",
            CheckpointChoice::Truncate => "truncate",
        }
    }
    fn mode(self) -> Option<CheckpointMode> {
        Some(match self {
            CheckpointChoice::None => return None,
            CheckpointChoice::Passive => CheckpointMode::Passive,
            CheckpointChoice::Full => CheckpointMode::Full,
            CheckpointChoice::Restart => CheckpointMode::Restart,
            CheckpointChoice::Truncate => CheckpointMode::Truncate,
        })
    }
}

/// One value of one matrix dimension, applied to a cell.
#[derive(Clone, Copy)]
enum Dim {
    Journal(JournalMode),
    Sync(Synchronous),
    Checkpoint(CheckpointChoice),
    Autocheckpoint(bool),
}

impl Dim {
    fn part(self) -> (String, String) {
        match self {
            Dim::Journal(j) => ("journal".into(), j.as_str().into()),
            Dim::Sync(s) => ("sync".into(), s.as_str().into()),
            Dim::Checkpoint(c) => ("checkpoint".into(), c.as_str().into()),
            Dim::Autocheckpoint(a) => {
                ("autocheckpoint".into(), if a { "on" } else { "off" }.into())
            }
        }
    }
}

impl MatrixSpec {
    fn dims(&self) -> Vec<Vec<Dim>> {
        let mut out: Vec<Vec<Dim>> = Vec::new();
        let mut add = |v: Vec<Dim>| {
            if !v.is_empty() {
                out.push(v)
            }
        };
        add(self.journal_mode.iter().map(|&j| Dim::Journal(j)).collect());
        add(self.synchronous.iter().map(|&s| Dim::Sync(s)).collect());
        add(self
            .checkpoint
            .iter()
            .map(|&c| Dim::Checkpoint(c))
            .collect());
        add(self
            .autocheckpoint
            .iter()
            .map(|&a| Dim::Autocheckpoint(a))
            .collect());
        out
    }
}

/// Whether `variant` (`journal=off,sync=full`) matches `pattern` (every `key=value` of it).
pub fn variant_matches(variant: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = variant.split(',').collect();
    pattern
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .all(|p| parts.contains(&p))
}

/// Expands every entry with a `matrix` into its cells (the cartesian product of its
/// dimensions, in the order written), labelled `<id>.<value>.<value>...`.
pub fn expand_matrices(
    entries: Vec<StrategyEntry>,
    base: &CheckpointerSection,
) -> Vec<StrategyEntry> {
    let mut out = Vec::new();
    for e in entries {
        let Some(m) = e.matrix.clone() else {
            out.push(e);
            continue;
        };
        let mut cells: Vec<Vec<Dim>> = vec![Vec::new()];
        for dim in m.dims() {
            cells = cells
                .into_iter()
                .flat_map(|c| {
                    dim.iter().map(move |d| {
                        let mut c = c.clone();
                        c.push(*d);
                        c
                    })
                })
                .collect();
        }
        for dims in cells {
            let parts: Vec<(String, String)> = dims.iter().map(|d| d.part()).collect();
            let variant = parts
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut cell = e.clone();
            cell.matrix = None;
            cell.label = Some(
                std::iter::once(e.id().to_string())
                    .chain(parts.iter().map(|(_, v)| v.clone()))
                    .collect::<Vec<_>>()
                    .join("."),
            );
            for d in dims {
                match d {
                    Dim::Journal(j) => {
                        cell.destination
                            .get_or_insert_with(Default::default)
                            .journal_mode = Some(j)
                    }
                    Dim::Sync(s) => {
                        cell.destination
                            .get_or_insert_with(Default::default)
                            .synchronous = Some(s)
                    }
                    Dim::Checkpoint(c) => {
                        let ck = cell.checkpointer.get_or_insert_with(|| base.clone());
                        ck.enabled = c.mode().is_some();
                        ck.modes = c.mode().into_iter().collect();
                    }
                    Dim::Autocheckpoint(a) => {
                        cell.checkpointer
                            .get_or_insert_with(|| base.clone())
                            .autocheckpoint = Some(a)
                    }
                }
            }
            if e.unsafe_variants
                .iter()
                .any(|p| variant_matches(&variant, p))
            {
                cell.expect = Expect::Unsafe;
            }
            cell.unsafe_variants = Vec::new();
            cell.variant = Some(variant);
            out.push(cell);
        }
    }
    out
}

impl StrategyEntry {
    /// What reports and replay IDs call this entry: its label, else its strategy name.
    pub fn id(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    /// An entry for `name` with no expectation and default parameters.
    pub fn any(name: &str) -> StrategyEntry {
        StrategyEntry {
            name: name.to_string(),
            label: None,
            expect: Expect::Any,
            faults: None,
            destinations: None,
            complete_fraction: None,
            delay_max_ms: None,
            checkpointer: None,
            destination: None,
            matrix: None,
            unsafe_variants: Vec::new(),
            refused: false,
            caught_as: Vec::new(),
            blocker: None,
            recover: false,
            app_order: None,
            stalls: false,
            variant: None,
            params: StrategyParams::default(),
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
