//! `bench crash-rate`: verified crash states per second on the crash-points reference workload,
//! in-process and with a killed child, and where the time of one state goes.
//!
//! Why its own module: exploration is only useful if it is fast; this measures the two paths
//! with the same code the sweep uses (api-oneshot on the 256-page reference, an existing DELETE
//! destination), cycling through the strategy's crash points.

use crate::explore::points::{enumerate, PointKind};
use crate::explore::sweep::Explorer;
use crate::explore::verdict_cache::{CacheMode, VerdictCache};
use crate::explore::ExploreError;
use crate::scenario::{DestinationChoice, Scenario};
use crate::strategy::StrategyParams;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct CrashRate {
    /// In-process states per second with the verdict cache (the sweep's default).
    pub states_per_s_inprocess: f64,
    /// The same states with every one verified (no cache).
    pub states_per_s_inprocess_uncached: f64,
    /// Fraction of the cached in-process states served from the cache.
    pub cache_hit_rate_inprocess: f64,
    pub states_per_s_kill: f64,
    pub states_per_s_kill_uncached: f64,
    pub cache_hit_rate_kill: f64,
    /// CPU time per kill state (both kill phases, from `/proc/self/stat`): the supervisor's
    /// (materializing, spawning, reaping, verifying) and its workers' (start-up, the backup up
    /// to the kill, the death).
    pub kill_supervisor_cpu_ms: f64,
    pub kill_worker_cpu_ms: f64,
    /// Medians over the uncached in-process states.
    pub verify_ms_median: f64,
    pub materialize_ms_median: f64,
    /// Running the strategy itself (backup through the fault VFS), median.
    pub run_ms_median: f64,
    /// Verification with the cache: a hit is reading and hashing the state's files.
    pub verify_cached_ms_median: f64,
    pub inprocess_states: u64,
    pub kill_states: u64,
    pub kill_parallel: usize,
    pub reference_pages: u32,
    pub strategy: String,
    /// The lane the in-process states ran on, and why.
    pub lane: String,
    /// Seconds per phase at most (four phases: in-process and kill, each without and with the
    /// cache); an in-process phase also ends after one pass over the points.
    pub seconds_per_phase: f64,
    /// The stop signal that cut the phases short (their figures are of the states done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<crate::process::StopSignal>,
    pub where_the_time_goes: String,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// CPU milliseconds (user + system) of this process and of its reaped children, from
/// `/proc/self/stat` (zeros where it cannot be read).
fn cpu_ms() -> [f64; 2] {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return [0.0; 2];
    };
    // Fields after the command name (which may hold spaces) closed by the last `)`.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14-17 (1-based), here 11-14 counted from 0
    // after the state field; in clock ticks of 100 Hz.
    let tick = 10.0;
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) * tick;
    [get(11) + get(12), get(13) + get(14)]
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2] * 1000.0).round() / 1000.0
}

/// One phase's result: states, states/s, cache hit rate, per-phase timings.
struct Phase {
    states: u64,
    rate: f64,
    hit_rate: f64,
    timings: [Vec<f64>; 3],
}

/// Measures for about `seconds` per phase.
/// A stop signal on `interrupted` ends every phase at its next state, with the figures of the
/// states done and `interrupted_by`.
pub fn run(
    seconds: f64,
    interrupted: &crate::process::Interrupt,
) -> Result<CrashRate, ExploreError> {
    let scenario =
        Scenario::load("crash-points").map_err(|e| ExploreError::Setup(e.to_string()))?;
    let d = DestinationChoice::ExistingDelete;
    let strategy = "api-oneshot";
    let params = StrategyParams {
        npage: -1,
        ..StrategyParams::default()
    };
    let parallel = 2;
    let mut ex = Explorer::new(&scenario, &[d], parallel, interrupted)?;
    let traced = ex.trace(strategy, &params, d)?;
    let lane = ex.lane_reason.clone();
    let points = enumerate(&traced.trace, &PointKind::ALL);
    let inproc: Vec<_> = points.iter().filter(|p| !p.kind.needs_child()).collect();
    let kills: Vec<_> = points.iter().filter(|p| p.kind.needs_child()).collect();

    let inprocess = |ex: &mut Explorer, mode: CacheMode| -> Result<Phase, ExploreError> {
        ex.reference.verdicts = VerdictCache::new(mode);
        let mut timings = [Vec::new(), Vec::new(), Vec::new()];
        let t = Instant::now();
        let mut n = 0u64;
        // At most one pass over the points, as a sweep runs them: a second pass would be served
        // from the cache entirely and overstate the cached rate.
        while t.elapsed().as_secs_f64() < seconds
            && (n as usize) < inproc.len()
            && !interrupted.is_set()
        {
            let p = inproc[n as usize];
            ex.run_point(strategy, &params, d, p, scenario.seed)?;
            timings[0].push(ex.runner.last.materialize_ms);
            timings[1].push(ex.runner.last.run_ms);
            timings[2].push(ex.runner.last.verify_ms);
            n += 1;
        }
        Ok(Phase {
            states: n,
            rate: n as f64 / t.elapsed().as_secs_f64(),
            hit_rate: ex.reference.verdicts.hit_rate(),
            timings,
        })
    };
    let kill = |ex: &mut Explorer, mode: CacheMode| -> Result<Phase, ExploreError> {
        ex.reference.verdicts = VerdictCache::new(mode);
        let t = Instant::now();
        let mut k = 0u64;
        while t.elapsed().as_secs_f64() < seconds && !interrupted.is_set() {
            // Batches of 16 per worker: the pool pipelines inside a batch, as a sweep does.
            let plans: Vec<_> = (0..parallel * 16)
                .map(|i| kills[(k as usize + i * 7) % kills.len()].plan(scenario.seed))
                .collect();
            ex.pool
                .run_batch(&mut ex.reference, d, strategy, &params, &plans)?;
            k += plans.len() as u64;
        }
        Ok(Phase {
            states: k,
            rate: k as f64 / t.elapsed().as_secs_f64(),
            hit_rate: ex.reference.verdicts.hit_rate(),
            timings: Default::default(),
        })
    };
    // Uncached first, so the cached phase starts from an empty cache like a sweep does.
    let mut plain = inprocess(&mut ex, CacheMode::Off)?;
    let mut cached = inprocess(&mut ex, CacheMode::Use)?;
    let cpu_before = cpu_ms();
    let kill_plain = kill(&mut ex, CacheMode::Off)?;
    let kill_cached = kill(&mut ex, CacheMode::Use)?;
    let cpu_after = cpu_ms();
    let kill_states = (kill_plain.states + kill_cached.states).max(1) as f64;
    let per_state = |i: usize| round3((cpu_after[i] - cpu_before[i]) / kill_states);
    let [mat, run, ver] = &mut plain.timings;
    let (m, r, v) = (median(mat), median(run), median(ver));
    let vc = median(&mut cached.timings[2]);
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    Ok(CrashRate {
        states_per_s_inprocess: cached.rate.round(),
        states_per_s_inprocess_uncached: plain.rate.round(),
        cache_hit_rate_inprocess: round2(cached.hit_rate),
        states_per_s_kill: kill_cached.rate.round(),
        states_per_s_kill_uncached: kill_plain.rate.round(),
        cache_hit_rate_kill: round2(kill_cached.hit_rate),
        kill_supervisor_cpu_ms: per_state(0),
        kill_worker_cpu_ms: per_state(1),
        verify_ms_median: v,
        materialize_ms_median: m,
        run_ms_median: r,
        verify_cached_ms_median: vc,
        inprocess_states: plain.states + cached.states,
        kill_states: kill_plain.states + kill_cached.states,
        kill_parallel: parallel,
        reference_pages: scenario.source.pages,
        strategy: strategy.into(),
        lane,
        seconds_per_phase: seconds,
        interrupted_by: interrupted.signal(),
        where_the_time_goes: format!(
            "per in-process state (medians): materialize {m:.3} ms (the source and destination \
             templates written over the scratch files on {}), run {r:.3} ms (the backup through \
             the fault VFS: SQLite's own work and file I/O; a fault-free run of this backup \
             through the plain unix VFS costs about the same), verify {v:.3} ms (open + \
             integrity_check + digest of the destination, the source compared with its \
             template), or {vc:.3} ms with the cache (reading and hashing the state's files; \
             {:.0}% of states were served from it); kill states add a process spawn, SQLite \
             start-up and the worker's own source reads per state, {parallel} workers at once",
            if Path::new("/dev/shm").is_dir() {
                "/dev/shm"
            } else {
                "the temp dir"
            },
            cached.hit_rate * 100.0
        ),
    })
}
