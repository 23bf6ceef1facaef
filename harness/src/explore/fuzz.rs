//! Fuzzing: random small workloads × random fault plans, a violation shrunk to a minimal case
//! with the same verdict kind, and the bug base that keeps it replayable.
//!
//! Why its own module: the sweep covers one reference workload exhaustively with one fault at
//! a time; fuzzing covers many workloads with several faults at once, and turns what it finds
//! into small, permanent regression cases (`explore::bugbase`).
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

use super::inprocess::Runner;
use super::reference::Reference;
use super::ExploreError;
use crate::event::Claim;
use crate::fault::{OpFault, OpSite};
use crate::oracle::{Verdict, VerdictKind};
use crate::replay_id::ReplayId;
use crate::scenario::{DestinationChoice, Expect, Scenario, StrategyEntry};
use crate::stable_hash::{fnv1a, fnv1a_from};
use crate::strategy::StrategyParams;
use crate::workload::WorkloadSpec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use vfs_faults::{
    Action, ErrorCode, FaultPlan, FileKind, MetadataOrder, OpKind, PowerCutMode, Unsynced,
};

/// One fault of a fuzz case: a VFS action at one operation (the fault model's [`OpFault`]).
pub type FuzzFault = OpFault;

/// One fuzz case: the faults first (shrunk first), then the workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FuzzCase {
    pub faults: Vec<FuzzFault>,
    pub pages: u32,
    pub workload_seed: u64,
    pub strategy: String,
    pub params: StrategyParams,
    pub destination: DestinationChoice,
}

impl FuzzCase {
    pub fn spec(&self) -> WorkloadSpec {
        WorkloadSpec {
            seed: self.workload_seed,
            initial_pages: self.pages,
            ddl: false,
            ..WorkloadSpec::default()
        }
    }

    pub fn plan(&self) -> FaultPlan {
        FaultPlan {
            seed: self.workload_seed,
            rules: self.faults.iter().map(|f| f.rule(f.describe())).collect(),
        }
    }

    /// `plan.txt`: the case for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "strategy {} (npage {}), destination {}, source {} pages, workload seed {}\nfaults:\n",
            self.strategy,
            self.params.npage,
            self.destination.as_str(),
            self.pages,
            self.workload_seed
        );
        for f in &self.faults {
            s.push_str(&format!("  - {}\n", f.describe()));
        }
        s
    }
}

/// One fault; power cuts only if `power_cuts` (the VFS sees the strategy's writes), with
/// `metadata` (`[fuzz] power_cut_metadata`) as their metadata policy.
fn fault_strategy(
    max_nth: u64,
    power_cuts: bool,
    metadata: MetadataOrder,
) -> impl Strategy<Value = FuzzFault> {
    let error = (
        prop_oneof![
            Just(ErrorCode::IoerrRead),
            Just(ErrorCode::IoerrWrite),
            Just(ErrorCode::IoerrFsync),
            Just(ErrorCode::IoerrTruncate),
            Just(ErrorCode::IoerrDelete),
            Just(ErrorCode::Full),
        ],
        any::<bool>(),
    )
        .prop_map(|(code, persistent)| Action::Error { code, persistent });
    let torn = Just(Action::TornWrite {
        keep_sectors: 1,
        keep_bytes: None,
        then: Some(ErrorCode::IoerrWrite),
    });
    let cut = Just(Action::PowerCut {
        mode: PowerCutMode::InProcess,
        unsynced: Unsynced::Random,
        metadata,
    });
    let action: BoxedStrategy<Action> = if power_cuts {
        prop_oneof![error, torn, cut].boxed()
    } else {
        prop_oneof![error, torn].boxed()
    };
    (
        // Weighted towards what a backup does most: destination writes.
        prop_oneof![
            6 => Just(OpKind::Write),
            2 => Just(OpKind::Read),
            2 => Just(OpKind::Sync),
            1 => Just(OpKind::Truncate),
            1 => Just(OpKind::Delete),
            1 => Just(OpKind::Unlock),
        ],
        prop_oneof![
            5 => Just(FileKind::MainDb),
            2 => Just(FileKind::MainJournal),
            1 => Just(FileKind::Wal)
        ],
        prop_oneof![4 => Just("destination"), 1 => Just("source")],
        1..=max_nth,
        action,
    )
        .prop_map(|(op, file, role, nth, action)| FuzzFault {
            site: OpSite {
                op,
                file,
                role: Some(role.to_string()),
                nth,
            },
            action,
        })
}

/// Cases for one strategy: up to `max_faults` faults, then the workload.
pub fn case_strategy(
    scenario: &Scenario,
    strategy: &str,
    params: &StrategyParams,
    dests: Vec<DestinationChoice>,
) -> impl Strategy<Value = FuzzCase> {
    let f = &scenario.fuzz;
    let name = strategy.to_string();
    let params = params.clone();
    (
        proptest::collection::vec(
            fault_strategy(
                u64::from(f.pages_min).max(2),
                crate::strategy::facts(strategy).is_some_and(|f| f.dest_through_vfs),
                f.power_cut_metadata,
            ),
            1..=f.max_faults as usize,
        ),
        f.pages_min..=f.pages_max,
        0u64..1000,
        proptest::sample::select(dests),
    )
        .prop_map(
            move |(faults, pages, workload_seed, destination)| FuzzCase {
                faults,
                pages,
                workload_seed,
                strategy: name.clone(),
                params: params.clone(),
                destination,
            },
        )
}

/// Runs cases, keeping one VFS and the references built so far.
pub struct CaseRunner {
    runner: Runner,
    refs: HashMap<(u32, u64, DestinationChoice), Reference>,
}

/// What a case gave.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    pub verdict: Verdict,
    pub fired: u64,
    pub claim: Option<Claim>,
}

impl CaseRunner {
    pub fn new() -> Result<CaseRunner, ExploreError> {
        Ok(CaseRunner {
            runner: Runner::new()?,
            refs: HashMap::new(),
        })
    }

    pub fn check(&mut self, case: &FuzzCase) -> Result<CaseOutcome, ExploreError> {
        let cuts = case
            .faults
            .iter()
            .any(|f| matches!(f.action, Action::PowerCut { .. }));
        if cuts && !crate::strategy::facts(&case.strategy).is_some_and(|f| f.dest_through_vfs) {
            return Err(ExploreError::Setup(format!(
                "{}: {} (not modelled)",
                case.strategy,
                super::points::POWER_CUT_NOT_MODELLED
            )));
        }
        let key = (case.pages, case.workload_seed, case.destination);
        if !self.refs.contains_key(&key) {
            if self.refs.len() > 64 {
                self.refs.clear();
            }
            let r = Reference::build(&case.spec(), &[case.destination])?;
            self.refs.insert(key, r);
        }
        let r = self.refs.get_mut(&key).expect("built");
        self.runner.materialize(r, case.destination)?;
        let dump = std::env::var_os("HARNESS_DUMP_TRACE");
        let run = self
            .runner
            .run(&case.strategy, &case.params, r, case.plan(), dump.is_some())?;
        if let Some(path) = dump {
            let lines: Vec<String> = run
                .trace
                .iter()
                .map(|t| serde_json::to_string(t).expect("trace entry"))
                .collect();
            let _ = std::fs::write(path, lines.join("\n") + "\n");
        }
        let fired: u64 = run.rule_hits.iter().map(|h| h.fired).sum();
        // After a power cut the process is gone as far as anyone can tell: no claim.
        let cut = case
            .faults
            .iter()
            .zip(&run.rule_hits)
            .any(|(f, h)| h.fired > 0 && matches!(f.action, Action::PowerCut { .. }));
        let claim = (!cut).then(|| run.claim.clone());
        let verdict = self.runner.verify(r, case.destination, claim.clone())?;
        Ok(CaseOutcome {
            verdict,
            fired,
            claim,
        })
    }
}

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

/// Shrinks `tree` (currently failing with `kind`) to a minimal case failing with `kind`.
/// Stops early, keeping the smallest failing case so far, when `interrupted` is set.
fn shrink<T: ValueTree<Value = FuzzCase>>(
    tree: &mut T,
    kind: VerdictKind,
    cr: &mut CaseRunner,
    max_steps: u32,
    interrupted: &AtomicBool,
) -> Result<FuzzCase, ExploreError> {
    let mut best = tree.current();
    let mut steps = 0;
    if !tree.simplify() {
        return Ok(best);
    }
    while steps < max_steps && !interrupted.load(Ordering::Relaxed) {
        steps += 1;
        let candidate = tree.current();
        let same = cr.check(&candidate)?.verdict.kind == kind;
        let more = if same {
            best = candidate;
            tree.simplify()
        } else {
            tree.complicate()
        };
        if !more {
            break;
        }
    }
    Ok(best)
}

/// The value tree of case `case` (0-based) of `entry`: drawn from its own generator, seeded
/// with FNV-1a of the scenario seed, the strategy name and `case`.
pub fn draw_case(
    scenario: &Scenario,
    entry: &StrategyEntry,
    case: u32,
) -> Result<impl ValueTree<Value = FuzzCase>, ExploreError> {
    let dests = super::sweep::destinations_of(scenario, entry);
    let strat = case_strategy(scenario, &entry.name, &entry.params, dests);
    let h = fnv1a_from(fnv1a(&scenario.seed.to_le_bytes()), entry.name.as_bytes());
    let h = fnv1a_from(h, &case.to_le_bytes());
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&scenario.seed.to_le_bytes());
    seed[8..16].copy_from_slice(&h.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    strat.new_tree(&mut runner).map_err(|e| {
        ExploreError::Setup(format!(
            "{} (seed {}, case {case}): drawing the case: {e}",
            entry.name, scenario.seed
        ))
    })
}

/// The replay ID of case `case` of `strategy` (the grammar is `crate::replay_id`'s).
pub fn case_id(scenario_id: &str, seed: u64, strategy: &str, case: u32) -> String {
    ReplayId::Fuzz {
        scenario: scenario_id.to_string(),
        seed,
        strategy: strategy.to_string(),
        case,
    }
    .to_string()
}

/// A parsed fuzz case ID: (scenario, seed, strategy, case).
pub fn parse_case_id(id: &str) -> Option<(String, u64, String, u32)> {
    match ReplayId::parse(id)? {
        ReplayId::Fuzz {
            scenario,
            seed,
            strategy,
            case,
        } => Some((scenario, seed, strategy, case)),
        _ => None,
    }
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
    let mut cr = CaseRunner::new()?;
    let mut kinds = Vec::new();
    let mut last = None;
    for _ in 0..times.max(1) {
        let out = cr.check(&drawn)?;
        kinds.push(out.verdict.kind.as_str().to_string());
        last = Some(out);
    }
    let out = last.expect("ran at least once");
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
    interrupted: &AtomicBool,
) -> Result<(), ExploreError> {
    let mut shrunk_kinds = BTreeSet::new();
    for case in 0..scenario.fuzz.cases {
        if interrupted.load(Ordering::Relaxed) {
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
        eprintln!(
            "{}: {} at case {case}: {}",
            entry.name,
            kind.as_str(),
            v.replay
        );
        // The first violation of each kind is also shrunk and kept in the bug base.
        if shrunk_kinds.insert(kind) {
            let steps = scenario.fuzz.shrink_steps;
            let min = shrink(&mut tree, kind, cr, steps, interrupted)?;
            let verdict = cr.check(&min)?.verdict;
            let bug = super::bugbase::save(&scenario.fuzz.bugbase, &min, &verdict)?;
            let cmd = crate::report::replay_command(&super::bugbase::replay_arg(
                &scenario.fuzz.bugbase,
                &bug,
            ));
            eprintln!(
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

/// Runs the fuzz scenario: per strategy, `[fuzz] cases` random cases; every violation gets a
/// replay ID, the first of each kind is shrunk and saved to the bug base. Always returns a
/// report: partial, with `interrupted` or `error` set, if the run did not finish.
pub fn run(scenario: &Scenario, scenario_id: &str, interrupted: &AtomicBool) -> FuzzReport {
    let mut strategies = Vec::new();
    let mut error = None;
    let mut was_interrupted = false;
    match CaseRunner::new() {
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
                        was_interrupted = true;
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
            && !was_interrupted
            && strategies.iter().all(|s| s.expectation_met),
        strategies,
        interrupted: was_interrupted,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_round_trip() {
        let id = case_id("scenarios/f.toml", 3, "external:py", 17);
        assert_eq!(
            parse_case_id(&id),
            Some(("scenarios/f.toml".into(), 3, "external:py".into(), 17))
        );
        assert!(parse_case_id("fuzz:f:x:api-step:1").is_none());
        assert!(parse_case_id("crash:f:1:api-step:existing-wal:3:busy").is_none());
    }

    #[test]
    fn cases_are_drawn_alone_and_the_same_every_time() {
        let text = "mode = \"fuzz\"\nseed = 5\n\
                    [[strategy]]\nname = \"copy-locked\"\nexpect = \"safe\"\n";
        let s = Scenario::parse(text, std::path::Path::new("t.toml")).unwrap();
        let e = &s.strategies[0];
        let a = draw_case(&s, e, 7).unwrap().current();
        assert_eq!(a, draw_case(&s, e, 7).unwrap().current());
        assert_ne!(a, draw_case(&s, e, 8).unwrap().current());
        // No power cuts for a strategy that writes with std::fs.
        for k in 0..64 {
            let c = draw_case(&s, e, k).unwrap().current();
            assert!(!c
                .faults
                .iter()
                .any(|f| matches!(f.action, Action::PowerCut { .. })));
        }
    }
}
