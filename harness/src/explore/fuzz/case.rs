//! Generation: what a fuzz case is (faults first, then the workload) and how case `k` of a
//! strategy is drawn, alone and the same every time, with its replay ID.

use crate::explore::ExploreError;
use crate::fault::{OpFault, OpSite};
use crate::replay_id::ReplayId;
use crate::scenario::{DestinationChoice, Scenario, StrategyEntry};
use crate::stable_hash::{fnv1a, fnv1a_from};
use crate::strategy::StrategyParams;
use crate::workload::WorkloadSpec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};
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

    /// Checks a case read from a bug base as strictly as a scenario checks its entries (the
    /// same bounds): `Err((key, message))`. A `plan.json` is edited by hand and shared in
    /// repositories; `npage = 0` or a huge `sleep_ms` would make a replay hang.
    pub fn validate(&self) -> Result<(), (String, String)> {
        use crate::scenario::{MAX_FUZZ_FAULTS, MAX_FUZZ_PAGES};
        if !crate::strategy::is_known(&self.strategy) {
            return Err((
                "strategy".into(),
                format!(
                    "unknown strategy `{}` (see `list` for the strategies)",
                    self.strategy
                ),
            ));
        }
        if !(2..=MAX_FUZZ_PAGES).contains(&self.pages) {
            return Err((
                "pages".into(),
                format!("{} is out of range 2..={MAX_FUZZ_PAGES}", self.pages),
            ));
        }
        if self.faults.len() > MAX_FUZZ_FAULTS as usize {
            return Err((
                "faults".into(),
                format!("{} faults: at most {MAX_FUZZ_FAULTS}", self.faults.len()),
            ));
        }
        crate::scenario::check_params(&self.params)
            .map_err(|(key, why)| (format!("params.{key}"), why))?;
        if crate::strategy::external::is_external(&self.strategy) {
            crate::strategy::external::validate(&self.strategy, &self.params)
                .map_err(|e| ("params.command".to_string(), e.to_string()))?;
        }
        Ok(())
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

/// The value tree of case `case` (0-based) of `entry`: drawn from its own generator, seeded
/// with FNV-1a of the scenario seed, the strategy name and `case`.
pub fn draw_case(
    scenario: &Scenario,
    entry: &StrategyEntry,
    case: u32,
) -> Result<impl ValueTree<Value = FuzzCase>, ExploreError> {
    let dests = crate::explore::sweep::destinations_of(scenario, entry);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;

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
