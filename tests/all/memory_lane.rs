//! The memory lane of crash exploration: in-process crash states run on an
//! in-memory disk give the verdicts the same states give on real files, point by point, for
//! safe strategies and for controls that violate, on rollback and WAL destinations; a strategy
//! that changes files outside SQLite stays on disk and the reason says so. (A whole
//! `scenario crash-points` run, 38,734 points, gave the same report both ways.)

use crate::support;

use harness::explore::inprocess::Lane;
use harness::explore::points::{enumerate, PointKind};
use harness::explore::sweep::PointOutcome;
use harness::explore::sweep::{Explorer, LanePolicy};
use harness::explore::verdict_cache::{CacheMode, VerdictCache};
use harness::scenario::{DestinationChoice, Scenario};
use harness::strategy::StrategyParams;
use vfs_faults::OpKind;

fn params() -> StrategyParams {
    StrategyParams {
        npage: -1,
        ..StrategyParams::default()
    }
}

#[test]
fn memory_states_get_the_verdicts_of_disk_states() {
    let s = Scenario::load("crash-points").unwrap();
    let params = params();
    let mut compared = 0;
    let mut violations = 0;
    let mut kinds_seen = std::collections::BTreeSet::new();
    for d in [
        DestinationChoice::ExistingDelete,
        DestinationChoice::ExistingWal,
    ] {
        let mut ex = Explorer::new(&s, &[d], 1, &harness::process::Interrupt::new()).unwrap();
        // Every state verified: a cached verdict would compare the cache with itself.
        ex.reference.verdicts = VerdictCache::new(CacheMode::Off);
        for strategy in ["api-oneshot", "api-journal-off", "api-early-finish"] {
            let traced = ex.trace(strategy, &params, d).unwrap();
            assert_eq!(
                ex.runner.lane(),
                Lane::Memory,
                "{strategy} on {}: {}",
                d.as_str(),
                ex.lane_reason
            );
            let inproc: Vec<PointKind> = PointKind::ALL
                .into_iter()
                .filter(|k| !k.needs_child())
                .collect();
            let points = enumerate(&traced.trace, &inproc);
            for p in points.iter().step_by(13) {
                let mut run = |lane| {
                    ex.runner.set_lane(lane).unwrap();
                    ex.run_point(strategy, &params, d, p, s.seed)
                        .unwrap_or_else(|e| panic!("{strategy} {}: {e}", p.label()))
                };
                let m = run(Lane::Memory);
                let k = run(Lane::Disk);
                let show = |o: &harness::explore::sweep::PointOutcome| {
                    (
                        o.hit,
                        o.claim.clone(),
                        o.verdict.kind,
                        o.verdict.k,
                        o.verdict.lag,
                    )
                };
                assert_eq!(
                    show(&m),
                    show(&k),
                    "{strategy} on {}, {}: memory {:?} / disk {:?}",
                    d.as_str(),
                    p.label(),
                    m.verdict.detail,
                    k.verdict.detail
                );
                compared += 1;
                violations += usize::from(m.verdict.kind.is_violation());
                kinds_seen.insert(m.verdict.kind.as_str());
            }
        }
    }
    assert!(compared > 300, "{compared} states compared");
    assert!(violations > 5, "{violations} violations compared");
    assert!(
        kinds_seen.len() >= 3,
        "verdict kinds compared: {kinds_seen:?}"
    );
}

#[test]
fn a_strategy_that_copies_files_stays_on_disk_and_the_disk_policy_is_obeyed() {
    let s = Scenario::load("crash-points").unwrap();
    let d = DestinationChoice::ExistingDelete;
    let mut ex = Explorer::new(&s, &[d], 1, &harness::process::Interrupt::new()).unwrap();
    ex.trace("copy-locked", &params(), d).unwrap();
    assert_eq!(ex.runner.lane(), Lane::Disk);
    assert!(
        ex.lane_reason.contains("outside SQLite"),
        "{}",
        ex.lane_reason
    );
    ex.trace("api-oneshot", &params(), d).unwrap();
    assert_eq!(ex.runner.lane(), Lane::Memory, "{}", ex.lane_reason);
    ex.lanes = LanePolicy::Disk;
    ex.trace("api-oneshot", &params(), d).unwrap();
    assert_eq!(ex.runner.lane(), Lane::Disk);
    assert!(ex.lane_reason.starts_with("disk"), "{}", ex.lane_reason);
}

/// Every BUSY on a WAL lock of the destination: a failed shm unlock that the fault VFS does not
/// pass on leaves the lock held, and the memory disk must then answer the next lock request as
/// the unix VFS does (a shared or exclusive request over one's own lock is BUSY there).
#[test]
fn busy_wal_locks_get_the_verdicts_of_disk_states() {
    let s = Scenario::load("crash-points").unwrap();
    let d = DestinationChoice::ExistingWal;
    let params = params();
    let mut ex = Explorer::new(&s, &[d], 1, &harness::process::Interrupt::new()).unwrap();
    ex.reference.verdicts = VerdictCache::new(CacheMode::Off);
    let traced = ex.trace("api-oneshot", &params, d).unwrap();
    assert_eq!(ex.runner.lane(), Lane::Memory, "{}", ex.lane_reason);
    let points = enumerate(&traced.trace, &[PointKind::Busy]);
    let mut compared = 0;
    let mut errors = 0;
    for p in points.iter().filter(|p| p.op == OpKind::ShmLock) {
        let mut run = |lane| {
            ex.runner.set_lane(lane).unwrap();
            ex.run_point("api-oneshot", &params, d, p, s.seed).unwrap()
        };
        let show = |o: &PointOutcome| (o.hit, o.claim.clone(), o.verdict.kind, o.verdict.k);
        let (m, k) = (run(Lane::Memory), run(Lane::Disk));
        assert_eq!(show(&m), show(&k), "{}", p.label());
        compared += 1;
        errors += usize::from(matches!(m.claim, Some(harness::event::Claim::Error { .. })));
    }
    assert!(compared >= 5, "{compared} BUSY points on WAL locks");
    assert!(errors >= 2, "no BUSY made the backup fail: {errors}");
}

/// `--doublecheck` runs a sample of the memory states again on real files and folds both
/// verdicts into its comparison: on the crash-points scenario they agree, and the report says
/// the states ran in memory.
#[test]
fn doublecheck_finds_the_memory_states_equal_to_the_disk_ones() {
    let run = support::run_scenario_with("crash-points", &["--doublecheck", "--sample", "30"]);
    let report = &run.report;
    let dc = &report["doublecheck"];
    assert_eq!(dc["equal"], true, "{dc}");
    let memory = report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["lane"].as_str().unwrap().starts_with("memory"))
        .count();
    assert!(memory >= 6, "{memory} combos ran in memory");
    // Per combo: the trace twice, one faulted plan twice, and the memory sample on disk.
    assert!(
        dc["runs"].as_u64().unwrap() >= 2 * 10 + memory as u64,
        "{dc}"
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}
