//! Scenario files: what a run does, as TOML, validated with errors that name file, line and key.
//!
//! A scenario says how the source looks and is written to, what destinations the strategies
//! back up into, which strategies run with which parameters and expectations, which faults are
//! injected, and how many iterations run. See `scenarios/wal-storm.toml` for a commented example.

use crate::strategy::{external, is_known};
use crate::workload::WorkloadSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod effect;
mod entry;
#[cfg(test)]
mod input_tests;
mod keys;
mod limits;
mod locate;
mod sections;
#[cfg(test)]
mod tests;
mod validate;

pub use entry::*;
pub use limits::*;
pub use sections::*;

use locate::{key_line, locate};

/// The largest scenario file read, in bytes: a scenario is a few KiB, and a path to a device
/// or a huge file must not fill the memory before it is refused.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// The largest initial source, `source.pages × source.page_size`, in bytes (4 GiB).
pub const MAX_SOURCE_BYTES: u64 = 4 << 30;
/// The most commits the writers make before a backup starts (`workload.warmup_commits`).
pub const MAX_WARMUP_COMMITS: u64 = 1_000_000;
/// The longest `delay_max_ms` of a `kill-delay`: one minute.
pub const MAX_DELAY_MS: u64 = 60_000;

/// Why a scenario could not be loaded. Always one line.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario `{0}` (see `list` for the scenarios)")]
    Unknown(String),
    #[error("{path}: cannot read: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: key `{key}`: {message}")]
    Parse {
        path: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: larger than {} KiB: not a scenario file (scenarios are a few KiB)", MAX_FILE_BYTES / 1024)]
    TooLarge { path: String },
}

/// A parsed, validated scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_iterations")]
    pub iterations: u32,
    /// No progress event from the backup worker for this long: `stall`.
    #[serde(default = "default_watchdog_ms")]
    pub watchdog_ms: u64,
    /// A backup still running after this long is stopped and counted as `stall`.
    #[serde(default = "default_budget_ms")]
    pub budget_ms: u64,
    /// The longest one statement of the scenario's own SQL (`setup_sql`, `[app]` invariants)
    /// may run before it is interrupted and the run stops with an error naming it.
    #[serde(
        default = "default_sql_timeout_ms",
        skip_serializing_if = "is_default_sql_timeout"
    )]
    pub sql_timeout_ms: u64,
    #[serde(default)]
    pub source: SourceSection,
    #[serde(default)]
    pub workload: WorkloadSection,
    #[serde(default)]
    pub checkpointer: CheckpointerSection,
    #[serde(default)]
    pub destination: DestinationSection,
    #[serde(default)]
    pub faults: FaultSection,
    /// An application sharing the source (`[app]`): pipeline workers and their invariants.
    #[serde(default)]
    pub app: AppSection,
    #[serde(rename = "strategy", default)]
    pub strategies: Vec<StrategyEntry>,
    /// `storm` (default), `crash-points` or `fuzz`.
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub crash: CrashSection,
    #[serde(default)]
    pub fuzz: FuzzSection,
    /// Known findings: replay IDs of violations that are documented behaviour of SQLite or of
    /// a tool (each with a comment in the file saying why). A known finding must still
    /// reproduce, and does not fail its strategy; any other violation does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<String>,
    /// Where the scenario was loaded from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
    /// `optional` external entries left out because their tool is not installed (set before
    /// the run by the command line; the report shows each with the reason).
    #[serde(skip)]
    pub skipped: Vec<Skipped>,
    /// What each external entry's `version_command` printed (by entry id), probed before the
    /// run by the command line.
    #[serde(skip)]
    pub tool_versions: std::collections::BTreeMap<String, String>,
}

fn default_seed() -> u64 {
    1
}
fn default_iterations() -> u32 {
    10
}
fn default_watchdog_ms() -> u64 {
    3000
}
fn default_budget_ms() -> u64 {
    4000
}
fn default_sql_timeout_ms() -> u64 {
    crate::workload::DEFAULT_SQL_TIMEOUT_MS
}
fn is_default_sql_timeout(ms: &u64) -> bool {
    *ms == crate::workload::DEFAULT_SQL_TIMEOUT_MS
}

impl Scenario {
    /// The workload spec every process of the run uses.
    pub fn workload_spec(&self) -> WorkloadSpec {
        WorkloadSpec {
            seed: self.seed,
            initial_pages: self.source.pages,
            page_size: self.source.page_size,
            ddl: self.workload.ddl,
            max_row_bytes: self.workload.max_row_bytes,
            ops_min: self.workload.ops_min,
            ops_max: self.workload.ops_max,
            ignore_tables: {
                let mut t = self.workload.ignore_tables.clone();
                if self.app.workers > 0 {
                    t.push(crate::workload::app::APP_TABLES.to_string());
                }
                t
            },
        }
    }

    /// The entry whose id (label, else name) is `id`.
    pub fn strategy(&self, id: &str) -> Option<&StrategyEntry> {
        self.strategies.iter().find(|s| s.id() == id)
    }

    /// Parses and validates scenario text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            let (line, key) = locate(text, e.span());
            let message = e.message().lines().next().unwrap_or("").to_string();
            // A strategy's parameters are flattened into its entry, where serde loses the
            // span: find the parameter that failed, by trying each one alone.
            let (key, message) = if key.starts_with("strategy") {
                bad_strategy_param(text).unwrap_or((key, message))
            } else {
                (key, message)
            };
            let line = if key == "strategy" || !key.contains('.') {
                line
            } else {
                key_line(text, &key)
            };
            ScenarioError::Parse {
                path: shown.clone(),
                line,
                key,
                message,
            }
        })?;
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
        }
        scenario.path = path.to_path_buf();
        let written = std::mem::take(&mut scenario.strategies);
        // Which entry of the file each expanded entry comes from: an error names the entry
        // as written (`strategy[1]`), not its place among the matrix cells.
        let origins: Vec<usize> = written
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                std::iter::repeat_n(
                    i,
                    expand_matrices(vec![e.clone()], &scenario.checkpointer).len(),
                )
            })
            .collect();
        scenario.strategies = expand_matrices(written.clone(), &scenario.checkpointer);
        scenario
            .validate(text)
            .map_err(|(key, message)| (written_index(&key, &origins), message))
            .and_then(|()| keys::check_mode_keys(text, scenario.mode))
            .and_then(|()| effect::check(&scenario, &written, text))
            .map_err(|(key, message)| {
                let line = key_line(text, &key);
                ScenarioError::Parse {
                    path: shown.clone(),
                    line,
                    key,
                    message,
                }
            })?;
        scenario.resolve();
        Ok(scenario)
    }

    /// Loads `name_or_path`: a path to a TOML file, or a name under `scenarios/`. A file
    /// larger than [`MAX_FILE_BYTES`] is refused before it is parsed (and read no further).
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        let path = resolve(name_or_path)?;
        let text = read_limited(&path)?;
        Scenario::parse(&text, &path)
    }

    /// Fills each entry's destination connection pragmas from the destination keys (the
    /// strategy's own `dest_synchronous` / `dest_journal_mode` win).
    fn resolve(&mut self) {
        let tools = external::tools_dir();
        let scenario_dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let scenario_dir = scenario_dir.canonicalize().unwrap_or(scenario_dir);
        for s in &mut self.strategies {
            let args = s.params.command.iter_mut().chain(s.requires.iter_mut());
            for arg in args.chain(s.version_command.iter_mut()) {
                *arg = external::expand_dirs(arg, &tools, &scenario_dir);
            }
            let keys = self.destination.keys.merged(s.destination.as_ref());
            s.params.dest_synchronous = s.params.dest_synchronous.or(keys.synchronous);
            s.params.dest_journal_mode = s.params.dest_journal_mode.or(keys.journal_mode);
        }
    }

    /// Keeps only the named entries (comma list of entry IDs: a label, else the name). A name
    /// the scenario does not define is an error listing the IDs it does define: an entry added
    /// here would skip the checks its scenario's entries passed (fault kinds, destinations),
    /// and a matrix's template name is not one of its cells.
    pub fn select_strategies(&mut self, names: &str) -> Result<(), ScenarioError> {
        let mut kept = Vec::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some(entry) = self.strategy(name) else {
                // Labelled entries of this strategy (a matrix's cells): name those alone.
                let labelled: Vec<&str> = (self.strategies.iter())
                    .filter(|e| e.name == name)
                    .map(StrategyEntry::id)
                    .collect();
                let message = if !labelled.is_empty() {
                    format!(
                        "strategy `{name}` names no entry: its entries are labelled (select by \
                         label): {}",
                        labelled.join(", ")
                    )
                } else {
                    let what = if is_known(name) || external::is_external(name) {
                        "is not defined in the scenario"
                    } else {
                        "is not a strategy (see `list`) and not defined in the scenario"
                    };
                    let defined: Vec<&str> =
                        self.strategies.iter().map(StrategyEntry::id).collect();
                    format!(
                        "strategy `{name}` {what}; its entries are: {}",
                        defined.join(", ")
                    )
                };
                return Err(ScenarioError::Invalid {
                    path: self.path.display().to_string(),
                    message,
                });
            };
            if kept.iter().any(|k: &StrategyEntry| k.id() == name) {
                continue;
            }
            kept.push(entry.clone());
        }
        if kept.is_empty() {
            return Err(ScenarioError::Invalid {
                path: self.path.display().to_string(),
                message: "--strategies names no strategy".into(),
            });
        }
        self.strategies = kept;
        Ok(())
    }
}

/// The directory holding the bundled scenarios.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// The first `[[strategy]]` parameter (a [`strategy::StrategyParams`] key such as
/// `fault_vfs`) whose value does not parse, as `(strategy[i].key, message)`.
fn bad_strategy_param(text: &str) -> Option<(String, String)> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let entries = table.get("strategy")?.as_array()?;
    for (i, entry) in entries.iter().enumerate() {
        for (key, value) in entry.as_table()? {
            let mut one = toml::Table::new();
            one.insert(key.clone(), value.clone());
            match one.try_into::<crate::strategy::StrategyParams>() {
                Err(e) if !e.to_string().contains("unknown field") => {
                    let message = e.to_string();
                    let first = message.lines().next().unwrap_or("").to_string();
                    return Some((format!("strategy[{i}].{key}"), first));
                }
                _ => {}
            }
        }
    }
    None
}

/// `key` with its `strategy[i]` prefix (an index among the expanded entries) renamed to the
/// entry of the file that entry comes from (`origins[i]`).
fn written_index(key: &str, origins: &[usize]) -> String {
    let Some(rest) = key.strip_prefix("strategy[") else {
        return key.to_string();
    };
    let Some((n, tail)) = rest.split_once(']') else {
        return key.to_string();
    };
    match n.parse::<usize>().ok().and_then(|i| origins.get(i)) {
        Some(o) => format!("strategy[{o}]{tail}"),
        None => key.to_string(),
    }
}

/// An entry that did not run, and why (one line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub strategy: String,
    pub why: String,
}

/// Bundled scenario names and their descriptions, sorted.
pub fn bundled() -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(scenarios_dir()) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let description = read_limited(&path)
                .ok()
                .and_then(|t| Scenario::parse(&t, &path).ok())
                .map(|s| s.description)
                .unwrap_or_else(|| "(does not parse)".into());
            out.push((name, description));
        }
    }
    out.sort();
    out
}

/// The text of `path`: a regular file of at most [`MAX_FILE_BYTES`] (a FIFO is refused before
/// it is opened, `/dev/zero` before it is read).
fn read_limited(path: &Path) -> Result<String, ScenarioError> {
    use crate::textfile::TextFileError;
    let shown = path.display().to_string();
    crate::textfile::read(path, MAX_FILE_BYTES).map_err(|e| match e {
        TextFileError::TooLarge(_) => ScenarioError::TooLarge { path: shown },
        TextFileError::Io(message) => ScenarioError::Read {
            path: shown,
            message,
        },
        e => ScenarioError::Read {
            path: shown,
            message: e.to_string(),
        },
    })
}

fn resolve(name_or_path: &str) -> Result<PathBuf, ScenarioError> {
    let as_path = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || name_or_path.contains('/') {
        if as_path.exists() {
            return Ok(as_path.to_path_buf());
        }
        return Err(ScenarioError::Read {
            path: name_or_path.to_string(),
            message: "no such file".into(),
        });
    }
    let bundled = scenarios_dir().join(format!("{name_or_path}.toml"));
    if bundled.exists() {
        return Ok(bundled);
    }
    Err(ScenarioError::Unknown(name_or_path.to_string()))
}
