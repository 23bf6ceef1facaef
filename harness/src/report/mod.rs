//! Reports: what a run found, per strategy, with a replay command for every violation.
//!
//! [`Report`] is the JSON contract of DESIGN.md (plus more fields); [`markdown`] renders it for
//! people and [`table`] for the terminal.

pub mod known;
pub mod markdown;
pub mod network;
mod outcome;
mod output;
mod replay;
pub mod table;
pub mod tools;

pub use outcome::{not_caught_reason, untested_reasons, Outcome};
pub use output::{
    check_output_dir, check_output_file, create_run_dir, run_dir, utc_stamp, write_report,
    OutputPathError,
};
pub use replay::{replay_command, replay_exit_code, replay_headline};

use crate::oracle::VerdictKind;
use crate::process::StopSignal;
use crate::run::iteration::CheckpointCount;
use crate::run::{IterationResult, RunResult};
use crate::scenario::{Expect, Scenario, StrategyEntry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// The supervisor's kills (`kill-delay`) of one entry: planned delays and how late they were
/// sent (a loaded machine runs the supervisor's loop late).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillDelays {
    /// Kills planned, and sent (the others found the worker already ended).
    pub planned: u64,
    pub sent: u64,
    /// The planned delays' range, ms.
    pub planned_min_ms: u64,
    pub planned_max_ms: u64,
    /// How much later than planned the sent kills went out (actual - planned), ms.
    pub late_median_ms: u64,
    pub late_max_ms: u64,
}

impl KillDelays {
    /// The summary of `rs`' supervisor kills, `None` when none was planned.
    pub fn of(rs: &[&IterationResult]) -> Option<KillDelays> {
        let kills: Vec<_> = rs.iter().filter_map(|r| r.kill_delay).collect();
        if kills.is_empty() {
            return None;
        }
        let mut late: Vec<u64> = kills
            .iter()
            .filter_map(|k| k.actual_ms.map(|a| a.saturating_sub(k.planned_ms)))
            .collect();
        late.sort_unstable();
        Some(KillDelays {
            planned: kills.len() as u64,
            sent: late.len() as u64,
            planned_min_ms: kills.iter().map(|k| k.planned_ms).min().unwrap_or(0),
            planned_max_ms: kills.iter().map(|k| k.planned_ms).max().unwrap_or(0),
            late_median_ms: late.get(late.len() / 2).copied().unwrap_or(0),
            late_max_ms: late.last().copied().unwrap_or(0),
        })
    }
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
    /// Hits that changed nothing, by kind (included in `faults_hit`): the fault returned an
    /// error that SQLite ignored and the strategy claimed success with a snapshot, as without
    /// it. They do not count towards `min_fault_hit`.
    #[serde(default)]
    pub faults_absorbed: BTreeMap<String, u64>,
    /// Faults that were planned, by kind; planned but not hit tested nothing.
    pub faults_planned: BTreeMap<String, u64>,
    /// Supervisor kills: planned delays and how late they went out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_delays: Option<KillDelays>,
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
    /// A `NOT CAUGHT` control: what it showed instead of a violation, and what that means
    /// ([`not_caught_reason`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_caught: Option<String>,
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
    /// Entries with `max_restarts`: the iterations that restarted more often (replay ID and
    /// count). Each fails a `safe` entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts_over: Vec<String>,
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
    /// `optional` external entries that did not run (their tool is not installed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<crate::scenario::Skipped>,
    /// One row per external tool (`report::tools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<tools::ToolRow>,
    /// One row per entry that shipped its backup over the stream link (`report::network`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<network::NetworkRow>,
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
            skipped: run.scenario.skipped.clone(),
            tools: tools::rows(run),
            network: network::rows(run),
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

/// Hits that no fault planned: observations such as `remaining-zero-window`.
/// A row's `faults hit` cells: `kind hit/planned`, with `(n absorbed)` when hits changed
/// nothing, then the observed kinds that were not planned.
pub(crate) fn hit_cells(s: &StrategyReport) -> Vec<String> {
    s.faults_planned
        .iter()
        .map(|(k, planned)| {
            let hit = s.faults_hit.get(k).copied().unwrap_or(0);
            match s.faults_absorbed.get(k).copied().unwrap_or(0) {
                0 => format!("{k} {hit}/{planned}"),
                a => format!("{k} {hit}/{planned} ({a} absorbed)"),
            }
        })
        .chain(observed(s).map(|(k, n)| format!("{k} {n}")))
        .collect()
}

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
    let mut faults_absorbed: BTreeMap<String, u64> = BTreeMap::new();
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
                if r.absorbed {
                    *faults_absorbed.entry(key.to_string()).or_default() += 1;
                }
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
    let restarts_over: Vec<String> = entry
        .max_restarts
        .map(|max| {
            rs.iter()
                .filter(|r| r.restarts > max)
                .map(|r| format!("{}: {} restarts (max {max})", r.replay, r.restarts))
                .collect()
        })
        .unwrap_or_default();
    // An entry SQLite must refuse is really tested without a snapshot; a snapshot is the
    // answer changing. A stuck case's snapshot is its recovery's.
    let mut untested_because = untested_reasons(
        &faults_planned,
        &faults_hit,
        &faults_absorbed,
        &faults_stalled,
        if entry.refused {
            1
        } else {
            snapshots + recovered
        },
        min_fault_hit,
    );
    if let Some(why) = rs.iter().find_map(|r| r.unreached.as_deref()) {
        let n = rs.iter().filter(|r| r.unreached.is_some()).count();
        untested_because.push(format!("in {n} of {} iterations {why}", rs.len()));
    }
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
        Expect::Safe => kc.unexpected + recovery_failed.len() + restarts_over.len(),
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
    let not_caught = (result == Outcome::NotCaught).then(|| {
        not_caught_reason(
            crate::strategy::external::is_external(&entry.name),
            &entry.caught_as,
            &verdicts,
            &faults_hit,
            &faults_planned,
        )
    });
    StrategyReport {
        name: entry.id().to_string(),
        strategy: entry.name.clone(),
        variant: entry.variant.clone(),
        expect: entry.expect,
        iterations: rs.len() as u64,
        verdicts,
        faults_hit,
        faults_absorbed,
        faults_planned,
        faults_stalled,
        kill_delays: KillDelays::of(rs),
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
        not_caught,
        known_reproduced: kc.reproduced,
        known_missing: kc.missing,
        recovered,
        recovery_failed,
        restarts_over,
        expectation_met: result.is_met(),
    }
}
