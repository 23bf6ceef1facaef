//! What happens in one storm iteration: the destination it starts from and the one fault
//! placed in it, drawn from the scenario seed, the entry and the iteration number only.
//!
//! The same triple always gives the same plan, which is what makes `replay ID` work.

use crate::fault::{DrawContext, Fault, FaultKind};
use crate::replay_id::ReplayId;
use crate::scenario::{DestinationChoice, Scenario, StrategyEntry};
use crate::workload::DestinationSetup;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Everything drawn for one iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationPlan {
    pub iteration: u32,
    /// The destination preset, and the destination it describes with the scenario's keys.
    pub destination: DestinationChoice,
    pub dest: DestinationSetup,
    /// The fault kind this iteration plans (`None`: it runs to completion) and its fault.
    pub kind: Option<FaultKind>,
    pub fault: Option<Fault>,
    /// Seed of this iteration (destination content, VFS plan).
    pub seed: u64,
}

impl IterationPlan {
    /// Whether a replay places the fault at the same point of the worker's own execution.
    pub fn deterministic(&self) -> bool {
        self.fault.as_ref().is_none_or(Fault::deterministic)
    }

    /// `none`, or the fault's label.
    pub fn fault_label(&self) -> String {
        self.fault
            .as_ref()
            .map_or_else(|| "none".into(), Fault::label)
    }
}

/// A stable 64-bit hash (FNV-1a) of the scenario seed, entry and iteration.
fn iteration_seed(seed: u64, entry: &str, iteration: u32) -> u64 {
    let h = crate::stable_hash::fnv1a(&seed.to_le_bytes());
    let h = crate::stable_hash::fnv1a_from(h, entry.as_bytes());
    crate::stable_hash::fnv1a_from(h, &iteration.to_le_bytes())
}

/// The fault kinds `entry` draws from.
pub fn fault_kinds<'a>(scenario: &'a Scenario, entry: &'a StrategyEntry) -> &'a [FaultKind] {
    entry.faults.as_deref().unwrap_or(&scenario.faults.kinds)
}

/// Draws the plan of `iteration` (0-based) for `entry` in `scenario`.
pub fn plan_iteration(scenario: &Scenario, entry: &StrategyEntry, iteration: u32) -> IterationPlan {
    let seed = iteration_seed(scenario.seed, entry.id(), iteration);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let kinds = entry
        .destinations
        .as_deref()
        .unwrap_or(&scenario.destination.kinds);
    // Cycle through the destination kinds so every kind is covered in few iterations.
    let destination = kinds[iteration as usize % kinds.len()];
    let dest = scenario
        .destination
        .keys
        .merged(entry.destination.as_ref())
        .setup(destination, scenario.source.page_size);
    let complete = entry
        .complete_fraction
        .unwrap_or(scenario.faults.complete_fraction);
    let fault_kinds = fault_kinds(scenario, entry);
    // Stratified rather than drawn: iteration i is faulted when the running count of faulted
    // iterations, ceil(i * f), steps up, so a few iterations already mix both kinds, and the
    // fault kinds take turns. The fault's parameters are drawn from the seed.
    let f = 1.0 - complete;
    let before = (f64::from(iteration) * f).ceil() as usize;
    let upto = (f64::from(iteration + 1) * f).ceil() as usize;
    let kind =
        (!fault_kinds.is_empty() && upto > before).then(|| fault_kinds[before % fault_kinds.len()]);
    let cx = DrawContext {
        pages: scenario.source.pages,
        page_size: scenario.source.page_size,
        // A strategy that does not step copies in one step(-1), whatever `npage` says.
        npage: match entry.facts() {
            Some(f) if !f.steps => -1,
            _ => entry.params.npage,
        },
        delay_min_ms: entry.delay_min_ms.unwrap_or(scenario.faults.delay_min_ms),
        delay_max_ms: entry.delay_max_ms.unwrap_or(scenario.faults.delay_max_ms),
        events_before_work: entry.facts().map_or(1, |f| f.events_before_work),
        dest_journal: dest.journal_mode,
        metadata: scenario.faults.power_cut_metadata,
        unsynced: scenario.faults.power_cut_unsynced,
    };
    let fault = kind.map(|k| k.draw(&cx, &mut rng));
    IterationPlan {
        iteration,
        destination,
        dest,
        kind,
        fault,
        seed,
    }
}

/// The replay ID of an iteration.
pub fn replay_id(scenario: &str, seed: u64, entry: &str, iteration: u32) -> String {
    ReplayId::Storm {
        scenario: scenario.to_string(),
        seed,
        strategy: entry.to_string(),
        iteration,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Placement;
    use std::path::Path;

    fn scenario() -> Scenario {
        Scenario::parse(
            "seed = 9\n[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
             [[strategy]]\nname = \"copy-naive\"\nexpect = \"unsafe\"\n\
             faults = [\"kill-after-event\", \"kill-delay\"]\n",
            Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn plans_are_a_function_of_seed_entry_iteration() {
        let s = scenario();
        for i in 0..50 {
            assert_eq!(
                plan_iteration(&s, &s.strategies[0], i),
                plan_iteration(&s, &s.strategies[0], i)
            );
        }
        let a: Vec<_> = (0..50)
            .map(|i| plan_iteration(&s, &s.strategies[0], i))
            .collect();
        let mut s2 = s.clone();
        s2.seed = 10;
        let b: Vec<_> = (0..50)
            .map(|i| plan_iteration(&s2, &s2.strategies[0], i))
            .collect();
        assert_ne!(a, b);
        // A label is the entry's identity: same strategy, other label, other draws.
        let mut s3 = s.clone();
        s3.strategies[0].label = Some("other".into());
        let c: Vec<_> = (0..50)
            .map(|i| plan_iteration(&s3, &s3.strategies[0], i))
            .collect();
        assert_ne!(a, c);
    }

    #[test]
    fn faulted_iterations_follow_the_fraction_and_kinds_take_turns() {
        let mut s = scenario();
        let none = (0..400)
            .filter(|&i| plan_iteration(&s, &s.strategies[0], i).fault.is_none())
            .count();
        assert_eq!(none, 200);
        // The first iteration is faulted, so even a 1-iteration run tests a fault.
        assert!(plan_iteration(&s, &s.strategies[0], 0).fault.is_some());
        s.faults.kinds = vec![FaultKind::KillDelay, FaultKind::FinalCommitIoerr];
        let plans: Vec<_> = (0..4)
            .map(|i| plan_iteration(&s, &s.strategies[0], i))
            .collect();
        assert_eq!(plans[0].kind, Some(FaultKind::KillDelay));
        assert!(matches!(
            plans[0].fault.as_ref().unwrap().placement,
            Placement::AfterDelay { .. }
        ));
        assert_eq!(plans[1].fault, None);
        assert_eq!(plans[2].kind, Some(FaultKind::FinalCommitIoerr));
        s.faults.complete_fraction = 1.0;
        assert!((0..50).all(|i| plan_iteration(&s, &s.strategies[0], i).fault.is_none()));
    }

    #[test]
    fn kill_delays_use_the_entrys_bounds_over_the_scenarios() {
        let mut s = scenario();
        s.faults.kinds = vec![FaultKind::KillDelay];
        s.faults.complete_fraction = 0.0;
        s.faults.delay_min_ms = 40;
        s.faults.delay_max_ms = 40;
        let mut own = s.strategies[0].clone();
        own.delay_min_ms = Some(77);
        own.delay_max_ms = Some(77);
        for i in 0..5 {
            let ms = |e: &StrategyEntry| match plan_iteration(&s, e, i).fault.unwrap().placement {
                Placement::AfterDelay { ms } => ms,
                other => panic!("{other:?}"),
            };
            assert_eq!((ms(&s.strategies[0]), ms(&own)), (40, 77));
        }
    }

    #[test]
    fn the_final_commit_follows_the_destination_journal() {
        let mut s = scenario();
        s.faults.kinds = vec![FaultKind::FinalCommitIoerr];
        s.faults.complete_fraction = 0.0;
        s.destination.kinds = vec![DestinationChoice::ExistingWal, DestinationChoice::Fresh];
        let wal = plan_iteration(&s, &s.strategies[0], 0);
        let fresh = plan_iteration(&s, &s.strategies[0], 1);
        assert_eq!(
            wal.fault.unwrap().placement,
            Placement::FinalCommit { wal: true }
        );
        assert_eq!(
            fresh.fault.unwrap().placement,
            Placement::FinalCommit { wal: false }
        );
    }
}
