//! Crash-point replay IDs and replay, and the `--doublecheck` hash accumulator.
//!
//! Why its own module: the ID format is a contract printed with every violation,
//! `crash:<scenario>:<seed>:<strategy>:<destination>:<op index>:<fault kind>`, and replaying one
//! point (re-trace, find the point, run it, show the operations around the fault) is separate
//! from sweeping all of them (`explore::sweep`).

use super::points::{enumerate, kinds_for, PointId, PointKind};
use super::sweep::Explorer;
use super::ExploreError;
use crate::scenario::Scenario;

/// Re-runs one crash point from its ID; returns the JSON the `replay` command prints.
pub fn replay(id: &PointId, scenario: &Scenario) -> Result<serde_json::Value, ExploreError> {
    let entry = scenario.strategy(&id.strategy).cloned().ok_or_else(|| {
        ExploreError::Setup(format!("strategy {} not in the scenario", id.strategy))
    })?;
    let (kinds, not_modelled) = kinds_for(&entry.name, &PointKind::EVERY);
    if !kinds.contains(&id.kind) {
        return Err(ExploreError::Setup(format!(
            "{}: {} is not modelled ({})",
            id.strategy,
            id.kind.as_str(),
            not_modelled.join("; ")
        )));
    }
    let mut ex = Explorer::new(
        scenario,
        &[id.destination],
        1,
        &crate::process::Interrupt::process(),
    )?;
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
    let around: Vec<String> = if p.kind.needs_child() || p.kind == PointKind::PowerCutAfterClaim {
        Vec::new()
    } else {
        let pc = p.kind.is_power_cut();
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
