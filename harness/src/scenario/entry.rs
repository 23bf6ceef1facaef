//! One `[[strategy]]` entry of a scenario: the strategy it runs, its parameters, its
//! expectation and per-entry overrides, and the `[strategy.matrix]` it may be expanded over.
//!
//! Why its own module: an entry is the unit every report row, replay ID and expectation is
//! about; the sections it overrides are in `sections`.

use super::sections::*;
use crate::fault::FaultKind;
use crate::strategy::{StrategyParams, Synchronous};
use crate::workload::{CheckpointMode, JournalMode};
use serde::{Deserialize, Serialize};

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
    /// Overrides `[faults] delay_min_ms` for this strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_min_ms: Option<u64>,
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
    /// The most restarts a backup of this entry may take and still meet its expectation
    /// (`0`: the same-connection strategies while they are the only writer). Every iteration
    /// over it is listed with its replay ID and fails a `safe` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u64>,
    /// Overrides `[workload] writers` for this entry's iterations (0: no writer processes, as
    /// when the strategy's own connection is the only writer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writers: Option<u32>,
    /// Overrides `[app] order` for this entry's iterations (`wrong`: the negative control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_order: Option<crate::workload::AppOrder>,
    /// The entry is meant to stall: unless some iteration ends in `stall`, it tested
    /// nothing (`untested`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stalls: bool,
    /// External tools: paths that must exist for the tool to be installed (a Python package
    /// directory under `{tools}/python`, a built binary), checked with the program before the
    /// run. `{tools}` (the install prefix of `ci/install-tools.sh`) and `{scenario_dir}` are
    /// replaced when the scenario loads, here and in `command`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// External tools: a program or required path that is missing skips this entry (its row
    /// says `skipped: not installed`) instead of stopping the run with exit 2.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// External tools: an argv (no `{src}`/`{dst}`) run once before the run; the first line it
    /// prints is the tool's version (and the SQLite it links) in the report's tool table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub version_command: Vec<String>,
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

    /// What the fault model knows about this entry: its strategy's facts, as its parameters
    /// change them (an external tool with `fault_vfs = "preload"` writes through the VFS).
    pub fn facts(&self) -> Option<crate::strategy::Facts> {
        if crate::strategy::external::is_external(&self.name) {
            return Some(crate::strategy::external::facts(&self.params));
        }
        crate::strategy::facts(&self.name)
    }
}
