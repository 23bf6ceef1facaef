//! Scenario files: what a run does, as TOML, validated with errors that name file, line and key.
//!
//! A scenario says how the source looks and is written to, what destinations the strategies
//! back up into, which strategies run with which parameters and expectations, which faults are
//! injected, and how many iterations run. See `scenarios/wal-storm.toml` for a commented example.

use crate::strategy::{self, external, is_known};
use crate::workload::WorkloadSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod keys;
mod locate;
mod sections;
#[cfg(test)]
mod tests;

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
        scenario.strategies = expand_matrices(
            std::mem::take(&mut scenario.strategies),
            &scenario.checkpointer,
        );
        scenario
            .validate(text)
            .and_then(|()| keys::check_mode_keys(text, scenario.mode))
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

    /// Range checks. Errors are `(key, message)`. The limits are documented in
    /// `scenarios/wal-storm.toml`.
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
                "source.page_size",
                format!(
                    "{} is not a power of two in 512..=65536",
                    self.source.page_size
                ),
            );
        }
        if self.source.pages == 0 || self.source.pages > 1_000_000 {
            return bad(
                "source.pages",
                format!("{} is out of range 1..=1000000", self.source.pages),
            );
        }
        let source_bytes = u64::from(self.source.pages) * u64::from(self.source.page_size);
        if source_bytes > MAX_SOURCE_BYTES {
            return bad(
                "source.pages",
                format!(
                    "{} pages of {} bytes is {:.1} GiB; pages × page_size must be at most 4 GiB",
                    self.source.pages,
                    self.source.page_size,
                    source_bytes as f64 / (1u64 << 30) as f64
                ),
            );
        }
        if self.workload.warmup_commits > MAX_WARMUP_COMMITS {
            return bad(
                "workload.warmup_commits",
                format!(
                    "{} is out of range 0..={MAX_WARMUP_COMMITS}",
                    self.workload.warmup_commits
                ),
            );
        }
        for p in &self.workload.ignore_tables {
            let glob = match glob::Pattern::new(p) {
                Ok(g) => g,
                Err(e) => {
                    return bad(
                        "workload.ignore_tables",
                        format!("`{p}` is not a glob: {e}"),
                    )
                }
            };
            // The workload's own tables are what the model describes: left out of the
            // destination's digest but not the model's, every verdict would be torn.
            let own = ["meta"]
                .iter()
                .chain(crate::workload::ops::BASE_TABLES.iter())
                .chain(crate::workload::ops::EXTRA_TABLES.iter())
                .find(|t| glob.matches(t));
            if let Some(t) = own {
                return bad(
                    "workload.ignore_tables",
                    format!("`{p}` matches the workload's own table `{t}`"),
                );
            }
        }
        if self.app.workers > 0 && self.app.invariants.is_empty() {
            return bad(
                "app.invariants",
                "an app with workers needs at least one invariant (its tables are left out of the digest: without invariants nothing judges them)".into(),
            );
        }
        if self.app.stage_ms > MAX_DELAY_MS {
            return bad(
                "app.stage_ms",
                format!("{} is out of range 0..={MAX_DELAY_MS}", self.app.stage_ms),
            );
        }
        if !(self.app.rate >= 0.0 && self.app.rate.is_finite()) {
            return bad(
                "app.rate",
                format!("{} is out of range: a finite number >= 0", self.app.rate),
            );
        }
        if self.app.workers > 64 {
            return bad(
                "app.workers",
                format!("{} is out of range 0..=64", self.app.workers),
            );
        }
        if self.checkpointer.interval_ms == 0 {
            return bad(
                "checkpointer.interval_ms",
                "0 is out of range: at least 1 (disable the checkpointer with `enabled = false`)"
                    .into(),
            );
        }
        if self.faults.delay_max_ms > MAX_DELAY_MS {
            return bad(
                "faults.delay_max_ms",
                format!(
                    "{} is out of range 0..={MAX_DELAY_MS}",
                    self.faults.delay_max_ms
                ),
            );
        }
        if self.workload.writers > 16 {
            return bad(
                "workload.writers",
                format!("{} is out of range 0..=16", self.workload.writers),
            );
        }
        if !(self.workload.rate >= 0.0 && self.workload.rate.is_finite()) {
            return bad(
                "workload.rate",
                format!("{} must be >= 0 (0 = max)", self.workload.rate),
            );
        }
        if self.workload.ops_min == 0 || self.workload.ops_min > self.workload.ops_max {
            return bad(
                "workload.ops_min",
                format!(
                    "ops_min {} must be >= 1 and <= ops_max {}",
                    self.workload.ops_min, self.workload.ops_max
                ),
            );
        }
        let frac_ok = |f: f64| (0.0..=1.0).contains(&f);
        if !frac_ok(self.faults.complete_fraction) {
            return bad(
                "faults.complete_fraction",
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
            return bad(
                "destination.kinds",
                "destination kinds must not be empty".into(),
            );
        }
        if self.strategies.is_empty() {
            return bad("strategy", "the scenario names no [[strategy]]".into());
        }
        if self.crash.destinations.is_empty() {
            return bad(
                "crash.destinations",
                "[crash] destinations must not be empty".into(),
            );
        }
        if self.crash.kinds.is_empty() {
            return bad("crash.kinds", "[crash] kinds must not be empty".into());
        }
        if !(1..=16).contains(&self.crash.kill_parallel) {
            return bad(
                "crash.kill_parallel",
                format!("{} is out of range 1..=16", self.crash.kill_parallel),
            );
        }
        if self.fuzz.cases == 0 || self.fuzz.cases > 1_000_000 {
            return bad(
                "fuzz.cases",
                format!("{} is out of range 1..=1000000", self.fuzz.cases),
            );
        }
        if self.fuzz.max_faults == 0 || self.fuzz.max_faults > 16 {
            return bad(
                "fuzz.max_faults",
                format!("{} is out of range 1..=16", self.fuzz.max_faults),
            );
        }
        if !frac_ok(self.faults.min_fault_hit) {
            return bad(
                "faults.min_fault_hit",
                format!("{} is out of range 0..=1", self.faults.min_fault_hit),
            );
        }
        if let Err(m) = check_destination_keys(&self.destination.keys) {
            return bad(&format!("destination.{}", m.0), m.1);
        }
        if !self.checkpointer.modes.is_empty() && text_sets(_text, "checkpointer", "truncate_every")
        {
            return bad(
                "checkpointer.truncate_every",
                "give either `modes` or `truncate_every`, not both".into(),
            );
        }
        for (i, id) in self.known.iter().enumerate() {
            let ok = matches!(
                (crate::replay_id::ReplayId::parse(id), self.mode),
                (Some(crate::replay_id::ReplayId::Storm { .. }), Mode::Storm)
                    | (
                        Some(crate::replay_id::ReplayId::Crash { .. }),
                        Mode::CrashPoints
                    )
                    | (Some(crate::replay_id::ReplayId::Fuzz { .. }), Mode::Fuzz)
            );
            if !ok {
                return bad(
                    &format!("known[{i}]"),
                    format!("`{id}` is not a replay ID of this scenario's mode"),
                );
            }
        }
        if self.fuzz.pages_min < 2 || self.fuzz.pages_min > self.fuzz.pages_max {
            return bad(
                "fuzz.pages_min",
                format!(
                    "pages_min {} must be >= 2 and <= pages_max {}",
                    self.fuzz.pages_min, self.fuzz.pages_max
                ),
            );
        }
        for (i, s) in self.strategies.iter().enumerate() {
            if !is_known(&s.name) {
                let hint = if s.name.starts_with(external::PREFIX) {
                    "; an external label is letters, digits, `.`, `_`, `-`"
                } else {
                    ""
                };
                return bad(
                    &format!("strategy[{i}].name"),
                    format!(
                        "unknown strategy `{}` (see `list` for the strategies{hint})",
                        s.name
                    ),
                );
            }
            if external::is_external(&s.name) {
                if let Err(e) = external::validate(&s.name, &s.params) {
                    return bad(&format!("strategy[{i}].command"), e.to_string());
                }
            } else if !s.params.command.is_empty() {
                return bad(
                    &format!("strategy[{i}].command"),
                    format!(
                        "{}: `command` applies to external:<label> strategies only",
                        s.name
                    ),
                );
            }
            if s.params.npage == 0 || s.params.npage < -1 {
                return bad(
                    &format!("strategy[{i}].npage"),
                    format!("{}: npage {} must be -1 or >= 1", s.name, s.params.npage),
                );
            }
            if let Some(ms) = s.delay_max_ms.filter(|&ms| ms > MAX_DELAY_MS) {
                return bad(
                    &format!("strategy[{i}].delay_max_ms"),
                    format!("{}: {ms} is out of range 0..={MAX_DELAY_MS}", s.id()),
                );
            }
            if let Some(f) = s.complete_fraction {
                if !frac_ok(f) {
                    return bad(
                        &format!("strategy[{i}].complete_fraction"),
                        format!("{}: {} is out of range 0..=1", s.name, f),
                    );
                }
            }
            if matches!(&s.destinations, Some(d) if d.is_empty()) {
                return bad(
                    &format!("strategy[{i}].destinations"),
                    format!("{}: must not be empty", s.name),
                );
            }
            if let Some(label) = &s.label {
                if !valid_label(label) {
                    return bad(
                        &format!("strategy[{i}].label"),
                        format!(
                            "{}: label `{label}` must be letters, digits, `.`, `_`, `-`",
                            s.name
                        ),
                    );
                }
                if label != &s.name && is_known(label) {
                    return bad(
                        &format!("strategy[{i}].label"),
                        format!("{}: label `{label}` is another strategy's name", s.name),
                    );
                }
            }
            if let Some(j) = self.strategies[..i].iter().position(|o| o.id() == s.id()) {
                return bad(
                    &format!("strategy[{i}].label"),
                    format!(
                        "strategy[{j}] and strategy[{i}] are both `{}`: give each a distinct `label`",
                        s.id()
                    ),
                );
            }
            if let Some(keys) = &s.destination {
                if let Err(m) = check_destination_keys(keys) {
                    return bad(&format!("strategy[{i}].destination.{}", m.0), m.1);
                }
            }
            let facts = strategy::facts(&s.name).expect("known strategy");
            if self.mode == Mode::Storm {
                let kinds = s.faults.as_deref().unwrap_or(&self.faults.kinds);
                for kind in kinds {
                    if let Err(why) = kind.check(&facts) {
                        return match s.faults {
                            Some(_) => bad(
                                &format!("strategy[{i}].faults"),
                                format!("{}: {why}", s.id()),
                            ),
                            None => bad(
                                "faults.kinds",
                                format!(
                                    "{} (strategy[{i}]): {why}; give the entry its own `faults`",
                                    s.id()
                                ),
                            ),
                        };
                    }
                }
                let keys = self.destination.keys.merged(s.destination.as_ref());
                if !facts.dest_pragmas
                    && (keys.journal_mode.is_some() || keys.synchronous.is_some())
                {
                    return bad(
                        &format!("strategy[{i}].destination"),
                        format!(
                            "{}: this strategy does not open the destination connection itself, \
                             so destination `journal_mode` and `synchronous` cannot be applied to it",
                            s.id()
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Fills each entry's destination connection pragmas from the destination keys (the
    /// strategy's own `dest_synchronous` / `dest_journal_mode` win).
    fn resolve(&mut self) {
        for s in &mut self.strategies {
            let keys = self.destination.keys.merged(s.destination.as_ref());
            s.params.dest_synchronous = s.params.dest_synchronous.or(keys.synchronous);
            s.params.dest_journal_mode = s.params.dest_journal_mode.or(keys.journal_mode);
        }
    }

    /// Keeps only the named strategies (comma list); an unknown name is an error.
    pub fn select_strategies(&mut self, names: &str) -> Result<(), ScenarioError> {
        let mut kept = Vec::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_known(name) && self.strategy(name).is_none() {
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
            if kept.iter().any(|k: &StrategyEntry| k.id() == name) {
                continue;
            }
            match self.strategy(name) {
                Some(entry) => kept.push(entry.clone()),
                None => kept.push(StrategyEntry::any(name)),
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

/// Whether `label` is letters, digits, `.`, `_`, `-` (no `:`, which separates replay-ID parts).
fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Range checks of destination keys: `Err((key, message))`.
fn check_destination_keys(keys: &DestinationKeys) -> Result<(), (String, String)> {
    if let Some(ps) = keys.page_size {
        if !(512..=65536).contains(&ps) || !ps.is_power_of_two() {
            return Err((
                "page_size".into(),
                format!("{ps} is not a power of two in 512..=65536"),
            ));
        }
    }
    if let Some(i) = keys.setup_sql.iter().position(|q| q.trim().is_empty()) {
        return Err((format!("setup_sql[{i}]"), "an empty statement".into()));
    }
    Ok(())
}

/// Whether `[section]` of `text` sets `key` (for keys whose default cannot tell).
fn text_sets(text: &str, section: &str, key: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|t| t.get(section)?.as_table()?.get(key).cloned())
        .is_some()
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

/// The text of `path`, refused when it has more than [`MAX_FILE_BYTES`] bytes (read no further:
/// `/dev/zero` is refused too).
fn read_limited(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let read_err = |e: std::io::Error| ScenarioError::Read {
        path: shown.clone(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    if file.metadata().map_err(read_err)?.len() > MAX_FILE_BYTES {
        return Err(ScenarioError::TooLarge { path: shown });
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ScenarioError::TooLarge { path: shown });
    }
    String::from_utf8(bytes).map_err(|_| ScenarioError::Read {
        path: shown.clone(),
        message: "not UTF-8 text".into(),
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
