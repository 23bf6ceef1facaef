//! The tool table: one row per external tool of a run, with what a user of that tool asks
//! first: which version, how often it finished, how long it took, whether the kills landed
//! before it was done, what the oracle said, and which faults could reach it at all.
//!
//! Why its own module: the strategy rows judge; this row describes a program the harness does
//! not control (its version is probed, its kills can land too late), which the strategy table
//! has no columns for.

use crate::event::Claim;
use crate::run::{IterationResult, RunResult};
use crate::strategy::external::FaultVfsRoute;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One external tool of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRow {
    pub strategy: String,
    /// The first line its `version_command` printed (`-` without one).
    pub version: String,
    pub iterations: u64,
    /// Iterations in which it claimed success.
    pub finished: u64,
    /// Median time from the backup's start to its end (claim, error or kill), ms.
    pub median_ms: u64,
    /// Iterations with a fault planned (kills; with the preload shim also power cuts and the
    /// other VFS faults).
    pub kills_planned: u64,
    /// Planned faults that ended the tool before its claim (a kill, a power cut). Kill
    /// delays count from the backup worker's start, so such a kill may also have come before
    /// the tool itself had started; a kill at an exact operation (`kill-dest-op`, preload
    /// shim) lands at the tool's own n-th destination operation.
    pub kills_before_claim: u64,
    /// Verdicts that occurred, by kind.
    pub verdicts: BTreeMap<String, u64>,
    /// Which faults could reach it, in words (from its entry's `fault_vfs`).
    pub faults_reach: String,
    /// Its entry's `fault_vfs`: `none`, `preload` (VFS faults through the preload shim) or
    /// `static-sqlite` (no preload route: its SQLite is statically linked).
    #[serde(default)]
    pub fault_vfs: FaultVfsRoute,
}

/// The rows of the external entries of `run`, in the scenario's order.
pub fn rows(run: &RunResult) -> Vec<ToolRow> {
    run.scenario
        .strategies
        .iter()
        .filter(|e| crate::strategy::external::is_external(&e.name))
        .map(|e| {
            let rs: Vec<&IterationResult> = run
                .results
                .iter()
                .filter(|r| r.strategy == e.id())
                .collect();
            row(
                e.id(),
                run.scenario.tool_versions.get(e.id()).map(String::as_str),
                e.params.fault_vfs,
                &rs,
            )
        })
        .collect()
}

fn row(
    strategy: &str,
    version: Option<&str>,
    fault_vfs: FaultVfsRoute,
    rs: &[&IterationResult],
) -> ToolRow {
    let mut times: Vec<u64> = rs.iter().map(|r| r.backup_ms).collect();
    times.sort_unstable();
    let mut verdicts = BTreeMap::new();
    for r in rs {
        *verdicts
            .entry(r.verdict.kind.as_str().to_string())
            .or_insert(0) += 1;
    }
    ToolRow {
        strategy: strategy.to_string(),
        version: version.unwrap_or("-").to_string(),
        iterations: rs.len() as u64,
        finished: rs
            .iter()
            .filter(|r| r.claim == Some(Claim::Success))
            .count() as u64,
        median_ms: times.get(times.len() / 2).copied().unwrap_or(0),
        kills_planned: rs.iter().filter(|r| r.fault.is_some()).count() as u64,
        kills_before_claim: rs
            .iter()
            .filter(|r| r.fault.is_some() && r.fault_hit && r.claim.is_none())
            .count() as u64,
        verdicts,
        faults_reach: fault_vfs.faults_reach().to_string(),
        fault_vfs,
    }
}

/// The Markdown section (empty when the run had no external tool).
pub fn markdown(rows: &[ToolRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Tools\n\n| tool | version | finished / iterations | median ms | faults that ended it before its claim / planned (kill delays from the worker's start) | verdicts | faults that could reach it |\n|---|---|---|---|---|---|---|\n",
    );
    for t in rows {
        let verdicts: Vec<String> = t.verdicts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} | {} / {} | {} | {} |\n",
            super::markdown::code(&t.strategy),
            super::markdown::escape(&t.version),
            t.finished,
            t.iterations,
            t.median_ms,
            t.kills_before_claim,
            t.kills_planned,
            verdicts.join(", "),
            t.faults_reach
        ));
    }
    out
}
