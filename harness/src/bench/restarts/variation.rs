//! `bench restarts --baseline`: how far this run's medians are from a previous run's.
//!
//! Why it exists: the issue asks whether the numbers are stable from run to run; comparing a
//! run with a saved JSON answers it cell by cell, apart from the grid runner.

use super::model::median;
use super::RestartsReport;
use serde::{Deserialize, Serialize};

/// How far this run's medians are from a baseline run's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variation {
    pub baseline: String,
    /// Cells completed in both runs, compared on duration.
    pub duration_cells: usize,
    pub duration_median_rel: f64,
    pub duration_max_rel: f64,
    pub duration_within_10pct: usize,
    /// Cells with restarts ≥ 5 in both runs, compared on restarts.
    pub restart_cells: usize,
    pub restarts_median_rel: f64,
    pub restarts_within_10pct: usize,
    /// Cells whose completed/livelock status is the same in both runs.
    pub same_status: usize,
    pub compared: usize,
}

fn rel(a: f64, b: f64) -> f64 {
    let m = (a + b) / 2.0;
    if m == 0.0 {
        0.0
    } else {
        (a - b).abs() / m
    }
}

/// Compares two runs' medians cell by cell (`old`: a previous report's JSON).
pub fn compare(old: &serde_json::Value, new: &RestartsReport, baseline: &str) -> Variation {
    let mut dur = Vec::new();
    let mut rst = Vec::new();
    let (mut same_status, mut compared) = (0, 0);
    let empty = Vec::new();
    let old_rows = old["rows"].as_array().unwrap_or(&empty);
    for n in &new.rows {
        let Some(o) = old_rows.iter().find(|o| {
            o["variant"].as_str() == Some(n.variant.as_str())
                && o["npage"].as_i64() == Some(i64::from(n.npage))
                && o["writer_rate"] == n.writer_rate
        }) else {
            continue;
        };
        compared += 1;
        let o_completed = o["completed"].as_bool().unwrap_or(false);
        if o_completed == n.completed {
            same_status += 1;
        }
        if let (true, true, Some(d)) = (o_completed, n.completed, o["duration_s"].as_f64()) {
            dur.push(rel(d, n.duration_s));
        }
        if let Some(r) = o["restarts"].as_f64().filter(|r| *r >= 5.0) {
            if n.restarts >= 5.0 {
                rst.push(rel(r, n.restarts));
            }
        }
    }
    Variation {
        baseline: baseline.to_string(),
        duration_cells: dur.len(),
        duration_median_rel: median(&dur).unwrap_or(0.0),
        duration_max_rel: dur.iter().copied().fold(0.0, f64::max),
        duration_within_10pct: dur.iter().filter(|x| **x <= 0.10).count(),
        restart_cells: rst.len(),
        restarts_median_rel: median(&rst).unwrap_or(0.0),
        restarts_within_10pct: rst.iter().filter(|x| **x <= 0.10).count(),
        same_status,
        compared,
    }
}
