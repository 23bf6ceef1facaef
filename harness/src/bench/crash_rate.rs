//! `bench crash-rate`: verified crash states per second on the crash-points reference workload,
//! in-process and with a killed child, and where the time of one state goes.
//!
//! Why its own module: exploration is only useful if it is fast; this measures the two paths
//! with the same code the sweep uses (api-oneshot on the 256-page reference, an existing DELETE
//! destination), cycling through the strategy's crash points.

use crate::explore::points::{enumerate, PointKind};
use crate::explore::sweep::Explorer;
use crate::explore::ExploreError;
use crate::scenario::{DestinationChoice, Scenario};
use crate::strategy::StrategyParams;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct CrashRate {
    pub states_per_s_inprocess: f64,
    pub states_per_s_kill: f64,
    pub verify_ms_median: f64,
    pub materialize_ms_median: f64,
    /// Running the strategy itself (backup through the fault VFS), median.
    pub run_ms_median: f64,
    pub inprocess_states: u64,
    pub kill_states: u64,
    pub kill_parallel: usize,
    pub reference_pages: u32,
    pub strategy: String,
    pub where_the_time_goes: String,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2] * 1000.0).round() / 1000.0
}

/// Measures for about `seconds` per path.
pub fn run(seconds: f64) -> Result<CrashRate, ExploreError> {
    let scenario =
        Scenario::load("crash-points").map_err(|e| ExploreError::Setup(e.to_string()))?;
    let d = DestinationChoice::ExistingDelete;
    let strategy = "api-oneshot";
    let params = StrategyParams {
        npage: -1,
        ..StrategyParams::default()
    };
    let parallel = 2;
    let mut ex = Explorer::new(&scenario, &[d], parallel)?;
    let traced = ex.trace(strategy, &params, d)?;
    let points = enumerate(&traced.trace, &PointKind::ALL);
    let inproc: Vec<_> = points.iter().filter(|p| !p.kind.needs_child()).collect();
    let kills: Vec<_> = points.iter().filter(|p| p.kind.needs_child()).collect();

    let (mut mat, mut ver, mut run) = (Vec::new(), Vec::new(), Vec::new());
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed().as_secs_f64() < seconds {
        let p = inproc[n as usize % inproc.len()];
        ex.run_point(strategy, &params, d, p, scenario.seed)?;
        mat.push(ex.runner.last.materialize_ms);
        ver.push(ex.runner.last.verify_ms);
        run.push(ex.runner.last.run_ms);
        n += 1;
    }
    let inproc_rate = n as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut k = 0u64;
    while t.elapsed().as_secs_f64() < seconds {
        let plans: Vec<_> = (0..parallel)
            .map(|i| kills[(k as usize + i * 7) % kills.len()].plan(scenario.seed))
            .collect();
        ex.pool
            .run_batch(&mut ex.reference, d, strategy, &params, &plans)?;
        k += plans.len() as u64;
    }
    let kill_rate = k as f64 / t.elapsed().as_secs_f64();
    let (m, v, r) = (median(&mut mat), median(&mut ver), median(&mut run));
    Ok(CrashRate {
        states_per_s_inprocess: inproc_rate.round(),
        states_per_s_kill: kill_rate.round(),
        verify_ms_median: v,
        materialize_ms_median: m,
        run_ms_median: r,
        inprocess_states: n,
        kill_states: k,
        kill_parallel: parallel,
        reference_pages: scenario.source.pages,
        strategy: strategy.into(),
        where_the_time_goes: format!(
            "per in-process state (medians): materialize {m:.3} ms (copy source + destination \
             templates on {}), run {r:.3} ms (the backup through the fault VFS), verify {v:.3} \
             ms (open + integrity_check + digest of the destination; the source is compared \
             byte for byte with its template); kill states add a process spawn, SQLite start-up \
             and the worker's own source reads per state, {parallel} workers at once",
            if Path::new("/dev/shm").is_dir() {
                "/dev/shm"
            } else {
                "the temp dir"
            }
        ),
    })
}
