//! Fuzzing: random small workloads × random fault plans, a violation shrunk to a minimal case
//! with the same verdict kind, and the bug base that keeps it replayable.
//!
//! Why its own module: the sweep covers one reference workload exhaustively with one fault at
//! a time; fuzzing covers many workloads with several faults at once, and turns what it finds
//! into small, permanent regression cases (`bugbase`).
//!
//! Case `k` of a strategy is drawn with proptest strategies from its own ChaCha generator,
//! seeded with FNV-1a of the scenario seed, the strategy and `k`, so every case can be drawn
//! again alone: every violation is reported with the replay ID
//! `fuzz:<scenario>:<seed>:<strategy>:<case>`. The first violation of each verdict kind per
//! strategy is also shrunk and saved to the bug base. The fault plan comes before the workload
//! in the tuple, so shrinking simplifies the faults first; it walks proptest's value tree by
//! hand and only accepts a simpler case that fails with the *same* verdict kind.
//!
//! All faults run in-process (no kills): the fast path. Power cuts are only drawn for
//! strategies whose destination writes go through SQLite (the strategy's `dest_through_vfs` fact):
//! a power cut cannot revert `std::fs` writes, so for the others it is not modelled.

//!
//! Split by job: [`case`] (generation), [`runner`] (running), [`shrink`] (shrinking),
//! [`bugbase`] (saving and replaying shrunk cases); this file runs the campaign.

pub mod bugbase;
pub mod case;
pub mod runner;
pub mod shrink;

pub use case::{case_id, case_strategy, draw_case, parse_case_id, FuzzCase, FuzzFault};
pub use runner::{CaseOutcome, CaseRunner};

use super::ExploreError;
use crate::oracle::VerdictKind;
use crate::process::Interrupt;
use crate::scenario::{Expect, Scenario, StrategyEntry};
use proptest::strategy::ValueTree;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One violating case: its replay ID, and the bug-base entry if it was the one shrunk.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzViolation {
    pub case: u32,
    pub kind: VerdictKind,
    pub detail: String,
    /// `cargo run -- replay fuzz:<scenario>:<seed>:<strategy>:<case>`: draws and runs it again.
    pub replay: String,
    /// The shrunk case's `replay` command, for the first violation of each kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shrunk: Option<String>,
}

/// The fuzz run's summary. Written also when interrupted or failed (then partial).
#[derive(Debug, Clone, Serialize)]
pub struct FuzzReport {
    pub scenario: String,
    pub seed: u64,
    pub strategies: Vec<FuzzStrategyReport>,
    pub expectations_met: bool,
    pub interrupted: bool,
    /// The signal that stopped the run, when `interrupted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<crate::process::StopSignal>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FuzzStrategyReport {
    pub name: String,
    pub expect: Expect,
    /// Cases run (fewer than asked if interrupted).
    pub cases: u64,
    pub faults_fired: u64,
    pub verdicts: BTreeMap<String, u64>,
    /// Every violating case, with its replay command.
    pub violations: Vec<FuzzViolation>,
    /// Bug-base IDs of the shrunk violations.
    pub bugs: Vec<String>,
    /// Faults not drawn for this strategy, and why.
    pub not_modelled: Vec<String>,
    pub expectation_met: bool,
}

/// Draws case `case` of `strategy` again and runs it `times` times (the JSON `replay` prints).
pub fn replay_case(
    scenario: &Scenario,
    strategy: &str,
    case: u32,
    times: u32,
) -> Result<serde_json::Value, ExploreError> {
    let entry = scenario
        .strategy(strategy)
        .ok_or_else(|| ExploreError::Setup(format!("strategy {strategy} not in the scenario")))?;
    let drawn = draw_case(scenario, entry, case)?.current();
    let (kinds, out) = CaseRunner::new()?.check_times(&drawn, times)?;
    Ok(serde_json::json!({
        "verdict": out.verdict.kind.as_str(),
        "detail": out.verdict.detail,
        "faults_fired": out.fired,
        "claim": out.claim,
        "verdicts": kinds,
        "same_verdict_every_time": kinds.iter().all(|k| *k == kinds[0]),
        "case": drawn,
    }))
}

/// Fuzzes one strategy into `rep`; stops early (keeping what ran) on Ctrl-C or an error.
fn fuzz_strategy(
    scenario: &Scenario,
    scenario_id: &str,
    entry: &StrategyEntry,
    cr: &mut CaseRunner,
    rep: &mut FuzzStrategyReport,
    interrupted: &Interrupt,
) -> Result<(), ExploreError> {
    let mut shrunk_kinds = BTreeSet::new();
    for case in 0..scenario.fuzz.cases {
        if interrupted.is_set() {
            return Err(ExploreError::Interrupted);
        }
        let mut tree = draw_case(scenario, entry, case)?;
        let out = cr.check(&tree.current())?;
        rep.cases += 1;
        rep.faults_fired += out.fired;
        let kind = out.verdict.kind;
        *rep.verdicts.entry(kind.as_str().to_string()).or_insert(0) += 1;
        if !kind.is_violation() {
            continue;
        }
        let id = case_id(scenario_id, scenario.seed, &entry.name, case);
        let mut v = FuzzViolation {
            case,
            kind,
            detail: out.verdict.detail.clone(),
            replay: crate::report::replay_command(&id),
            shrunk: None,
        };
        crate::console::errln!(
            "{}: {} at case {case}: {}",
            entry.name,
            kind.as_str(),
            v.replay
        );
        // The first violation of each kind is also shrunk and kept in the bug base.
        if shrunk_kinds.insert(kind) {
            let steps = scenario.fuzz.shrink_steps;
            let min = shrink::shrink(&mut tree, kind, cr, steps, interrupted)?;
            let verdict = cr.check(&min)?.verdict;
            let base = scenario
                .fuzz
                .bugbase
                .clone()
                .unwrap_or_else(|| PathBuf::from(bugbase::NEW_BUGS));
            let bug = bugbase::save(&base, &min, &verdict)?;
            let cmd = crate::report::replay_command(&bugbase::replay_arg(&base, &bug));
            crate::console::errln!(
                "{}: {} shrunk to {} fault(s), {} pages: {cmd}",
                entry.name,
                verdict.kind.as_str(),
                min.faults.len(),
                min.pages
            );
            v.shrunk = Some(cmd);
            rep.bugs.push(bug);
        }
        rep.violations.push(v);
    }
    Ok(())
}

impl crate::report::RunReport for FuzzReport {
    fn scenario(&self) -> &str {
        &self.scenario
    }
    /// One row per strategy and every violation with its replay command.
    fn markdown(&self) -> String {
        use crate::report::markdown::{code, escape};
        let mut out = format!(
            "# Scenario {} (fuzz)\n\n- seed: {}\n- expectations met: {}\n",
            code(&self.scenario),
            self.seed,
            if self.expectations_met {
                "yes"
            } else {
                "**no**"
            }
        );
        if self.interrupted {
            out.push_str(&crate::report::markdown::interrupted_line(
                self.interrupted_by,
            ));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("- **error**: {}\n", escape(e)));
        }
        out.push_str("\n| strategy | expect | cases | faults fired | violations | bugs | met |\n|---|---|---|---|---|---|---|\n");
        for s in &self.strategies {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                escape(&s.name),
                s.expect.as_str(),
                s.cases,
                s.faults_fired,
                s.violations.len(),
                escape(&s.bugs.join(", ")),
                if s.expectation_met { "yes" } else { "**no**" }
            ));
        }
        for s in &self.strategies {
            for v in &s.violations {
                out.push_str(&format!(
                    "\n- {} case {} **{}**: {}\n  {}",
                    code(&s.name),
                    v.case,
                    v.kind.as_str(),
                    escape(&v.detail),
                    code(&v.replay)
                ));
            }
        }
        out.push('\n');
        out
    }
}

/// Runs the fuzz scenario: per strategy, `[fuzz] cases` random cases; every violation gets a
/// replay ID, the first of each kind is shrunk and saved to the bug base. Always returns a
/// report: partial, with `interrupted` or `error` set, if the run did not finish.
pub fn run(scenario: &Scenario, scenario_id: &str, interrupted: &Interrupt) -> FuzzReport {
    let mut strategies = Vec::new();
    let mut error = None;
    let mut stopped_by = None;
    match CaseRunner::new().map(|r| r.stopped_by(interrupted)) {
        Err(e) => error = Some(format!("{} (seed {}): {e}", scenario.name, scenario.seed)),
        Ok(mut cr) => {
            for entry in &scenario.strategies {
                let (_, not_modelled) =
                    super::points::kinds_for(&entry.name, &[super::points::PointKind::PowerCut]);
                let mut rep = FuzzStrategyReport {
                    name: entry.name.clone(),
                    expect: entry.expect,
                    cases: 0,
                    faults_fired: 0,
                    verdicts: BTreeMap::new(),
                    violations: Vec::new(),
                    bugs: Vec::new(),
                    not_modelled,
                    expectation_met: false,
                };
                let res =
                    fuzz_strategy(scenario, scenario_id, entry, &mut cr, &mut rep, interrupted);
                rep.expectation_met = entry.expect.is_met(rep.violations.len());
                strategies.push(rep);
                match res {
                    Ok(()) => {}
                    Err(ExploreError::Interrupted) => {
                        stopped_by = interrupted.signal();
                        break;
                    }
                    Err(e) => {
                        error = Some(format!(
                            "{} (scenario {}, seed {}): {e}",
                            entry.name, scenario_id, scenario.seed
                        ));
                        break;
                    }
                }
            }
        }
    }
    FuzzReport {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        expectations_met: error.is_none()
            && stopped_by.is_none()
            && strategies.iter().all(|s| s.expectation_met),
        strategies,
        interrupted: stopped_by.is_some(),
        interrupted_by: stopped_by,
        error,
    }
}
