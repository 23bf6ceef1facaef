//! Reports: what a run found, per strategy, with a replay command for every violation.
//!
//! [`Report`] is the JSON contract of DESIGN.md (plus more fields); [`markdown`] renders it for
//! people and [`table`] for the terminal.

pub mod known;
pub mod markdown;
pub mod table;

use crate::oracle::VerdictKind;
use crate::process::StopSignal;
use crate::run::iteration::CheckpointCount;
use crate::run::{IterationResult, RunResult};
use crate::scenario::{Expect, Scenario, StrategyEntry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One violation, with the command that replays it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViolationRef {
    pub kind: VerdictKind,
    pub iteration: u32,
    pub replay: String,
    /// The planned fault.
    pub fault: String,
    /// What fired (empty: nothing did, the violation came without a fault).
    #[serde(default)]
    pub fired: Vec<String>,
    /// A known finding of the scenario (documented behaviour; does not fail the strategy).
    #[serde(default)]
    pub known: bool,
    pub destination: String,
    pub deterministic: bool,
    pub detail: String,
}

/// What a strategy's row means, judged against its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// `safe`, no violation, and really tested.
    Ok,
    /// `safe`, and a violation showed.
    Violated,
    /// `safe` and no violation, but not really tested: a planned fault kind fired in fewer
    /// than `min_fault_hit` of its iterations, or no iteration ended in a snapshot.
    Untested,
    /// `unsafe` (a negative control), and a violation showed.
    Caught,
    /// `unsafe`, and no violation showed: the harness is broken.
    NotCaught,
    /// `any`: reported, not judged.
    Reported,
    /// A known finding of this strategy was run and did not reproduce: the answer changed.
    KnownMissing,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Violated => "VIOLATED",
            Outcome::Untested => "UNTESTED",
            Outcome::Caught => "ok (caught)",
            Outcome::NotCaught => "NOT CAUGHT",
            Outcome::Reported => "reported",
            Outcome::KnownMissing => "KNOWN FINDING LOST",
        }
    }

    /// Whether this outcome meets the expectation.
    pub fn is_met(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Caught | Outcome::Reported)
    }

    /// Judges a strategy: `violations` seen (known findings excluded for `safe`), `untested`
    /// reasons (empty: really tested), known findings that did not reproduce.
    pub fn judge(
        expect: Expect,
        violations: usize,
        untested: &[String],
        known_missing: &[String],
    ) -> Outcome {
        match expect {
            Expect::Any => Outcome::Reported,
            _ if !known_missing.is_empty() => Outcome::KnownMissing,
            Expect::Unsafe if violations > 0 => Outcome::Caught,
            Expect::Unsafe => Outcome::NotCaught,
            Expect::Safe if violations > 0 => Outcome::Violated,
            Expect::Safe if !untested.is_empty() => Outcome::Untested,
            Expect::Safe => Outcome::Ok,
        }
    }
}

/// Why a strategy's results tested nothing worth trusting: each planned fault kind that fired
/// in fewer than `min_fault_hit` of its iterations, and "no snapshot" when no iteration ended
/// in an allowed success.
pub fn untested_reasons(
    planned: &BTreeMap<String, u64>,
    hit: &BTreeMap<String, u64>,
    stalled: &BTreeMap<String, u64>,
    snapshots: u64,
    min_fault_hit: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, &p) in planned {
        let h = hit.get(kind).copied().unwrap_or(0);
        // An iteration whose backup stalled (livelock: allowed, reported) before its fault
        // could fire tested the stall, not the fault: it is left out of the hit rate, and a
        // kind whose every iteration stalled is untested.
        let st = stalled.get(kind).copied().unwrap_or(0);
        let reachable = p.saturating_sub(st);
        if p > 0 && reachable == 0 {
            out.push(format!(
                "{kind}: every one of its {p} iterations stalled before it could fire"
            ));
        } else if p > 0 && (h as f64) < min_fault_hit * reachable as f64 {
            out.push(format!(
                "{kind} fired in {h} of {reachable} iterations (min_fault_hit {min_fault_hit}{})",
                if st > 0 {
                    format!("; {st} more stalled first")
                } else {
                    String::new()
                }
            ));
        }
    }
    if snapshots == 0 {
        out.push("no iteration ended in a snapshot (only errors, stalls or untouched)".into());
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyReport {
    /// The entry's id: its label, else the strategy name.
    pub name: String,
    /// The strategy the entry runs.
    pub strategy: String,
    /// The matrix cell of an expanded entry (`journal=off,sync=full`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub expect: Expect,
    pub iterations: u64,
    /// Every verdict kind, zero counts included.
    pub verdicts: BTreeMap<String, u64>,
    /// Faults that actually happened, by kind ("kill", "ioerr").
    pub faults_hit: BTreeMap<String, u64>,
    /// Faults that were planned, by kind; planned but not hit tested nothing.
    pub faults_planned: BTreeMap<String, u64>,
    /// Planned faults whose iteration stalled before they could fire, by kind.
    #[serde(default)]
    pub faults_stalled: BTreeMap<String, u64>,
    pub violations: Vec<ViolationRef>,
    /// Largest and median `k_end - k` over snapshot verdicts.
    pub lag_max: Option<u64>,
    pub lag_median: Option<u64>,
    pub restarts_max: u64,
    /// Restarts over all iterations.
    pub restarts_total: u64,
    /// Untouched destinations whose bytes are (and are not) the pre-image's: logically
    /// untouched is the verdict; byte for byte is reported next to it.
    pub untouched_same_bytes: u64,
    pub untouched_other_bytes: u64,
    pub backup_ms_median: u64,
    /// Checkpoints that ran while the backups ran, by mode, over all iterations.
    pub checkpoints: BTreeMap<String, CheckpointCount>,
    /// What the backups did to the destination file: `journal/page size before ->
    /// journal/page size after` (header journal, `none` for no file), with counts.
    pub dest_transitions: BTreeMap<String, u64>,
    /// The result against `expect`.
    pub result: Outcome,
    /// Why the result is `untested` (also listed for other expectations, for information).
    pub untested_because: Vec<String>,
    /// The scenario's known findings of this strategy that showed again, and those that were
    /// run and did not.
    pub known_reproduced: Vec<String>,
    pub known_missing: Vec<String>,
    /// Whether the verdicts match `expect` (`result` is ok, caught or reported).
    pub expectation_met: bool,
    /// Entries with `recover = true`: next backups onto the same destination that claimed
    /// success with a snapshot, and those that did not (each with its replay ID). A failed
    /// recovery fails a `safe` entry.
    #[serde(default)]
    pub recovered: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_failed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub sqlite_version: String,
    pub duration_s: f64,
    /// Commits acknowledged on the sources while backups ran.
    pub source_commits: u64,
    /// Writer commits per second while backups ran.
    pub commits_per_s: f64,
    /// Writer commits per second with no backup running.
    pub standalone_commits_per_s: f64,
    pub strategies: Vec<StrategyReport>,
    /// Known findings of the scenario that were never checked (their iteration did not run).
    pub known_unchecked: Vec<String>,
    pub expectations_met: bool,
    pub interrupted: bool,
    /// The signal that stopped the run, when `interrupted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<StopSignal>,
    pub error: Option<String>,
    /// Every iteration, in run order.
    pub results: Vec<IterationResult>,
}

impl Report {
    pub fn build(run: &RunResult) -> Report {
        let strategies: Vec<StrategyReport> = run
            .scenario
            .strategies
            .iter()
            .map(|entry| {
                let rs: Vec<&IterationResult> = run
                    .results
                    .iter()
                    .filter(|r| r.strategy == entry.id())
                    .collect();
                summarize(&run.scenario, entry, &rs)
            })
            .collect();
        let ids: Vec<&str> = run.scenario.strategies.iter().map(|e| e.id()).collect();
        let accounted: Vec<&String> = strategies
            .iter()
            .flat_map(|s| s.known_reproduced.iter().chain(&s.known_missing))
            .collect();
        let known_unchecked =
            known::unchecked(&run.scenario.known, run.scenario.seed, &ids, &accounted);
        let expectations_met =
            strategies.iter().all(|s| s.expectation_met) && known_unchecked.is_empty();
        Report {
            scenario: run.scenario.name.clone(),
            seed: run.scenario.seed,
            sqlite_version: run.sqlite_version.clone(),
            duration_s: (run.duration_s * 10.0).round() / 10.0,
            source_commits: run.source_commits(),
            commits_per_s: run.commits_per_s().round(),
            standalone_commits_per_s: run.standalone_commits_per_s.round(),
            strategies,
            known_unchecked,
            expectations_met,
            interrupted: run.interrupted.is_some(),
            interrupted_by: run.interrupted,
            error: run.error.clone(),
            results: run.results.clone(),
        }
    }
}

impl RunReport for Report {
    fn scenario(&self) -> &str {
        &self.scenario
    }
    fn markdown(&self) -> String {
        markdown::render(self)
    }
}

/// What every mode's report (storm, crash-points, fuzz) gives the one writer.
pub trait RunReport: Serialize {
    /// The scenario's name: the report directory is `<scenario>-<timestamp>`.
    fn scenario(&self) -> &str;
    /// The report for people.
    fn markdown(&self) -> String;
}

/// The one report writer: `<base>/<scenario>-<UTC timestamp>/report.json` and `report.md`,
/// and the JSON again at `json` when given. Returns the directory's `report.json`.
pub fn write_report(
    report: &impl RunReport,
    base: &Path,
    json: Option<&Path>,
) -> std::io::Result<PathBuf> {
    let text = serde_json::to_string_pretty(report).expect("report serializes") + "\n";
    let dir = run_dir(base, report.scenario());
    std::fs::create_dir_all(&dir)?;
    let written = dir.join("report.json");
    std::fs::write(&written, &text)?;
    std::fs::write(dir.join("report.md"), report.markdown())?;
    if let Some(path) = json {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, &text)?;
    }
    Ok(written)
}

/// Why an output path given on the command line cannot be written. One line, naming the flag.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {}: {why}", path.display())]
pub struct OutputPathError {
    pub flag: String,
    pub path: PathBuf,
    pub why: String,
}

/// Checks, before a run, that its results can be written to the file `path` (given with
/// `flag`), so a long run's results are never lost to a bad path: creates the parent
/// directory, refuses a directory and a file that cannot be opened for writing, and for a new
/// file creates (and removes) a temp file beside it. Leaves nothing behind but the directory.
pub fn check_output_file(flag: &str, path: &Path) -> Result<(), OutputPathError> {
    let fail = |why: String| OutputPathError {
        flag: flag.into(),
        path: path.to_path_buf(),
        why,
    };
    if path.as_os_str().is_empty() {
        return Err(fail("an empty path".into()));
    }
    if path.is_dir() {
        return Err(fail("is a directory".into()));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    check_output_dir(flag, parent).map_err(|e| fail(e.why))?;
    if path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| fail(format!("cannot write: {e}")))?;
    }
    Ok(())
}

/// Checks, before a run, that a directory it writes into (given with `flag`) can be written:
/// creates it, then creates (and removes) a temp file in it.
pub fn check_output_dir(flag: &str, dir: &Path) -> Result<(), OutputPathError> {
    let fail = |why: String| OutputPathError {
        flag: flag.into(),
        path: dir.to_path_buf(),
        why,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the directory: {e}")))?;
    tempfile::Builder::new()
        .prefix(".harness-write-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| fail(format!("cannot write in the directory: {e}")))
}

/// Hits that no fault planned: observations such as `remaining-zero-window`.
pub(crate) fn observed(s: &StrategyReport) -> impl Iterator<Item = (&String, &u64)> {
    s.faults_hit
        .iter()
        .filter(|(k, _)| !s.faults_planned.contains_key(*k))
}

/// The exit code of a run whose report is written: `128 + signal` when a signal stopped it
/// (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), 2 when it stopped on an error (said on stderr), else
/// 0 when every expectation was met and 1 when one was not.
pub fn exit_code(
    interrupted: Option<StopSignal>,
    error: Option<&str>,
    expectations_met: bool,
) -> i32 {
    // Not eprintln!: a stderr that cannot be written (a full disk) must not panic here.
    use std::io::Write;
    if let Some(s) = interrupted {
        let _ = writeln!(
            std::io::stderr().lock(),
            "interrupted by {}: partial report written",
            s.name()
        );
        return s.exit_code();
    }
    if let Some(e) = error {
        let _ = writeln!(std::io::stderr().lock(), "error: {e}");
        return 2;
    }
    if expectations_met {
        0
    } else {
        1
    }
}

/// The `replay` command line for an ID, as the user runs the harness: `cargo run -- replay ID`
/// under cargo (`CARGO` is set), else this executable as it was invoked (`argv[0]`).
pub fn replay_command(id: &str) -> String {
    let argv0 = std::env::args().next();
    replay_command_for(std::env::var_os("CARGO").is_some(), argv0.as_deref(), id)
}

fn replay_command_for(under_cargo: bool, argv0: Option<&str>, id: &str) -> String {
    let program = match argv0.filter(|a| !under_cargo && !a.is_empty()) {
        Some(exe) => shell_word(exe),
        None if under_cargo => "cargo run --".into(),
        None => "sqlite-backup-harness".into(),
    };
    format!("{program} replay {}", shell_word(id))
}

/// `s` as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:+=,@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The exit code of `replay`: 1 when a run's verdict is a violation, else 0.
pub fn replay_exit_code(kinds: &[VerdictKind]) -> i32 {
    i32::from(kinds.iter().any(|k| k.is_violation()))
}

/// The first line `replay` prints: the verdict and its detail after one run; after several,
/// the tally of verdict kinds (most frequent first) and the detail of the first violation.
pub fn replay_headline(id: &str, kinds: &[VerdictKind], detail: &str) -> String {
    match kinds {
        [one] => format!("{id}: {} ({detail})", one.as_str()),
        _ => {
            let mut tally: Vec<(VerdictKind, usize)> = Vec::new();
            for &k in kinds {
                match tally.iter_mut().find(|(t, _)| *t == k) {
                    Some((_, n)) => *n += 1,
                    None => tally.push((k, 1)),
                }
            }
            tally.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
            let counts: Vec<String> = tally
                .iter()
                .map(|(k, n)| format!("{} {n}", k.as_str()))
                .collect();
            let first = kinds.iter().find(|k| k.is_violation()).map_or_else(
                || "no violation".to_string(),
                |k| format!("first {}: {detail}", k.as_str()),
            );
            format!(
                "{id}: {} runs: {} ({first})",
                kinds.len(),
                counts.join(", ")
            )
        }
    }
}

fn summarize(
    scenario: &Scenario,
    entry: &StrategyEntry,
    rs: &[&IterationResult],
) -> StrategyReport {
    let min_fault_hit = scenario.faults.min_fault_hit;
    let mut verdicts: BTreeMap<String, u64> = VerdictKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), 0))
        .collect();
    let mut faults_hit = BTreeMap::new();
    let mut faults_planned = BTreeMap::new();
    let mut faults_stalled: BTreeMap<String, u64> = BTreeMap::new();
    let mut violations = Vec::new();
    let mut lags = Vec::new();
    let mut times: Vec<u64> = rs.iter().map(|r| r.backup_ms).collect();
    for r in rs {
        *verdicts
            .entry(r.verdict.kind.as_str().to_string())
            .or_default() += 1;
        // Observed, not planned: a step that saw remaining()==0 without SQLITE_DONE.
        if r.remaining_zero.is_some() {
            *faults_hit
                .entry("remaining-zero-window".to_string())
                .or_default() += 1;
        }
        if let Some(key) = r.kind.map(|k| k.as_str()) {
            *faults_planned.entry(key.to_string()).or_default() += 1;
            if r.fault_hit {
                *faults_hit.entry(key.to_string()).or_default() += 1;
            } else if r.verdict.kind == VerdictKind::Stall {
                *faults_stalled.entry(key.to_string()).or_default() += 1;
            }
        }
        if let Some(lag) = r.verdict.lag {
            lags.push(lag);
        }
        if r.verdict.kind.is_violation() {
            violations.push(ViolationRef {
                kind: r.verdict.kind,
                iteration: r.iteration,
                replay: replay_command(&r.replay),
                fault: r
                    .fault
                    .as_ref()
                    .map_or_else(|| "none".into(), |f| f.label()),
                fired: r.fired.clone(),
                known: known::is_known(&scenario.known, &r.replay),
                destination: r.destination.as_str().to_string(),
                deterministic: r.deterministic,
                detail: r.verdict.detail.clone(),
            });
        }
    }
    lags.sort_unstable();
    times.sort_unstable();
    let snapshots = verdicts
        .get(VerdictKind::Snapshot.as_str())
        .copied()
        .unwrap_or(0);
    let stalls = verdicts
        .get(VerdictKind::Stall.as_str())
        .copied()
        .unwrap_or(0);
    let recovered = rs
        .iter()
        .filter(|r| r.recovery.as_ref().is_some_and(|x| x.ok))
        .count() as u64;
    let recovery_failed: Vec<String> = rs
        .iter()
        .filter_map(|r| {
            let x = r.recovery.as_ref().filter(|x| !x.ok)?;
            Some(format!("{}: {}", r.replay, x.summary()))
        })
        .collect();
    // An entry SQLite must refuse is really tested without a snapshot; a snapshot is the
    // answer changing. A stuck case's snapshot is its recovery's.
    let mut untested_because = untested_reasons(
        &faults_planned,
        &faults_hit,
        &faults_stalled,
        if entry.refused {
            1
        } else {
            snapshots + recovered
        },
        min_fault_hit,
    );
    if entry.refused && snapshots > 0 {
        untested_because.push(format!(
            "declared `refused`, but {snapshots} iterations ended in a snapshot"
        ));
    }
    if entry.stalls && stalls == 0 {
        untested_because.push(format!(
            "declared `stalls`, but none of its {} iterations stalled",
            rs.len()
        ));
    }
    let ids: Vec<&str> = rs
        .iter()
        .filter(|r| r.verdict.kind.is_violation())
        .map(|r| r.replay.as_str())
        .collect();
    let ran = |id: &crate::replay_id::ReplayId| {
        matches!(id, crate::replay_id::ReplayId::Storm { iteration, .. }
            if rs.iter().any(|r| r.iteration == *iteration))
    };
    let kc = known::check(&scenario.known, scenario.seed, entry.id(), ran, &ids);
    let counted = match entry.expect {
        Expect::Safe => kc.unexpected + recovery_failed.len(),
        // A control counts as caught only by the violation kinds that name its mechanism.
        Expect::Unsafe if !entry.caught_as.is_empty() => {
            let wrong: Vec<&str> = violations
                .iter()
                .filter(|v| !entry.caught_as.contains(&v.kind))
                .map(|v| v.kind.as_str())
                .collect();
            if !wrong.is_empty() {
                untested_because.push(format!(
                    "violations of kinds the control does not expect: {}",
                    wrong.join(", ")
                ));
            }
            violations
                .iter()
                .filter(|v| entry.caught_as.contains(&v.kind))
                .count()
        }
        _ => violations.len(),
    };
    let result = Outcome::judge(entry.expect, counted, &untested_because, &kc.missing);
    StrategyReport {
        name: entry.id().to_string(),
        strategy: entry.name.clone(),
        variant: entry.variant.clone(),
        expect: entry.expect,
        iterations: rs.len() as u64,
        verdicts,
        faults_hit,
        faults_planned,
        faults_stalled,
        violations,
        lag_max: lags.last().copied(),
        lag_median: lags.get(lags.len() / 2).copied(),
        restarts_max: rs.iter().map(|r| r.restarts).max().unwrap_or(0),
        restarts_total: rs.iter().map(|r| r.restarts).sum(),
        untouched_same_bytes: rs
            .iter()
            .filter(|r| r.untouched_bytes == Some(true))
            .count() as u64,
        untouched_other_bytes: rs
            .iter()
            .filter(|r| r.untouched_bytes == Some(false))
            .count() as u64,
        backup_ms_median: times.get(times.len() / 2).copied().unwrap_or(0),
        checkpoints: {
            let mut by_mode: BTreeMap<String, CheckpointCount> = BTreeMap::new();
            for (mode, c) in rs.iter().flat_map(|r| &r.checkpoints) {
                let t = by_mode.entry(mode.clone()).or_default();
                t.ran += c.ran;
                t.busy += c.busy;
            }
            by_mode
        },
        dest_transitions: {
            let facts = |f: &Option<crate::oracle::FileFacts>| match f {
                Some(f) => format!("{}/{}", f.header, f.page_size),
                None => "none".to_string(),
            };
            let mut t: BTreeMap<String, u64> = BTreeMap::new();
            for r in rs {
                *t.entry(format!(
                    "{} -> {}",
                    facts(&r.dest_before),
                    facts(&r.dest_after)
                ))
                .or_default() += 1;
            }
            t
        },
        result,
        untested_because,
        known_reproduced: kc.reproduced,
        known_missing: kc.missing,
        recovered,
        recovery_failed,
        expectation_met: result.is_met(),
    }
}

/// `reports/<scenario>-<UTC timestamp>` under `base`.
pub fn run_dir(base: &Path, scenario: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let safe: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join(format!("{safe}-{}", utc_stamp(secs)))
}

/// `YYYYMMDD-HHMMSS` in UTC (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untested_when_a_planned_kind_rarely_fires_or_nothing_succeeded() {
        let planned: BTreeMap<String, u64> = [("kill-delay".to_string(), 4), ("busy".into(), 2)]
            .into_iter()
            .collect();
        let mut hit: BTreeMap<String, u64> = [("kill-delay".to_string(), 2), ("busy".into(), 2)]
            .into_iter()
            .collect();
        let none = BTreeMap::new();
        assert!(untested_reasons(&planned, &hit, &none, 3, 0.5).is_empty());
        hit.insert("kill-delay".into(), 1);
        let why = untested_reasons(&planned, &hit, &none, 3, 0.5);
        assert_eq!(why.len(), 1);
        assert!(why[0].starts_with("kill-delay fired in 1 of 4"), "{why:?}");
        // Iterations that stalled before the fault are left out of the rate, not counted as
        // hits: 1 hit of 2 reachable passes, and a kind that always stalled is untested.
        let stalled: BTreeMap<String, u64> = [("kill-delay".to_string(), 2)].into_iter().collect();
        assert!(untested_reasons(&planned, &hit, &stalled, 3, 0.5).is_empty());
        let all: BTreeMap<String, u64> = [("busy".to_string(), 2)].into_iter().collect();
        let why2 = untested_reasons(&planned, &hit, &all, 3, 0.5);
        assert!(
            why2.iter().any(|w| w.starts_with("busy: every one")),
            "{why2:?}"
        );
        let why = untested_reasons(&planned, &BTreeMap::new(), &none, 0, 0.0);
        assert_eq!(why.len(), 1, "{why:?}");
        assert_eq!(
            Outcome::judge(Expect::Safe, 0, &why, &[]),
            Outcome::Untested
        );
        assert!(!Outcome::Untested.is_met());
        assert_eq!(Outcome::judge(Expect::Safe, 0, &[], &[]), Outcome::Ok);
        assert_eq!(Outcome::judge(Expect::Safe, 1, &[], &[]), Outcome::Violated);
        assert_eq!(
            Outcome::judge(Expect::Unsafe, 1, &why, &[]),
            Outcome::Caught
        );
        assert_eq!(
            Outcome::judge(Expect::Unsafe, 0, &[], &[]),
            Outcome::NotCaught
        );
        assert_eq!(Outcome::judge(Expect::Any, 3, &why, &[]), Outcome::Reported);
        let lost = vec!["wal-storm:1:api-step:3".to_string()];
        assert_eq!(
            Outcome::judge(Expect::Safe, 0, &[], &lost),
            Outcome::KnownMissing
        );
        assert_eq!(
            Outcome::judge(Expect::Unsafe, 2, &[], &lost),
            Outcome::KnownMissing
        );
        assert!(!Outcome::KnownMissing.is_met());
    }

    #[test]
    fn output_paths_are_checked_before_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("a/b/report.json");
        check_output_file("--json", &new).unwrap();
        assert!(new.parent().unwrap().is_dir(), "the directory is created");
        assert!(!new.exists(), "no file is left behind");
        assert_eq!(std::fs::read_dir(new.parent().unwrap()).unwrap().count(), 0);
        std::fs::write(&new, "old").unwrap();
        check_output_file("--json", &new).unwrap();
        assert_eq!(
            std::fs::read_to_string(&new).unwrap(),
            "old",
            "not truncated"
        );

        let e = check_output_file("--json", dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("--json {}: is a directory", dir.path().display())
        );
        let under_a_file = new.join("x.svg");
        let e = check_output_file("--svg", &under_a_file)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("--svg {}: cannot create", under_a_file.display())),
            "{e}"
        );
        check_output_dir("--report-dir", &dir.path().join("reports")).unwrap();
        assert!(dir.path().join("reports").is_dir());
        let e = check_output_dir("--report-dir", &new)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--report-dir ") && !e.contains('\n'), "{e}");
        if Path::new("/proc/self").is_dir() {
            let e = check_output_dir("--report-dir", Path::new("/proc/x"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("--report-dir /proc/x: cannot"), "{e}");
        }
    }

    #[test]
    fn replay_commands_show_how_the_harness_was_invoked() {
        let id = "wal-storm:1:copy-naive:3";
        assert_eq!(
            replay_command_for(true, Some("target/debug/sqlite-backup-harness"), id),
            "cargo run -- replay wal-storm:1:copy-naive:3"
        );
        assert_eq!(
            replay_command_for(false, Some("./target/release/sqlite-backup-harness"), id),
            "./target/release/sqlite-backup-harness replay wal-storm:1:copy-naive:3"
        );
        assert_eq!(
            replay_command_for(false, Some("/opt/my tools/harness"), "/a b/s.toml:1:x:2"),
            "'/opt/my tools/harness' replay '/a b/s.toml:1:x:2'"
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(
            replay_command_for(false, None, id),
            "sqlite-backup-harness replay wal-storm:1:copy-naive:3"
        );
    }

    #[test]
    fn replay_exits_1_on_a_violation_and_tallies_its_runs() {
        use VerdictKind::*;
        assert_eq!(replay_exit_code(&[Snapshot]), 0);
        assert_eq!(replay_exit_code(&[Untouched, Error, Stall]), 0);
        assert_eq!(replay_exit_code(&[Snapshot, Torn, Snapshot]), 1);
        assert_eq!(replay_exit_code(&[FalseSuccess]), 1);
        assert_eq!(
            replay_headline("x:1:s:2", &[Torn], "k=3"),
            "x:1:s:2: torn (k=3)"
        );
        assert_eq!(
            replay_headline("x:1:s:2", &[Snapshot, Torn, Torn, Snapshot, Torn], "k=3"),
            "x:1:s:2: 5 runs: torn 3, snapshot 2 (first torn: k=3)"
        );
        assert_eq!(
            replay_headline("x:1:s:2", &[Snapshot, Untouched], "ok"),
            "x:1:s:2: 2 runs: snapshot 1, untouched 1 (no violation)"
        );
    }

    #[test]
    fn utc_stamp_is_civil_time() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(1_795_000_000), "20261118-110640");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
    }
}
