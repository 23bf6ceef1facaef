//! Fuzzing: random small workloads × random fault plans, a violation shrunk to a minimal case
//! with the same verdict kind, and the bug base that keeps it replayable.
//!
//! Why its own module: the sweep covers one reference workload exhaustively with one fault at
//! a time; fuzzing covers many workloads with several faults at once, and turns what it finds
//! into small, permanent regression cases (`reports/bugbase/<id>/`: `plan.json`, `plan.txt`,
//! `runs.log`), replayed with `replay <id>`.
//!
//! Cases are drawn with proptest strategies from a ChaCha generator seeded with the scenario
//! seed; the fault plan comes before the workload in the tuple, so shrinking simplifies the
//! faults first. Shrinking walks proptest's value tree by hand and only accepts a simpler case
//! that fails with the *same* verdict kind. All faults run in-process (no kills): the fast path.

use super::inprocess::Runner;
use super::reference::Reference;
use super::ExploreError;
use crate::event::Claim;
use crate::oracle::{Verdict, VerdictKind};
use crate::scenario::{DestinationChoice, Expect, Scenario};
use crate::strategy::StrategyParams;
use crate::workload::WorkloadSpec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use vfs_faults::{
    Action, ErrorCode, FaultPlan, FileKind, Occurrence, OpKind, PowerCutMode, Rule, Selector,
    Unsynced,
};

/// One fault of a fuzz case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FuzzFault {
    pub op: OpKind,
    pub file: FileKind,
    pub role: String,
    pub nth: u64,
    pub action: Action,
}

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
            rules: self
                .faults
                .iter()
                .map(|f| Rule {
                    name: Some(f.describe()),
                    select: Selector {
                        ops: vec![f.op],
                        file: Some(f.file),
                        role: Some(f.role.clone()),
                        when: Occurrence::Nth(f.nth),
                        ..Selector::default()
                    },
                    action: f.action.clone(),
                })
                .collect(),
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

impl FuzzFault {
    pub fn describe(&self) -> String {
        let action = serde_json::to_string(&self.action).unwrap_or_default();
        format!(
            "{:?} on {} {:?} #{}: {action}",
            self.op, self.role, self.file, self.nth
        )
        .to_lowercase()
    }
}

fn fault_strategy(max_nth: u64) -> impl Strategy<Value = FuzzFault> {
    let action = prop_oneof![
        (
            prop_oneof![
                Just(ErrorCode::IoerrRead),
                Just(ErrorCode::IoerrWrite),
                Just(ErrorCode::IoerrFsync),
                Just(ErrorCode::IoerrTruncate),
                Just(ErrorCode::IoerrDelete),
                Just(ErrorCode::Full),
            ],
            any::<bool>()
        )
            .prop_map(|(code, persistent)| Action::Error { code, persistent }),
        Just(Action::TornWrite {
            keep_sectors: 1,
            keep_bytes: None,
            then: Some(ErrorCode::IoerrWrite)
        }),
        Just(Action::PowerCut {
            mode: PowerCutMode::InProcess,
            unsynced: Unsynced::Random
        }),
    ];
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
            op,
            file,
            role: role.to_string(),
            nth,
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
            fault_strategy(u64::from(f.pages_min).max(2)),
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
        let run = self
            .runner
            .run(&case.strategy, &case.params, r, case.plan(), false)?;
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

/// The fuzz run's summary.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzReport {
    pub scenario: String,
    pub seed: u64,
    pub strategies: Vec<FuzzStrategyReport>,
    pub expectations_met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FuzzStrategyReport {
    pub name: String,
    pub expect: Expect,
    pub cases: u64,
    pub faults_fired: u64,
    pub verdicts: std::collections::BTreeMap<String, u64>,
    /// Bug-base IDs of the shrunk violations.
    pub bugs: Vec<String>,
    pub expectation_met: bool,
}

/// Shrinks `tree` (currently failing with `kind`) to a minimal case failing with `kind`.
fn shrink<T: ValueTree<Value = FuzzCase>>(
    tree: &mut T,
    kind: VerdictKind,
    cr: &mut CaseRunner,
    max_steps: u32,
) -> Result<FuzzCase, ExploreError> {
    let mut best = tree.current();
    let mut steps = 0;
    if !tree.simplify() {
        return Ok(best);
    }
    while steps < max_steps {
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

/// Runs the fuzz scenario: per strategy, `[fuzz] cases` random cases; violations are shrunk
/// and saved to the bug base.
pub fn run(scenario: &Scenario, interrupted: &AtomicBool) -> Result<FuzzReport, ExploreError> {
    let mut cr = CaseRunner::new()?;
    let mut strategies = Vec::new();
    for entry in &scenario.strategies {
        let dests = super::sweep::destinations_of(scenario, entry);
        let strat = case_strategy(scenario, &entry.name, &entry.params, dests);
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&scenario.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&fnv(entry.name.as_bytes()).to_le_bytes());
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        let mut verdicts = std::collections::BTreeMap::new();
        let mut bugs: Vec<String> = Vec::new();
        let mut fired = 0;
        let mut seen_kinds = std::collections::BTreeSet::new();
        for _ in 0..scenario.fuzz.cases {
            if interrupted.load(Ordering::Relaxed) {
                return Err(ExploreError::Interrupted);
            }
            let mut tree = strat
                .new_tree(&mut runner)
                .map_err(|e| ExploreError::Setup(format!("drawing a case: {e}")))?;
            let out = cr.check(&tree.current())?;
            fired += out.fired;
            *verdicts
                .entry(out.verdict.kind.as_str().to_string())
                .or_insert(0u64) += 1;
            // One shrunk bug per verdict kind and strategy is enough per run.
            if out.verdict.kind.is_violation() && seen_kinds.insert(out.verdict.kind) {
                let kind = out.verdict.kind;
                let min = shrink(&mut tree, kind, &mut cr, scenario.fuzz.shrink_steps)?;
                let verdict = cr.check(&min)?.verdict;
                let id = save(&scenario.fuzz.bugbase, &min, &verdict)?;
                eprintln!(
                    "{}: {} shrunk to {} fault(s), {} pages: replay with `cargo run -- replay {id}`",
                    entry.name,
                    kind.as_str(),
                    min.faults.len(),
                    min.pages
                );
                bugs.push(id);
            }
        }
        let expectation_met = match entry.expect {
            Expect::Safe => bugs.is_empty(),
            Expect::Unsafe => !bugs.is_empty(),
            Expect::Any => true,
        };
        strategies.push(FuzzStrategyReport {
            name: entry.name.clone(),
            expect: entry.expect,
            cases: u64::from(scenario.fuzz.cases),
            faults_fired: fired,
            verdicts,
            bugs,
            expectation_met,
        });
    }
    Ok(FuzzReport {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        expectations_met: strategies.iter().all(|s| s.expectation_met),
        strategies,
    })
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `git rev-parse HEAD`, if git and a repository are there.
fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dir = crate::report::run_dir(Path::new(""), "x");
    let _ = secs;
    dir.display()
        .to_string()
        .trim_start_matches("x-")
        .to_string()
}

fn append_log(dir: &Path, outcome: &str) -> Result<(), ExploreError> {
    use std::io::Write;
    let line = format!("{} commit={} outcome={outcome}\n", now_utc(), git_commit());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runs.log"))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| ExploreError::BugBase(format!("{}: runs.log: {e}", dir.display())))
}

/// Saves a shrunk case: `<bugbase>/<id>/{plan.json, plan.txt, runs.log}`. Returns the ID.
pub fn save(bugbase: &Path, case: &FuzzCase, verdict: &Verdict) -> Result<String, ExploreError> {
    let json = serde_json::to_string_pretty(case).expect("case serializes");
    let id = format!(
        "bug-{}-{}-{:08x}",
        case.strategy,
        verdict.kind.as_str(),
        fnv(json.as_bytes()) as u32
    );
    let dir = bugbase.join(&id);
    let io = |e: std::io::Error| ExploreError::BugBase(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(dir.join("plan.json"), json + "\n").map_err(io)?;
    let text = format!(
        "{}\nplan (vfs-faults):\n{}\nfound: {} ({})\n",
        case.describe(),
        serde_json::to_string_pretty(&case.plan()).expect("plan serializes"),
        verdict.kind.as_str(),
        verdict.detail
    );
    std::fs::write(dir.join("plan.txt"), text).map_err(io)?;
    append_log(&dir, &format!("found {}", verdict.kind.as_str()))?;
    Ok(id)
}

/// The bug-base directory of `id`, if there is one (under `reports/bugbase` of the working
/// directory, else of the source tree).
pub fn bugbase_entry(id: &str) -> Option<PathBuf> {
    if !id.starts_with("bug-") || id.contains('/') {
        return None;
    }
    [
        PathBuf::from("reports/bugbase"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/bugbase"),
    ]
    .into_iter()
    .map(|b| b.join(id))
    .find(|d| d.join("plan.json").is_file())
}

/// Replays a bug-base entry `times` times; appends the outcome to its `runs.log`.
pub fn replay_entry(dir: &Path, times: u32) -> Result<serde_json::Value, ExploreError> {
    let text = std::fs::read_to_string(dir.join("plan.json"))
        .map_err(|e| ExploreError::BugBase(format!("{}: {e}", dir.display())))?;
    let case: FuzzCase = serde_json::from_str(&text)
        .map_err(|e| ExploreError::BugBase(format!("{}/plan.json: {e}", dir.display())))?;
    let mut cr = CaseRunner::new()?;
    let mut kinds = Vec::new();
    let mut last = None;
    for _ in 0..times.max(1) {
        let out = cr.check(&case)?;
        kinds.push(out.verdict.kind.as_str().to_string());
        last = Some(out);
    }
    let out = last.expect("ran at least once");
    append_log(dir, &format!("replayed {}", kinds.join(",")))?;
    Ok(serde_json::json!({
        "bug": dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        "verdict": out.verdict.kind.as_str(),
        "detail": out.verdict.detail,
        "faults_fired": out.fired,
        "claim": out.claim,
        "verdicts": kinds,
        "case": case,
    }))
}
