//! The crash-points report: per strategy × destination, points enumerated and tested, faults
//! that fired, verdicts by fault kind, and every violation with its replay ID.
//!
//! Why its own module: the JSON is a contract (`points_total`, `points_tested`,
//! `faults_hit` with `kill` / `power-cut` / `ioerr-*` keys, verdict counts by fault kind,
//! violations with replay IDs) and deserves one readable place; the Markdown is for people.

use crate::oracle::VerdictKind;
use crate::scenario::Expect;
use crate::stable_hash::{fnv1a_from, START};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `--doublecheck` accumulator: two running FNV-1a hashes over the trace hashes of the
/// first and the second run of the same plans.
#[derive(Debug, Clone)]
pub struct DoubleAcc {
    pub a: u64,
    pub b: u64,
    pub runs: u64,
}

impl Default for DoubleAcc {
    fn default() -> Self {
        DoubleAcc {
            a: START,
            b: START,
            runs: 0,
        }
    }
}

impl DoubleAcc {
    /// Folds the trace hashes of one plan's first and second run.
    pub fn add(&mut self, first: u64, second: u64) {
        self.a = fnv1a_from(self.a, &first.to_le_bytes());
        self.b = fnv1a_from(self.b, &second.to_le_bytes());
        self.runs += 1;
    }
}

/// One violation found by the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashViolation {
    pub kind: VerdictKind,
    pub point: String,
    pub fault: String,
    /// The replay ID, and the command that replays it.
    #[serde(default)]
    pub id: String,
    pub replay: String,
    /// One of the scenario's known findings (documented behaviour; does not fail).
    #[serde(default)]
    pub known: bool,
    pub detail: String,
}

/// The determinism check: the same plans run twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doublecheck {
    pub trace_hash_a: String,
    pub trace_hash_b: String,
    pub equal: bool,
    /// Runs compared (fault-free traces and faulted plans run twice, and a sample of the
    /// states run in memory run again on real files).
    pub runs: u64,
}

/// One strategy on one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComboReport {
    pub name: String,
    pub destination: String,
    pub expect: Expect,
    /// Operations in the fault-free trace, and its hash.
    pub trace_len: u64,
    pub trace_hash: String,
    /// The part of the trace faults were placed in (`all`, `final-commit`), and the index of
    /// its first operation.
    #[serde(default = "window_all")]
    pub window: String,
    #[serde(default)]
    pub window_start: u64,
    /// Operations of the window (the whole trace unless `window` says otherwise) × applicable
    /// kinds (see `explore::points`), kinds in `not_modelled` left out.
    pub points_total: u64,
    /// Points covered: run, or (kill points with `dedup_kills`) proven to leave the same files
    /// as a point that ran; `inprocess_states + kill_states_run + kill_points_inferred`.
    pub points_tested: u64,
    /// States verified in this process, and kill states run in a child process. With
    /// `dedup_kills`, kill points that leave the same files share one child.
    pub inprocess_states: u64,
    pub kill_states_run: u64,
    /// Kill points that did not run: their verdict is that of the state that ran for their
    /// equivalence class. Counted in `points_tested` and the verdicts, not in `faults_*`.
    #[serde(default)]
    pub kill_points_inferred: u64,
    /// Fault kinds this strategy cannot honestly be tested with, and why
    /// (`"power-cut: file writes bypass the VFS"`). Not counted in `points_total`.
    #[serde(default)]
    pub not_modelled: Vec<String>,
    /// States that ran and whose fault actually fired, by kind (`kill`, `power-cut`,
    /// `ioerr-transient`, ...). Inferred kill points are not counted.
    pub faults_hit: BTreeMap<String, u64>,
    /// States that ran, by kind; run but not hit tested nothing.
    pub faults_planned: BTreeMap<String, u64>,
    /// Every verdict kind over the covered points, zero counts included.
    pub verdicts: BTreeMap<String, u64>,
    /// Fault kind → verdict → count.
    pub verdicts_by_fault: BTreeMap<String, BTreeMap<String, u64>>,
    pub violations: Vec<CrashViolation>,
    /// The scenario's known findings of this strategy × destination that showed again, and
    /// those whose point was tested and did not.
    #[serde(default)]
    pub known_reproduced: Vec<String>,
    #[serde(default)]
    pub known_missing: Vec<String>,
    /// Planned points whose fault did not fire (non-determinism; listed, at most 20).
    pub not_hit: Vec<String>,
    /// Where the in-process states ran, and why: `memory: …` (the fault-free run in memory
    /// gave the disk's trace, claim and files) or `disk: …`. Kill states always run on disk.
    #[serde(default)]
    pub lane: String,
    pub expectation_met: bool,
    pub duration_s: f64,
}

fn window_all() -> String {
    "all".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashReport {
    pub scenario: String,
    pub mode: String,
    pub seed: u64,
    pub sqlite_version: String,
    pub duration_s: f64,
    pub reference: serde_json::Value,
    pub strategies: Vec<ComboReport>,
    /// Known findings of the scenario that no tested point accounted for (their point does
    /// not exist, or was not run): they fail the run.
    #[serde(default)]
    pub known_unchecked: Vec<String>,
    pub expectations_met: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doublecheck: Option<Doublecheck>,
    pub interrupted: bool,
    /// The signal that stopped the sweep, when `interrupted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<crate::process::StopSignal>,
    pub error: Option<String>,
}

impl crate::report::RunReport for CrashReport {
    fn scenario(&self) -> &str {
        &self.scenario
    }
    fn markdown(&self) -> String {
        self.render_markdown()
    }
}

impl CrashReport {
    /// The terminal table: one row per strategy × destination, then the first violations.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<17} {:<16} {:<6} {:>6} {:>7} {:>7} {:>6} {:>6} {:>6} {:>5} {:>6}  result\n",
            "strategy",
            "destination",
            "expect",
            "ops",
            "points",
            "tested",
            "untch",
            "snap",
            "error",
            "viol",
            "kills"
        );
        for c in &self.strategies {
            let v = |k: &str| c.verdicts.get(k).copied().unwrap_or(0);
            let result = result_word(
                c.expect,
                c.expectation_met,
                !c.known_reproduced.is_empty(),
                !c.known_missing.is_empty(),
            );
            out.push_str(&format!(
                "{:<17} {:<16} {:<6} {:>6} {:>7} {:>7} {:>6} {:>6} {:>6} {:>5} {:>6}  {}\n",
                c.name,
                c.destination,
                c.expect.as_str(),
                c.trace_len,
                c.points_total,
                c.points_tested,
                v("untouched"),
                v("snapshot"),
                v("error") + v("stall"),
                c.violations.len(),
                c.kill_states_run,
                result
            ));
        }
        for k in &self.known_unchecked {
            out.push_str(&format!(
                "  known finding not checked (no tested point matches it): {k}\n"
            ));
        }
        for c in &self.strategies {
            if c.window != "all" {
                out.push_str(&format!(
                    "  {} {}: {} window: ops {}..{} of the trace ({} ops)\n",
                    c.name,
                    c.destination,
                    c.window,
                    c.window_start,
                    c.trace_len,
                    c.trace_len.saturating_sub(c.window_start)
                ));
            }
            for n in &c.not_modelled {
                out.push_str(&format!(
                    "  {} {}: not modelled: {n}\n",
                    c.name, c.destination
                ));
            }
            for v in c.violations.iter().take(3) {
                out.push_str(&format!(
                    "  {} {}: {}{} at {}\n    {}\n",
                    c.name,
                    c.destination,
                    v.kind.as_str(),
                    if v.known { " (known finding)" } else { "" },
                    v.point,
                    v.replay
                ));
            }
            for k in &c.known_missing {
                out.push_str(&format!(
                    "  {} {}: known finding did not reproduce: {k}\n",
                    c.name, c.destination
                ));
            }
            if c.violations.len() > 3 {
                out.push_str(&format!(
                    "  {} {}: … {} more in the report\n",
                    c.name,
                    c.destination,
                    c.violations.len() - 3
                ));
            }
        }
        let cache = &self.reference["verdict_cache"];
        if let (Some(served), Some(verified)) =
            (cache["seen_before"].as_u64(), cache["verified"].as_u64())
        {
            out.push_str(&format!(
                "verdicts: {verified} states verified, {served} identical to one verified \
                 before ({})\n",
                if cache["mode"] == "check" {
                    "verified again and compared: --doublecheck"
                } else {
                    "served from the verdict cache"
                }
            ));
        }
        if let Some(d) = &self.doublecheck {
            out.push_str(&format!(
                "doublecheck: {} vs {} over {} runs: {}\n",
                d.trace_hash_a,
                d.trace_hash_b,
                d.runs,
                if d.equal { "equal" } else { "DIFFERENT" }
            ));
        }
        out
    }

    fn render_markdown(&self) -> String {
        use crate::report::markdown::{code, escape};
        // The table's names are scenario labels (letters, digits, `.`, `_`, `-`): no fence.
        let mut md =
            format!(
            "# {} (crash points)\n\nseed {}, SQLite {}, {:.1} s, expectations {}\n\n```\n{}```\n",
            escape(&self.scenario),
            self.seed,
            escape(&self.sqlite_version),
            self.duration_s,
            if self.expectations_met { "met" } else { "NOT met" },
            self.table()
        );
        if let Some(e) = &self.error {
            md.push_str(&format!("\n- **error**: {}\n", escape(e)));
        }
        if self.interrupted {
            md.push('\n');
            md.push_str(&crate::report::markdown::interrupted_line(
                self.interrupted_by,
            ));
        }
        for c in &self.strategies {
            md.push_str(&format!(
                "\n## {} on {}\n\nin-process states: {}\n\nfaults hit (states run): {:?}\n\n\
                 kill points inferred: {}\n\nnot modelled: {:?}\n\nverdicts by fault: {:?}\n",
                escape(&c.name),
                escape(&c.destination),
                escape(&c.lane),
                escape(&format!("{:?}", c.faults_hit)),
                c.kill_points_inferred,
                escape(&format!("{:?}", c.not_modelled)),
                escape(&format!("{:?}", c.verdicts_by_fault))
            ));
            for v in c.violations.iter().take(50) {
                md.push_str(&format!(
                    "- `{}` at {}: {}  \n  {}\n",
                    v.kind.as_str(),
                    escape(&v.point),
                    code(&v.replay),
                    escape(&v.detail)
                ));
            }
        }
        md
    }
}

/// A row's `result`: the storm's words ([`crate::report::Outcome::as_str`]) where they mean the
/// same, so an `expect = "any"` entry reads `reported` (not judged) in both modes, whatever
/// its violations.
fn result_word(
    expect: Expect,
    met: bool,
    known_reproduced: bool,
    known_missing: bool,
) -> &'static str {
    match (met, expect) {
        (_, Expect::Any) => "reported",
        (false, _) if known_missing => "KNOWN FINDING LOST",
        (true, Expect::Unsafe) => "ok (caught)",
        (true, _) if known_reproduced => "ok (known finding)",
        (true, _) => "ok",
        (false, _) => "FAIL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_any_entry_reads_reported_as_in_the_storm() {
        use crate::report::Outcome;
        for met in [true, false] {
            assert_eq!(
                result_word(Expect::Any, met, false, false),
                Outcome::judge(Expect::Any, 3, &[], &[]).as_str()
            );
        }
        assert_eq!(result_word(Expect::Safe, true, false, false), "ok");
        assert_eq!(
            result_word(Expect::Unsafe, true, false, false),
            "ok (caught)"
        );
        assert_eq!(
            result_word(Expect::Safe, false, false, true),
            "KNOWN FINDING LOST"
        );
        assert_eq!(result_word(Expect::Safe, false, false, false), "FAIL");
    }

    #[test]
    fn doublecheck_equal_runs_give_equal_hashes() {
        let mut acc = DoubleAcc::default();
        acc.add(1, 1);
        acc.add(2, 2);
        assert_eq!((acc.a == acc.b, acc.runs), (true, 2));
        acc.add(3, 4);
        assert_ne!(acc.a, acc.b);
    }
}
