//! The `crash-points` scenario mode: for each strategy × destination, the fault-free trace, then
//! one state per crash point (or a sample), the verdicts, the report, replay and doublecheck.
//!
//! Why its own module: it is the driver that ties reference, points, the in-process runner and
//! the kill pool together, and owns the replay ID format of crash points:
//! `crash:<scenario>:<seed>:<strategy>:<destination>:<op index>:<fault kind>`.
//!
//! Kill equivalence (`[crash] dedup_kills`, on by default): a SIGKILL leaves the files exactly
//! as the completed operations made them, so two kill points with the same completed prefix of
//! file-changing operations (open, write, truncate, delete) leave identical files. For strategies
//! that write only through SQLite (hence through the VFS), one child per such class is run and
//! its verdict stands for every point of the class (still counted in `points_tested`). File-copy
//! strategies change files with `std::fs` between VFS operations, so every kill point of theirs
//! runs its own child.

use super::inprocess::{RunOutcome, Runner};
use super::kill::KillPool;
use super::points::{enumerate, CrashPoint, PointKind};
use super::reference::Reference;
use super::report::{ComboReport, CrashReport, CrashViolation, Doublecheck};
use super::ExploreError;
use crate::event::Claim;
use crate::oracle::{Verdict, VerdictKind};
use crate::scenario::{DestinationChoice, Expect, Scenario, StrategyEntry};
use crate::strategy::StrategyParams;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use vfs_faults::{FaultPlan, OpKind};

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Test a seeded sample of this many points per strategy × destination instead of all.
    pub sample: Option<u32>,
    pub doublecheck: bool,
    /// Progress lines on stderr.
    pub progress: bool,
}

/// The reference plus the two ways of running a state.
pub struct Explorer {
    pub reference: Reference,
    pub runner: Runner,
    pub pool: KillPool,
}

/// What one crash point gave.
#[derive(Debug, Clone)]
pub struct PointOutcome {
    pub hit: bool,
    pub claim: Option<Claim>,
    pub verdict: Verdict,
}

impl Explorer {
    pub fn new(
        scenario: &Scenario,
        dests: &[DestinationChoice],
        parallel: usize,
    ) -> Result<Explorer, ExploreError> {
        let mut spec = scenario.workload_spec();
        spec.ddl = scenario.workload.ddl;
        Ok(Explorer {
            reference: Reference::build(&spec, dests)?,
            runner: Runner::new()?,
            pool: KillPool::new(parallel)?,
        })
    }

    /// The fault-free run with tracing on.
    pub fn trace(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        d: DestinationChoice,
    ) -> Result<RunOutcome, ExploreError> {
        self.runner.materialize(&self.reference, d)?;
        self.runner.run(
            strategy,
            params,
            &self.reference,
            FaultPlan::default(),
            true,
        )
    }

    /// Runs one in-process plan and verifies the result. Power cuts are judged as a dead
    /// process: the strategy's claim after the cut is never seen by anyone.
    pub fn run_inprocess(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        d: DestinationChoice,
        plan: FaultPlan,
        power_cut: bool,
        trace: bool,
    ) -> Result<(PointOutcome, RunOutcome), ExploreError> {
        self.runner.materialize(&self.reference, d)?;
        let run = self
            .runner
            .run(strategy, params, &self.reference, plan, trace)?;
        let claim = (!power_cut || !run.fired()).then(|| run.claim.clone());
        let verdict = self.runner.verify(&mut self.reference, d, claim.clone())?;
        Ok((
            PointOutcome {
                hit: run.fired(),
                claim,
                verdict,
            },
            run,
        ))
    }

    /// Runs one crash point (in-process or in a child) and verifies it.
    pub fn run_point(
        &mut self,
        strategy: &str,
        params: &StrategyParams,
        d: DestinationChoice,
        point: &CrashPoint,
        seed: u64,
    ) -> Result<PointOutcome, ExploreError> {
        if point.kind.in_child(strategy) {
            let plan = point.plan_with(seed, vfs_faults::PowerCutMode::Exit);
            let out = self
                .pool
                .run_batch(&mut self.reference, d, strategy, params, &[plan])?
                .remove(0);
            return Ok(PointOutcome {
                hit: out.hit,
                claim: out.claim,
                verdict: out.verdict,
            });
        }
        let pc = point.kind == PointKind::PowerCut;
        Ok(self
            .run_inprocess(strategy, params, d, point.plan(seed), pc, false)?
            .0)
    }
}

/// The replay ID of a crash point.
pub fn replay_id(
    scenario: &str,
    seed: u64,
    strategy: &str,
    d: DestinationChoice,
    p: &CrashPoint,
) -> String {
    format!(
        "crash:{scenario}:{seed}:{strategy}:{}:{}:{}",
        d.as_str(),
        p.index,
        p.kind.as_str()
    )
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

pub fn parse_replay_id(id: &str) -> Option<PointId> {
    let rest = id.strip_prefix("crash:")?;
    let mut parts = rest.rsplitn(6, ':');
    let kind = PointKind::parse(parts.next()?)?;
    let index = parts.next()?.parse().ok()?;
    let dest: DestinationChoice =
        serde_json::from_value(serde_json::Value::String(parts.next()?.to_string())).ok()?;
    let strategy = parts.next()?.to_string();
    let seed = parts.next()?.parse().ok()?;
    let scenario = parts.next()?.to_string();
    Some(PointId {
        scenario,
        seed,
        strategy,
        destination: dest,
        index,
        kind,
    })
}

/// The operations after which a SIGKILL leaves different files.
fn changes_files(op: OpKind) -> bool {
    matches!(
        op,
        OpKind::Open | OpKind::Write | OpKind::Truncate | OpKind::Delete
    )
}

/// Kill-equivalence class of every kill point: the number of file-changing operations
/// completed when the process dies.
fn kill_classes(trace: &[vfs_faults::TraceEntry]) -> HashMap<(u64, PointKind), u64> {
    let mut done = 0u64;
    let mut out = HashMap::new();
    for e in trace {
        out.insert((e.index, PointKind::KillBefore), done);
        if changes_files(e.op) {
            done += 1;
        }
        out.insert((e.index, PointKind::KillAfter), done);
    }
    out
}

fn fnv(h: u64, x: u64) -> u64 {
    let mut h = h;
    for b in x.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct DoubleAcc {
    a: u64,
    b: u64,
    runs: u64,
}

/// Sweeps one strategy on one destination.
#[allow(clippy::too_many_arguments)]
fn sweep_combo(
    ex: &mut Explorer,
    scenario: &Scenario,
    scenario_id: &str,
    entry: &StrategyEntry,
    d: DestinationChoice,
    opts: &SweepOptions,
    interrupted: &AtomicBool,
    dc: &mut Option<DoubleAcc>,
) -> Result<ComboReport, ExploreError> {
    let started = Instant::now();
    let name = entry.name.as_str();
    let params = &entry.params;
    let traced = ex.trace(name, params, d)?;
    let trace = traced.trace.clone();
    let mut points = enumerate(&trace, &scenario.crash.kinds);
    let points_total = points.len() as u64;
    if let Some(n) = opts.sample.filter(|&n| (n as usize) < points.len()) {
        let mut rng =
            ChaCha8Rng::seed_from_u64(scenario.seed ^ crate::fault::DEST_ROLE.len() as u64);
        points.shuffle(&mut rng);
        points.truncate(n as usize);
        points.sort_by_key(|p| (p.index, p.kind));
    }
    let dedup = scenario.crash.dedup_kills && crate::fault::writes_dest_through_vfs(name);
    let classes = kill_classes(&trace);

    let mut results: Vec<(CrashPoint, PointOutcome)> = Vec::new();
    // In-process points first.
    for p in points.iter().filter(|p| !p.kind.in_child(name)) {
        if interrupted.load(Ordering::Relaxed) {
            return Err(ExploreError::Interrupted);
        }
        let out = ex.run_point(name, params, d, p, scenario.seed)?;
        results.push((p.clone(), out));
    }
    let inprocess_states = results.len() as u64;
    // Kill points: one child per class (or per point).
    let kills: Vec<&CrashPoint> = points.iter().filter(|p| p.kind.in_child(name)).collect();
    let mut reps: Vec<&CrashPoint> = Vec::new();
    let mut class_of: Vec<usize> = Vec::new();
    let mut rep_of_class: HashMap<u64, usize> = HashMap::new();
    for p in &kills {
        let i = if dedup && p.kind.needs_child() {
            let c = classes[&(p.index, p.kind)];
            *rep_of_class.entry(c).or_insert_with(|| {
                reps.push(p);
                reps.len() - 1
            })
        } else {
            reps.push(p);
            reps.len() - 1
        };
        class_of.push(i);
    }
    let mut rep_out: Vec<PointOutcome> = Vec::new();
    for chunk in reps.chunks(ex.pool.parallel()) {
        if interrupted.load(Ordering::Relaxed) {
            return Err(ExploreError::Interrupted);
        }
        let plans: Vec<FaultPlan> = chunk
            .iter()
            .map(|p| p.plan_with(scenario.seed, vfs_faults::PowerCutMode::Exit))
            .collect();
        let outs = ex
            .pool
            .run_batch(&mut ex.reference, d, name, params, &plans)?;
        rep_out.extend(outs.into_iter().map(|o| PointOutcome {
            hit: o.hit,
            claim: o.claim,
            verdict: o.verdict,
        }));
    }
    for (p, &i) in kills.iter().zip(&class_of) {
        results.push(((*p).clone(), rep_out[i].clone()));
    }

    if let Some(acc) = dc.as_mut() {
        let again = ex.trace(name, params, d)?;
        acc.a = fnv(acc.a, traced.trace_hash);
        acc.b = fnv(acc.b, again.trace_hash);
        acc.runs += 1;
        // And one faulted plan, twice: the in-process point in the middle.
        let inproc: Vec<&CrashPoint> = points.iter().filter(|p| !p.kind.in_child(name)).collect();
        if let Some(p) = inproc.get(inproc.len() / 2) {
            let pc = p.kind == PointKind::PowerCut;
            for (i, h) in [&mut acc.a, &mut acc.b].into_iter().enumerate() {
                let _ = i;
                let (_, run) =
                    ex.run_inprocess(name, params, d, p.plan(scenario.seed), pc, true)?;
                *h = fnv(*h, run.trace_hash);
            }
            acc.runs += 1;
        }
    }

    let mut verdicts: BTreeMap<String, u64> = VerdictKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), 0))
        .collect();
    let mut by_fault: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut hit: BTreeMap<String, u64> = BTreeMap::new();
    let mut planned: BTreeMap<String, u64> = BTreeMap::new();
    let mut violations = Vec::new();
    let mut not_hit = Vec::new();
    for (p, o) in &results {
        let key = p.kind.hit_key().to_string();
        *planned.entry(key.clone()).or_default() += 1;
        if o.hit {
            *hit.entry(key.clone()).or_default() += 1;
        } else if not_hit.len() < 20 {
            not_hit.push(p.label());
        }
        *verdicts.entry(o.verdict.kind.as_str().into()).or_default() += 1;
        *by_fault
            .entry(p.kind.as_str().to_string())
            .or_default()
            .entry(o.verdict.kind.as_str().into())
            .or_default() += 1;
        if o.verdict.kind.is_violation() {
            violations.push(CrashViolation {
                kind: o.verdict.kind,
                point: p.label(),
                fault: p.kind.as_str().to_string(),
                replay: crate::report::replay_command(&replay_id(
                    scenario_id,
                    scenario.seed,
                    name,
                    d,
                    p,
                )),
                detail: o.verdict.detail.clone(),
            });
        }
    }
    let expectation_met = match entry.expect {
        Expect::Safe => violations.is_empty(),
        Expect::Unsafe => !violations.is_empty(),
        Expect::Any => true,
    };
    Ok(ComboReport {
        name: name.to_string(),
        destination: d.as_str().to_string(),
        expect: entry.expect,
        trace_len: trace.len() as u64,
        trace_hash: format!("{:016x}", traced.trace_hash),
        points_total,
        points_tested: results.len() as u64,
        inprocess_states,
        kill_states_run: reps.len() as u64,
        faults_hit: hit,
        faults_planned: planned,
        verdicts,
        verdicts_by_fault: by_fault,
        violations,
        not_hit,
        expectation_met,
        duration_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    })
}

/// The destinations a strategy is swept on.
pub fn destinations_of(scenario: &Scenario, entry: &StrategyEntry) -> Vec<DestinationChoice> {
    entry
        .destinations
        .clone()
        .unwrap_or_else(|| scenario.crash.destinations.clone())
}

/// Runs the crash-points sweep of `scenario`.
pub fn run(
    scenario: &Scenario,
    scenario_id: &str,
    opts: &SweepOptions,
    interrupted: Arc<AtomicBool>,
) -> CrashReport {
    let started = Instant::now();
    let mut all: Vec<DestinationChoice> = scenario
        .strategies
        .iter()
        .flat_map(|e| destinations_of(scenario, e))
        .collect();
    all.sort();
    all.dedup();
    let mut strategies = Vec::new();
    let mut error = None;
    let mut was_interrupted = false;
    let mut dc = opts.doublecheck.then_some(DoubleAcc {
        a: 0xcbf2_9ce4_8422_2325,
        b: 0xcbf2_9ce4_8422_2325,
        runs: 0,
    });
    match Explorer::new(scenario, &all, scenario.crash.kill_parallel as usize) {
        Err(e) => error = Some(e.to_string()),
        Ok(mut ex) => {
            'outer: for entry in &scenario.strategies {
                for d in destinations_of(scenario, entry) {
                    let t = Instant::now();
                    match sweep_combo(
                        &mut ex,
                        scenario,
                        scenario_id,
                        entry,
                        d,
                        opts,
                        &interrupted,
                        &mut dc,
                    ) {
                        Ok(c) => {
                            if opts.progress {
                                eprintln!(
                                    "{} on {}: {} ops, {}/{} points, {} violations ({:.1} s)",
                                    c.name,
                                    c.destination,
                                    c.trace_len,
                                    c.points_tested,
                                    c.points_total,
                                    c.violations.len(),
                                    t.elapsed().as_secs_f64()
                                );
                            }
                            strategies.push(c)
                        }
                        Err(ExploreError::Interrupted) => {
                            was_interrupted = true;
                            break 'outer;
                        }
                        Err(e) => {
                            error = Some(format!(
                                "{} on {} (seed {}): {e}",
                                entry.name,
                                d.as_str(),
                                scenario.seed
                            ));
                            break 'outer;
                        }
                    }
                }
            }
        }
    }
    let expectations_met =
        error.is_none() && !was_interrupted && strategies.iter().all(|c| c.expectation_met);
    CrashReport {
        scenario: scenario.name.clone(),
        mode: "crash-points".into(),
        seed: scenario.seed,
        sqlite_version: rusqlite::version().to_string(),
        duration_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        reference: serde_json::json!({
            "pages": scenario.source.pages,
            "page_size": scenario.source.page_size,
            "writers": 0,
            "dedup_kills": scenario.crash.dedup_kills,
            "kill_parallel": scenario.crash.kill_parallel,
            "sample": opts.sample,
        }),
        strategies,
        expectations_met,
        doublecheck: dc.map(|acc| Doublecheck {
            trace_hash_a: format!("{:016x}", acc.a),
            trace_hash_b: format!("{:016x}", acc.b),
            equal: acc.a == acc.b,
            runs: acc.runs,
        }),
        interrupted: was_interrupted,
        error,
    }
}

/// Re-runs one crash point from its ID; returns the JSON the `replay` command prints.
pub fn replay(id: &PointId, scenario: &Scenario) -> Result<serde_json::Value, ExploreError> {
    let entry = scenario.strategy(&id.strategy).cloned().ok_or_else(|| {
        ExploreError::Setup(format!("strategy {} not in the scenario", id.strategy))
    })?;
    let mut ex = Explorer::new(scenario, &[id.destination], 1)?;
    let traced = ex.trace(&entry.name, &entry.params, id.destination)?;
    let points = enumerate(&traced.trace, &PointKind::ALL);
    let p = points
        .iter()
        .find(|p| p.index == id.index && p.kind == id.kind)
        .cloned()
        .ok_or_else(|| {
            ExploreError::Setup(format!(
                "{}: no {} point at op {} (trace has {} ops)",
                id.strategy,
                id.kind.as_str(),
                id.index,
                traced.trace.len()
            ))
        })?;
    let out = ex.run_point(&entry.name, &entry.params, id.destination, &p, id.seed)?;
    // In-process points: the faulted run once more with tracing, for the operations around the
    // fault (same plan, same result: the sweep is deterministic).
    let around: Vec<String> = if p.kind.in_child(&entry.name) {
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
}
