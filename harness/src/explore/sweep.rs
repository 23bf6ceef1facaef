//! The `crash-points` scenario mode: for each strategy × destination, the fault-free trace, then
//! one state per crash point (or a sample), the verdicts, the report, replay and doublecheck.
//!
//! Why its own module: it is the driver that ties reference, points, the in-process runner and
//! the kill pool together. Replay IDs and replay live in `explore::replay`.
//!
//! Kill equivalence (`[crash] dedup_kills`, on by default): a SIGKILL leaves the files exactly
//! as the completed operations made them, so two kill points with the same completed prefix of
//! file-changing operations (open, write, truncate, delete) leave identical files. For strategies
//! that write only through SQLite (hence through the VFS), one child per such class is run and
//! its verdict stands for every point of the class. Such a point is *covered* (counted in
//! `points_tested`, its verdict counted) but did not run: it is counted in
//! `kill_points_inferred`, not in `faults_planned` / `faults_hit`, which count states that ran.
//! File-copy strategies change files with `std::fs` between VFS operations, so every kill point
//! of theirs runs its own child.
//!
//! Sampling (`--sample N`) draws each strategy × destination's sample from its own ChaCha8
//! stream, seeded with FNV-1a of the scenario seed, the strategy and the destination.

pub use super::inprocess::LanePolicy;
use super::inprocess::{Lane, RunOutcome, Runner};
use super::kill::KillPool;
use super::points::{enumerate, kinds_for, replay_id, CrashPoint, PointKind};
use super::reference::Reference;
use super::report::{ComboReport, CrashReport, CrashViolation, DoubleAcc, Doublecheck};
use super::verdict_cache::CacheMode;
use super::ExploreError;
use crate::event::Claim;
use crate::oracle::{Verdict, VerdictKind};
use crate::process::Interrupt;
use crate::scenario::{DestinationChoice, Scenario, StrategyEntry};
use crate::stable_hash::{fnv1a, fnv1a_from};
use crate::strategy::StrategyParams;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
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
    pub lanes: LanePolicy,
    /// Why the last traced strategy × destination runs on the lane it runs on.
    pub lane_reason: String,
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
        interrupted: &Interrupt,
    ) -> Result<Explorer, ExploreError> {
        crate::heap::keep_freed_memory();
        let mut spec = scenario.workload_spec();
        spec.ddl = scenario.workload.ddl;
        Ok(Explorer {
            reference: Reference::build(&spec, dests, interrupted)?,
            runner: Runner::new()?,
            pool: KillPool::new(parallel)?,
            lanes: if scenario.crash.memory_lane {
                LanePolicy::Auto
            } else {
                LanePolicy::Disk
            },
            lane_reason: String::new(),
        })
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
        if point.kind.needs_child() {
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
        if point.kind == PointKind::PowerCutAfterClaim {
            // The claim was made before the cut: a success the cut undoes is false-success.
            self.runner.materialize(&self.reference, d)?;
            let seed = seed ^ point.index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let run = self.runner.run_then_cut(
                strategy,
                params,
                &self.reference,
                seed,
                vfs_faults::MetadataOrder::Ordered,
            )?;
            let claim = Some(run.claim);
            let verdict = self.runner.verify(&mut self.reference, d, claim.clone())?;
            return Ok(PointOutcome {
                hit: true,
                claim,
                verdict,
            });
        }
        let pc = point.kind.is_power_cut();
        Ok(self
            .run_inprocess(strategy, params, d, point.plan(seed), pc, false)?
            .0)
    }
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

/// The sample seed of one strategy × destination: FNV-1a of seed, strategy and destination.
pub fn sample_seed(seed: u64, strategy: &str, d: DestinationChoice) -> u64 {
    let h = fnv1a_from(fnv1a(&seed.to_le_bytes()), strategy.as_bytes());
    fnv1a_from(h, d.as_str().as_bytes())
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
    interrupted: &Interrupt,
    dc: &mut Option<DoubleAcc>,
) -> Result<ComboReport, ExploreError> {
    let started = Instant::now();
    let name = entry.name.as_str();
    let id = entry.id();
    let params = &entry.params;
    let traced = ex.trace(name, params, d)?;
    let lane = ex.lane_reason.clone();
    let trace = traced.trace.clone();
    // Power cuts are left out where the VFS cannot see the strategy's writes (not modelled).
    let (kinds, not_modelled) = kinds_for(name, &scenario.crash.kinds[..]);
    let window_start = scenario.crash.window.start(&trace);
    let mut points = enumerate(&trace, &kinds);
    points.retain(|p| p.index >= window_start);
    let points_total = points.len() as u64;
    if let Some(n) = opts.sample.filter(|&n| (n as usize) < points.len()) {
        let mut rng = ChaCha8Rng::seed_from_u64(sample_seed(scenario.seed, name, d));
        points.shuffle(&mut rng);
        // A sample always includes the known findings' points: they must keep reproducing.
        let mut drawn = 0usize;
        points.retain(|p| {
            drawn += 1;
            drawn <= n as usize
                || crate::report::known::is_known(
                    &scenario.known,
                    &replay_id(scenario_id, scenario.seed, id, d, p),
                )
        });
        points.sort_by_key(|p| (p.index, p.kind));
    }
    let dedup = scenario.crash.dedup_kills
        && crate::strategy::facts(name).is_some_and(|f| f.dest_through_vfs);
    let classes = kill_classes(&trace);

    let mut results: Vec<(CrashPoint, PointOutcome)> = Vec::new();
    // In-process points first.
    for p in points.iter().filter(|p| !p.kind.needs_child()) {
        if interrupted.is_set() {
            return Err(ExploreError::Interrupted);
        }
        let out = ex.run_point(name, params, d, p, scenario.seed)?;
        results.push((p.clone(), out));
    }
    let inprocess_states = results.len() as u64;
    // Kill points: one child per class (or per point).
    let kills: Vec<&CrashPoint> = points.iter().filter(|p| p.kind.needs_child()).collect();
    let mut reps: Vec<&CrashPoint> = Vec::new();
    let mut class_of: Vec<usize> = Vec::new();
    let mut rep_of_class: HashMap<u64, usize> = HashMap::new();
    for p in &kills {
        let i = if dedup {
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
    // Chunks keep an interrupt prompt; inside one the pool keeps its workers busy.
    for chunk in reps.chunks(ex.pool.parallel() * 16) {
        if interrupted.is_set() {
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
    // The representative ran; the other points of its class are inferred from it.
    let mut rep_seen = vec![false; reps.len()];
    let mut inferred = vec![false; results.len()];
    for (p, &i) in kills.iter().zip(&class_of) {
        results.push(((*p).clone(), rep_out[i].clone()));
        inferred.push(std::mem::replace(&mut rep_seen[i], true));
    }

    if let Some(acc) = dc.as_mut() {
        let again = ex.trace(name, params, d)?;
        acc.add(traced.trace_hash, again.trace_hash);
        // And one faulted plan, twice: the in-process point in the middle.
        let inproc: Vec<&CrashPoint> = points.iter().filter(|p| !p.kind.needs_child()).collect();
        if let Some(p) = inproc.get(inproc.len() / 2) {
            let pc = p.kind.is_power_cut();
            let mut hashes = [0u64; 2];
            for h in &mut hashes {
                let (_, run) =
                    ex.run_inprocess(name, params, d, p.plan(scenario.seed), pc, true)?;
                *h = run.trace_hash;
            }
            acc.add(hashes[0], hashes[1]);
        }
        // States run in memory: a sample of them again on real files, the same verdicts.
        if ex.runner.lane() == Lane::Memory {
            let step = (inproc.len() / 8).max(1);
            let mut folded = [0u64; 2];
            for p in inproc.iter().step_by(step) {
                for (lane, h) in [Lane::Memory, Lane::Disk].into_iter().zip(&mut folded) {
                    ex.runner.set_lane(lane)?;
                    let o = ex.run_point(name, params, d, p, scenario.seed)?;
                    // The claim's kind: an error's message may name the lane's files.
                    let claim = o.claim.as_ref().map(|c| match c {
                        Claim::Success => "success",
                        Claim::Error { .. } => "error",
                        Claim::Aborted { .. } => "aborted",
                    });
                    let seen = format!(
                        "{} {claim:?} {:?} {:?} {:?}",
                        o.hit, o.verdict.kind, o.verdict.k, o.verdict.lag
                    );
                    *h = fnv1a_from(*h, seen.as_bytes());
                }
            }
            ex.runner.set_lane(Lane::Memory)?;
            acc.add(folded[0], folded[1]);
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
    for ((p, o), &was_inferred) in results.iter().zip(&inferred) {
        if !was_inferred {
            let key = p.kind.hit_key().to_string();
            *planned.entry(key.clone()).or_default() += 1;
            if o.hit {
                *hit.entry(key).or_default() += 1;
            } else if not_hit.len() < 20 {
                not_hit.push(p.label());
            }
        }
        *verdicts.entry(o.verdict.kind.as_str().into()).or_default() += 1;
        *by_fault
            .entry(p.kind.as_str().to_string())
            .or_default()
            .entry(o.verdict.kind.as_str().into())
            .or_default() += 1;
        if o.verdict.kind.is_violation() {
            let vid = replay_id(scenario_id, scenario.seed, id, d, p);
            violations.push(CrashViolation {
                kind: o.verdict.kind,
                point: p.label(),
                fault: p.kind.as_str().to_string(),
                replay: crate::report::replay_command(&vid),
                known: crate::report::known::is_known(&scenario.known, &vid),
                id: vid,
                detail: o.verdict.detail.clone(),
            });
        }
    }
    let tested: Vec<String> = results
        .iter()
        .map(|(p, _)| replay_id(scenario_id, scenario.seed, id, d, p))
        .collect();
    let ran = |k: &crate::replay_id::ReplayId| {
        tested
            .iter()
            .any(|t| crate::replay_id::ReplayId::parse(t).is_some_and(|t| t.same_finding(k)))
    };
    let ids: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
    let kc = crate::report::known::check(&scenario.known, scenario.seed, id, ran, &ids);
    let counted = match entry.expect {
        crate::scenario::Expect::Safe => kc.unexpected,
        _ => violations.len(),
    };
    let expectation_met = kc.missing.is_empty() && entry.expect.is_met(counted);
    let kill_points_inferred = inferred.iter().filter(|&&i| i).count() as u64;
    Ok(ComboReport {
        name: id.to_string(),
        known_reproduced: kc.reproduced,
        known_missing: kc.missing,
        destination: d.as_str().to_string(),
        expect: entry.expect,
        trace_len: trace.len() as u64,
        trace_hash: format!("{:016x}", traced.trace_hash),
        window: scenario.crash.window.as_str().to_string(),
        window_start,
        points_total,
        points_tested: results.len() as u64,
        inprocess_states,
        kill_states_run: reps.len() as u64,
        kill_points_inferred,
        not_modelled,
        faults_hit: hit,
        faults_planned: planned,
        verdicts,
        verdicts_by_fault: by_fault,
        violations,
        not_hit,
        lane,
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
    interrupted: Interrupt,
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
    let mut stopped_by = None;
    let mut dc = opts.doublecheck.then(DoubleAcc::default);
    let mut cache = serde_json::Value::Null;
    match Explorer::new(
        scenario,
        &all,
        scenario.crash.kill_parallel as usize,
        &interrupted,
    ) {
        Err(ExploreError::Interrupted) => stopped_by = interrupted.signal(),
        Err(e) => error = Some(e.to_string()),
        Ok(mut ex) => {
            // --doublecheck verifies every state, also those seen before, and compares.
            ex.reference.verdicts.mode = if opts.doublecheck {
                CacheMode::Check
            } else {
                CacheMode::Use
            };
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
                                crate::console::errln!(
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
                            stopped_by = interrupted.signal();
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
            let v = &ex.reference.verdicts;
            cache = serde_json::json!({
                "mode": format!("{:?}", v.mode).to_lowercase(),
                "seen_before": v.hits,
                "verified": v.misses,
            });
        }
    }
    let ids: Vec<&str> = scenario.strategies.iter().map(|e| e.id()).collect();
    let accounted: Vec<&String> = strategies
        .iter()
        .flat_map(|c| c.known_reproduced.iter().chain(&c.known_missing))
        .collect();
    let known_unchecked = if error.is_none() && stopped_by.is_none() {
        crate::report::known::unchecked(&scenario.known, scenario.seed, &ids, &accounted)
    } else {
        Vec::new()
    };
    let expectations_met = error.is_none()
        && stopped_by.is_none()
        && known_unchecked.is_empty()
        && strategies.iter().all(|c| c.expectation_met);
    CrashReport {
        known_unchecked,
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
            "verdict_cache": cache,
        }),
        strategies,
        expectations_met,
        doublecheck: dc.map(|acc| Doublecheck {
            trace_hash_a: format!("{:016x}", acc.a),
            trace_hash_b: format!("{:016x}", acc.b),
            equal: acc.a == acc.b,
            runs: acc.runs,
        }),
        interrupted: stopped_by.is_some(),
        interrupted_by: stopped_by,
        error,
    }
}
