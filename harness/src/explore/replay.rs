//! Crash-point replay IDs and replay, and the `--doublecheck` hash accumulator.
//!
//! Why its own module: the ID format is a contract printed with every violation,
//! `crash:<scenario>:<seed>:<strategy>:<destination>:<op index>:<fault kind>`, and replaying one
//! point (re-trace, find the point, run it, show the operations around the fault) is separate
//! from sweeping all of them (`explore::sweep`).

use super::points::{enumerate, kinds_for, CrashPoint, PointKind};
use super::sweep::Explorer;
use super::ExploreError;
use crate::replay_id::ReplayId;
use crate::scenario::{DestinationChoice, Scenario};
use crate::stable_hash::{fnv1a_from, START};

/// The replay ID of a crash point (the grammar is `crate::replay_id`'s).
pub fn replay_id(
    scenario: &str,
    seed: u64,
    strategy: &str,
    d: DestinationChoice,
    p: &CrashPoint,
) -> String {
    ReplayId::Crash {
        scenario: scenario.to_string(),
        seed,
        strategy: strategy.to_string(),
        destination: d.as_str().to_string(),
        index: p.index,
        kind: p.kind.as_str().to_string(),
    }
    .to_string()
}

/// A parsed crash-point replay ID.
#[derive(Debug, Clone, PartialEq)]
pub struct PointId {
    pub scenario: String,
    pub seed: u64,
    pub strategy: String,
    pub destination: DestinationChoice,
    pub index: u64,
    pub kind: PointKind,
}

/// A crash-point ID with a known destination and fault kind.
pub fn parse_replay_id(id: &str) -> Option<PointId> {
    let ReplayId::Crash {
        scenario,
        seed,
        strategy,
        destination,
        index,
        kind,
    } = ReplayId::parse(id)?
    else {
        return None;
    };
    Some(PointId {
        scenario,
        seed,
        strategy,
        destination: DestinationChoice::ALL
            .into_iter()
            .find(|d| d.as_str() == destination)?,
        index,
        kind: PointKind::parse(&kind)?,
    })
}

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

/// Re-runs one crash point from its ID; returns the JSON the `replay` command prints.
pub fn replay(id: &PointId, scenario: &Scenario) -> Result<serde_json::Value, ExploreError> {
    let entry = scenario.strategy(&id.strategy).cloned().ok_or_else(|| {
        ExploreError::Setup(format!("strategy {} not in the scenario", id.strategy))
    })?;
    let (kinds, not_modelled) = kinds_for(&entry.name, &PointKind::ALL);
    if !kinds.contains(&id.kind) {
        return Err(ExploreError::Setup(format!(
            "{}: {} is not modelled ({})",
            id.strategy,
            id.kind.as_str(),
            not_modelled.join("; ")
        )));
    }
    let mut ex = Explorer::new(scenario, &[id.destination], 1)?;
    let traced = ex.trace(&entry.name, &entry.params, id.destination)?;
    let points = enumerate(&traced.trace, &kinds);
    let p = points
        .iter()
        .find(|p| p.index == id.index && p.kind == id.kind)
        .cloned()
        .ok_or_else(|| {
            ExploreError::Setup(format!(
                "{} (seed {}): no {} point at op {} (trace has {} ops)",
                id.strategy,
                id.seed,
                id.kind.as_str(),
                id.index,
                traced.trace.len()
            ))
        })?;
    let out = ex.run_point(&entry.name, &entry.params, id.destination, &p, id.seed)?;
    // In-process points: the faulted run once more with tracing, for the operations around the
    // fault (same plan, same result: the sweep is deterministic).
    let around: Vec<String> = if p.kind.needs_child() {
        Vec::new()
    } else {
        let pc = p.kind == PointKind::PowerCut;
        let (_, run) = ex.run_inprocess(
            &entry.name,
            &entry.params,
            id.destination,
            p.plan(id.seed),
            pc,
            true,
        )?;
        run.trace
            .iter()
            .filter(|e| e.index + 5 >= p.index)
            .take(60)
            .map(|e| {
                format!(
                    "{} {:?} {:?} {} off={:?} len={:?} rc={}",
                    e.index,
                    e.op,
                    e.file,
                    e.role.as_deref().unwrap_or("-"),
                    e.offset,
                    e.len,
                    e.rc
                )
            })
            .collect()
    };
    Ok(serde_json::json!({
        "trace_around_fault": around,
        "point": p.label(),
        "plan": p.plan(id.seed),
        "verdict": out.verdict.kind.as_str(),
        "detail": out.verdict.detail,
        "fault_hit": out.hit,
        "claim": out.claim,
        "deterministic": true,
        "destination": id.destination.as_str(),
        "trace_hash": format!("{:016x}", traced.trace_hash),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfs_faults::OpKind;

    #[test]
    fn replay_ids_round_trip() {
        let p = CrashPoint {
            index: 41,
            op: OpKind::Write,
            file: vfs_faults::FileKind::MainDb,
            role: Some("destination".into()),
            nth: 3,
            len: Some(4096),
            kind: PointKind::KillAfter,
        };
        let id = replay_id(
            "scenarios/x.toml",
            7,
            "api-step",
            DestinationChoice::ExistingWal,
            &p,
        );
        let back = parse_replay_id(&id).unwrap();
        assert_eq!(back.scenario, "scenarios/x.toml");
        assert_eq!(back.seed, 7);
        assert_eq!(back.strategy, "api-step");
        assert_eq!(back.destination, DestinationChoice::ExistingWal);
        assert_eq!((back.index, back.kind), (41, PointKind::KillAfter));
        assert!(parse_replay_id("wal-storm:1:api-step:3").is_none());
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
