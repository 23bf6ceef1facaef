//! Scenario files: what a run does, as TOML, validated with errors that name file, line and key.
//!
//! A scenario says how the source looks and is written to, what destinations the strategies
//! back up into, which strategies run with which parameters and expectations, which faults are
//! injected, and how many iterations run. See `scenarios/wal-storm.toml` for a commented example.

use crate::strategy::{external, is_known, StrategyParams};
use crate::workload::WorkloadSpec;
use crate::workload::{DestJournal, DestinationKind};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
}

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
    #[serde(rename = "strategy", default)]
    pub strategies: Vec<StrategyEntry>,
    /// `storm` (default), `crash-points` or `fuzz`.
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub crash: CrashSection,
    #[serde(default)]
    pub fuzz: FuzzSection,
    /// Where the scenario was loaded from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
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
        }
    }

    pub fn strategy(&self, name: &str) -> Option<&StrategyEntry> {
        self.strategies.iter().find(|s| s.name == name)
    }

    /// Parses and validates scenario text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            let (line, key) = locate(text, e.span());
            ScenarioError::Parse {
                path: shown.clone(),
                line,
                key,
                message: e.message().lines().next().unwrap_or("").to_string(),
            }
        })?;
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
        }
        scenario.path = path.to_path_buf();
        scenario.validate(text).map_err(|(key, message)| {
            let line = key_line(text, &key);
            ScenarioError::Parse {
                path: shown.clone(),
                line,
                key,
                message,
            }
        })?;
        Ok(scenario)
    }

    /// Loads `name_or_path`: a path to a TOML file, or a name under `scenarios/`.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        let path = resolve(name_or_path)?;
        let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Scenario::parse(&text, &path)
    }

    /// Range checks. Errors are `(key, message)`.
    fn validate(&self, _text: &str) -> Result<(), (String, String)> {
        let bad = |key: &str, msg: String| Err((key.to_string(), msg));
        if self.iterations == 0 || self.iterations > 100_000 {
            return bad(
                "iterations",
                format!("{} is out of range 1..=100000", self.iterations),
            );
        }
        if !(512..=65536).contains(&self.source.page_size)
            || !self.source.page_size.is_power_of_two()
        {
            return bad(
                "page_size",
                format!(
                    "{} is not a power of two in 512..=65536",
                    self.source.page_size
                ),
            );
        }
        if self.source.pages == 0 || self.source.pages > 1_000_000 {
            return bad(
                "pages",
                format!("{} is out of range 1..=1000000", self.source.pages),
            );
        }
        if self.workload.writers > 16 {
            return bad(
                "writers",
                format!("{} is out of range 0..=16", self.workload.writers),
            );
        }
        if !(self.workload.rate >= 0.0 && self.workload.rate.is_finite()) {
            return bad(
                "rate",
                format!("{} must be >= 0 (0 = max)", self.workload.rate),
            );
        }
        if self.workload.ops_min == 0 || self.workload.ops_min > self.workload.ops_max {
            return bad(
                "ops_min",
                format!(
                    "ops_min {} must be >= 1 and <= ops_max {}",
                    self.workload.ops_min, self.workload.ops_max
                ),
            );
        }
        let frac_ok = |f: f64| (0.0..=1.0).contains(&f);
        if !frac_ok(self.faults.complete_fraction) {
            return bad(
                "complete_fraction",
                format!("{} is out of range 0..=1", self.faults.complete_fraction),
            );
        }
        if self.watchdog_ms < 100 || self.budget_ms < 100 {
            return bad(
                "watchdog_ms",
                "watchdog_ms and budget_ms must be at least 100".into(),
            );
        }
        if self.destination.kinds.is_empty() {
            return bad("kinds", "destination kinds must not be empty".into());
        }
        if self.strategies.is_empty() {
            return bad("strategy", "the scenario names no [[strategy]]".into());
        }
        if self.crash.destinations.is_empty() {
            return bad(
                "destinations",
                "[crash] destinations must not be empty".into(),
            );
        }
        if self.crash.kinds.is_empty() {
            return bad("kinds", "[crash] kinds must not be empty".into());
        }
        if !(1..=16).contains(&self.crash.kill_parallel) {
            return bad(
                "kill_parallel",
                format!("{} is out of range 1..=16", self.crash.kill_parallel),
            );
        }
        if self.fuzz.cases == 0 || self.fuzz.cases > 1_000_000 {
            return bad(
                "cases",
                format!("{} is out of range 1..=1000000", self.fuzz.cases),
            );
        }
        if self.fuzz.max_faults == 0 || self.fuzz.max_faults > 16 {
            return bad(
                "max_faults",
                format!("{} is out of range 1..=16", self.fuzz.max_faults),
            );
        }
        if self.fuzz.pages_min < 2 || self.fuzz.pages_min > self.fuzz.pages_max {
            return bad(
                "pages_min",
                format!(
                    "pages_min {} must be >= 2 and <= pages_max {}",
                    self.fuzz.pages_min, self.fuzz.pages_max
                ),
            );
        }
        for s in &self.strategies {
            if !is_known(&s.name) {
                let hint = if s.name.starts_with(external::PREFIX) {
                    "; an external label is letters, digits, `.`, `_`, `-`"
                } else {
                    ""
                };
                return bad(
                    "name",
                    format!(
                        "unknown strategy `{}` (see `list` for the strategies{hint})",
                        s.name
                    ),
                );
            }
            if external::is_external(&s.name) {
                if let Err(e) = external::validate(&s.name, &s.params) {
                    return bad("command", e.to_string());
                }
            } else if !s.params.command.is_empty() {
                return bad(
                    "command",
                    format!(
                        "{}: `command` applies to external:<label> strategies only",
                        s.name
                    ),
                );
            }
            if s.params.npage == 0 || s.params.npage < -1 {
                return bad(
                    "npage",
                    format!("{}: npage {} must be -1 or >= 1", s.name, s.params.npage),
                );
            }
            if let Some(f) = s.complete_fraction {
                if !frac_ok(f) {
                    return bad(
                        "complete_fraction",
                        format!("{}: {} is out of range 0..=1", s.name, f),
                    );
                }
            }
            if matches!(&s.destinations, Some(d) if d.is_empty()) {
                return bad("destinations", format!("{}: must not be empty", s.name));
            }
        }
        Ok(())
    }

    /// Keeps only the named strategies (comma list); an unknown name is an error.
    pub fn select_strategies(&mut self, names: &str) -> Result<(), ScenarioError> {
        let mut kept = Vec::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_known(name) {
                return Err(ScenarioError::Invalid {
                    path: self.path.display().to_string(),
                    message: format!("unknown strategy `{name}` (see `list` for the strategies)"),
                });
            }
            if external::is_external(name) && self.strategy(name).is_none() {
                return Err(ScenarioError::Invalid {
                    path: self.path.display().to_string(),
                    message: format!(
                        "strategy `{name}` is not defined in the scenario (an external strategy \
                         needs a [[strategy]] entry with its `command`)"
                    ),
                });
            }
            match self.strategy(name) {
                Some(entry) => kept.push(entry.clone()),
                None => kept.push(StrategyEntry {
                    name: name.to_string(),
                    expect: Expect::Any,
                    faults: None,
                    destinations: None,
                    complete_fraction: None,
                    params: StrategyParams::default(),
                }),
            }
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
            let description = std::fs::read_to_string(&path)
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

/// 1-based line of a byte offset, and the key written on that line (with its table prefix).
fn locate(text: &str, span: Option<std::ops::Range<usize>>) -> (usize, String) {
    let Some(span) = span else {
        return (1, "?".into());
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let spanned = text.get(span.clone()).unwrap_or("").trim();
    let key = if let Some((k, _)) = line_text.split_once('=') {
        k.trim().trim_matches('"').to_string()
    } else if !spanned.is_empty() && !spanned.contains('\n') {
        spanned.trim_matches(|c| c == '[' || c == ']').to_string()
    } else {
        line_text.trim().to_string()
    };
    let table = table_at(text, line);
    let key = match table {
        Some(t) if !key.starts_with('[') && t != key => format!("{t}.{key}"),
        _ => key,
    };
    (line, key)
}

/// The `[table]` or `[[table]]` header in force at `line` (1-based).
fn table_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            l.starts_with('[')
                .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        })
        .last()
}

/// The first line assigning `key` (or 1), for validation errors.
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches('"') == key)
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, Path::new("scenarios/t.toml"))
    }

    const MINIMAL: &str = "seed = 3\n[[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n";

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.name, "t");
        assert_eq!(s.seed, 3);
        assert_eq!(s.iterations, 10);
        assert_eq!(s.strategies[0].params.npage, 100);
        assert_eq!(s.workload_spec().seed, 3);
    }

    #[test]
    fn type_error_names_file_line_and_key() {
        let err = parse("seed = 1\n[workload]\nwriters = \"two\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("scenarios/t.toml:3: key `workload.writers`:"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("seed = 1\n[source]\npagez = 5\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("scenarios/t.toml:3: key `source.pagez`"),
            "{err}"
        );
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = parse("seed = 1\niterations = = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("scenarios/t.toml:2:"), "{err}");
    }

    #[test]
    fn out_of_range_value_is_named() {
        let err = parse(&format!("iterations = 0\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key `iterations`") && err.contains("out of range"),
            "{err}"
        );
        let err = parse(&format!("{MINIMAL}npage = -5\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("key `npage`"), "{err}");
    }

    #[test]
    fn unknown_strategy_points_to_list() {
        let err = parse("[[strategy]]\nname = \"nope\"\nexpect = \"safe\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown strategy `nope`") && err.contains("`list`"),
            "{err}"
        );
    }

    #[test]
    fn select_strategies_filters_and_rejects_unknown() {
        let mut s = parse(MINIMAL).unwrap();
        s.select_strategies("api-oneshot,copy-naive").unwrap();
        assert_eq!(s.strategies.len(), 2);
        assert_eq!(s.strategies[1].expect, Expect::Any);
        assert!(s.select_strategies("bogus").is_err());
    }

    #[test]
    fn external_entries_need_a_command_with_dst() {
        let ext = "[[strategy]]\nname = \"external:py\"\nexpect = \"safe\"\n";
        let err = parse(ext).unwrap_err().to_string();
        assert!(
            err.contains("key `command`") && err.contains("external:py") && !err.contains('\n'),
            "{err}"
        );
        let err = parse(&format!("{ext}command = [\"cp\", \"{{src}}\", \"/x\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key `command`") && err.contains("{dst}"),
            "{err}"
        );
        let mut s = parse(&format!(
            "{ext}command = [\"cp\", \"{{src}}\", \"{{dst}}\"]\n"
        ))
        .unwrap();
        assert_eq!(s.strategies[0].params.command[2], "{dst}");
        let err = parse(&format!("{MINIMAL}command = [\"cp\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("external:<label> strategies only"), "{err}");
        assert!(s.select_strategies("external:other").is_err());
        s.select_strategies("external:py,api-step").unwrap();
        assert_eq!(s.strategies.len(), 2);
    }

    #[test]
    fn bundled_scenarios_parse() {
        for (name, _) in bundled() {
            Scenario::load(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
