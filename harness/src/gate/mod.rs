//! The CI regression gate: a fixed matrix of scenarios, seeds and benchmark figures
//! (`ci/gate.toml`), run and compared with pinned answers (`ci/baseline.toml`).
//!
//! Why it exists: a change to a strategy, to SQLite, to the VFS or to the oracle must fail CI
//! when an answer changes: a safe strategy starts violating or stops being really tested, a
//! negative control stops being caught, a known finding stops reproducing, a planned fault
//! class is no longer reached, or a benchmark figure drifts out of its tolerance.
//!
//! * [`config`]: the matrix and the baseline, as TOML.
//! * [`units`]: the matrix cut into units (scenario × seed × strategy, and the bench), the
//!   deterministic shard split, and running one unit.
//! * [`judge`]: results against the baseline: failures and changes, one line each.
//! * [`output`]: JUnit XML, Markdown summary, JSON.
//!
//! Shards run on separate machines (`--shard K/N`) and `report merge` judges their JSON
//! together: the verdicts are the same as one unsharded run's.

pub mod config;
pub mod judge;
pub mod output;
pub mod units;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The result of one unit: one strategy of one scenario run with one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    pub scenario: String,
    pub seed: u64,
    pub strategy: String,
    /// The expectation the scenario file declares.
    pub expect: String,
    /// `ok`, `violated`, `untested`, `caught`, `not-caught`, `reported`, `known-missing`, or
    /// `error` when the unit could not run.
    pub result: String,
    /// Why the result is untested, or the error.
    #[serde(default)]
    pub why: Vec<String>,
    /// Violations that are not known findings, with their replay commands.
    #[serde(default)]
    pub violations: Vec<String>,
    /// Whether a violation of a kind that names the control's mechanism showed (its
    /// `caught_as`; any kind when it has none), known findings included.
    #[serde(default)]
    pub caught: bool,
    #[serde(default)]
    pub known_reproduced: Vec<String>,
    #[serde(default)]
    pub known_missing: Vec<String>,
    /// Fault kinds planned and hit (a kind planned and never hit in a whole scenario fails).
    #[serde(default)]
    pub faults_planned: BTreeMap<String, u64>,
    #[serde(default)]
    pub faults_hit: BTreeMap<String, u64>,
    pub duration_s: f64,
}

/// One measured benchmark figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub bench: String,
    pub name: String,
    pub value: f64,
}

/// What a gate run (or one shard of it) produced: its JSON is what `report merge` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRun {
    pub sqlite_version: String,
    /// `K/N`, or `None` for the whole matrix.
    pub shard: Option<String>,
    /// Every unit of the whole matrix, by key (`scenario:seed:strategy`, `bench:restarts`).
    pub matrix: Vec<String>,
    /// The units this run (shard) was given.
    pub planned: Vec<String>,
    pub units: Vec<UnitResult>,
    pub figures: Vec<Figure>,
    /// Known findings of the scenarios that no unit accounted for (their point did not run).
    #[serde(default)]
    pub known_unchecked: Vec<String>,
    pub duration_s: f64,
    pub interrupted: bool,
    /// The signal that stopped the gate, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<crate::process::StopSignal>,
}

impl UnitResult {
    /// A unit with no result yet.
    pub fn new(scenario: &str, seed: u64, strategy: &str, expect: &str) -> UnitResult {
        UnitResult {
            scenario: scenario.to_string(),
            seed,
            strategy: strategy.to_string(),
            expect: expect.to_string(),
            result: String::new(),
            why: Vec::new(),
            violations: Vec::new(),
            caught: false,
            known_reproduced: Vec::new(),
            known_missing: Vec::new(),
            faults_planned: BTreeMap::new(),
            faults_hit: BTreeMap::new(),
            duration_s: 0.0,
        }
    }
}

impl GateRun {
    /// An empty run of `planned` units out of `matrix`.
    pub fn new(
        sqlite_version: String,
        shard: Option<String>,
        matrix: Vec<String>,
        planned: Vec<String>,
    ) -> GateRun {
        GateRun {
            sqlite_version,
            shard,
            matrix,
            planned,
            units: Vec::new(),
            figures: Vec::new(),
            known_unchecked: Vec::new(),
            duration_s: 0.0,
            interrupted: false,
            interrupted_by: None,
        }
    }

    /// Joins shard runs into one (units and figures in key order).
    pub fn merge(runs: Vec<GateRun>) -> GateRun {
        let mut out = GateRun::new(
            runs.first()
                .map(|r| r.sqlite_version.clone())
                .unwrap_or_default(),
            None,
            runs.first().map(|r| r.matrix.clone()).unwrap_or_default(),
            Vec::new(),
        );
        for r in runs {
            out.planned.extend(r.planned);
            out.units.extend(r.units);
            out.figures.extend(r.figures);
            out.known_unchecked.extend(r.known_unchecked);
            out.duration_s = out.duration_s.max(r.duration_s);
            out.interrupted |= r.interrupted;
            out.interrupted_by = out.interrupted_by.or(r.interrupted_by);
        }
        out.planned.sort();
        out.planned.dedup();
        out.units.sort_by(|a, b| {
            (&a.scenario, a.seed, &a.strategy).cmp(&(&b.scenario, b.seed, &b.strategy))
        });
        out.figures
            .sort_by(|a, b| (&a.bench, &a.name).cmp(&(&b.bench, &b.name)));
        out.known_unchecked.sort();
        out.known_unchecked.dedup();
        out
    }
}
