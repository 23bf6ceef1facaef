//! The text outputs of `bench restarts`: terminal table (with its legend) and CSV.
//!
//! Why it exists: the report is the product of the bench (the issue publishes the table); the
//! rendering is kept apart from the measurement. The SVG is in [`super::plot`].

use super::cell::Variant;
use super::{RestartsReport, Row};
use std::fmt::Write as _;

pub use super::plot::svg;

/// "all" for -1, the number otherwise.
pub fn npage_label(npage: i32) -> String {
    if npage <= 0 {
        "all".into()
    } else {
        npage.to_string()
    }
}

pub fn rate_label(r: &Row) -> String {
    match r.writer_rate.as_f64() {
        Some(v) => format!("{v:.0}"),
        None => "max".into(),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

fn pred_time(r: &Row) -> String {
    match r.predicted {
        Some(p) if !p.duration_s.is_finite() || p.duration_s > 1e4 => "inf".into(),
        Some(p) => format!("{:.3}", p.duration_s),
        None => "-".into(),
    }
}

fn pred_poisson(r: &Row) -> String {
    match r.predicted {
        Some(p) if !p.passes_poisson.is_finite() || p.passes_poisson > 1e6 => ">1e6".into(),
        Some(p) => format!("{:.1}", p.passes_poisson - 1.0),
        None => "-".into(),
    }
}

fn pred_restarts(r: &Row) -> String {
    match r.predicted {
        Some(p) if !p.restarts.is_finite() => "livelock".into(),
        Some(p) if p.restarts > 1e6 => ">1e6".into(),
        Some(p) => format!("{:.1}", p.restarts),
        None => "-".into(),
    }
}

/// The terminal table, the advice and the variation.
pub fn table(rep: &RestartsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "bench restarts: {} pages of {} B, SQLite {}, {} agreeing repeat(s) (at most {}), budget {} s per run, wall {:.1} s",
        rep.pages, rep.page_size, rep.sqlite_version, rep.repeats, rep.repeat_cap, rep.budget_s, rep.wall_s
    );
    if let Some(m) = &rep.cost_model {
        let _ = writeln!(
            s,
            "model: {:.2} µs per step + {:.3} µs per page (fitted on the writer-free cells); pred_* = paced writer, pois_rst = Poisson commits",
            m.step_s * 1e6,
            m.page_s * 1e6
        );
    }
    let _ = writeln!(
        s,
        "{:<10} {:>5} {:>5} {:<19} {:>8} {:>8} {:>5} {:>7} {:>5} {:>5} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}",
        "variant", "npage", "rate", "verdict", "restarts", "vfs", "agree", "X", "S", "det", "passes", "steps",
        "time_s", "pred_rst", "pred_s", "pois_rst", "amp", "commits", "p50_ms", "p99_ms", "wal_KiB",
        "step_ms", "dst_KiB"
    );
    for r in &rep.rows {
        let variant = match r.variant {
            Variant::OtherProcess => "other",
            Variant::SameConnection => "same-conn",
        };
        let done = verdict_cell(r);
        let (x, det) = det_cells(r);
        let time = if r.completed {
            format!("{:.3}", r.duration_s)
        } else {
            format!(">{}", r.budget_s)
        };
        let _ = writeln!(
            s,
            "{:<10} {:>5} {:>5} {:<19} {:>8} {:>8} {:>5} {:>7} {:>5} {:>5} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9} {:>6.2} {:>7} {:>7} {:>7} {:>8.0} {:>8.2} {:>8.0}",
            variant,
            npage_label(r.npage),
            rate_label(r),
            done,
            r.restarts,
            r.restarts_vfs,
            if r.restarts_agree { "yes" } else { "NO" },
            x,
            r.det_steps_per_pass
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            det,
            r.passes,
            r.steps,
            time,
            pred_restarts(r),
            pred_time(r),
            pred_poisson(r),
            r.amplification,
            r.commits,
            opt(r.commit_p50_ms, 2),
            opt(r.commit_p99_ms, 2),
            r.max_wal_bytes / 1024.0,
            r.longest_step_ms,
            r.dest_bytes / 1024.0
        );
    }
    for line in legend(rep) {
        let _ = writeln!(s, "{line}");
    }
    for a in &rep.advice_lines {
        let _ = writeln!(s, "advice: {a}");
    }
    if let Some(v) = &rep.variation {
        let _ = writeln!(
            s,
            "variation vs {}: completion time of {} cells: median {:.1}%, max {:.1}%, {} within ±10%; restarts (cells >= 5): {} cells, median {:.1}%, {} within ±10%; same done/livelock status in {}/{}",
            v.baseline,
            v.duration_cells,
            v.duration_median_rel * 100.0,
            v.duration_max_rel * 100.0,
            v.duration_within_10pct,
            v.restart_cells,
            v.restarts_median_rel * 100.0,
            v.restarts_within_10pct,
            v.same_status,
            v.compared
        );
    }
    s
}

/// The verdict column: `yes k/n`, `LL k/n <trend>` (did not finish), `unstable k/n <trend>`.
pub fn verdict_cell(r: &Row) -> String {
    let k = format!("{}/{}", r.completed_runs, r.repeats);
    let trend = r.trend.map(|t| t.as_str()).unwrap_or("");
    match (r.stable, r.completed_runs > 0) {
        (true, true) => format!("yes {k}"),
        (true, false) => format!("LL {k} {trend}"),
        (false, _) => format!("unstable {k} {trend}"),
    }
    .trim_end()
    .to_string()
}

/// The X and det columns: steps per commit, and the deterministic verdict at that schedule.
fn det_cells(r: &Row) -> (String, &'static str) {
    let x = match (r.steps_per_commit, r.det_finishes) {
        (Some(x), _) if x < 10.0 => format!("{x:.1}"),
        (Some(x), _) => format!("{x:.0}"),
        (None, Some(_)) => "inf".into(),
        (None, None) => "-".into(),
    };
    let det = match r.det_finishes {
        Some(true) => "yes",
        Some(false) => "never",
        None => "-",
    };
    (x, det)
}

/// The table's legend: the verdicts, the repeat rule, the deterministic columns, the counters.
pub fn legend(rep: &RestartsReport) -> Vec<String> {
    let mut out = vec![
        format!(
            "verdict: yes k/n = finished in every repeat; LL k/n = did not finish in any; \
             unstable k/n = the repeats disagree (k of n finished); {} ({} unstable cells)",
            rep.repeat_rule, rep.unstable
        ),
        format!("{} (budget {} s)", rep.did_not_finish, rep.budget_s),
    ];
    if let Some(d) = &rep.deterministic {
        out.push(format!(
            "X = backup steps per foreign commit in the cell (median; inf = none landed); S = steps \
             per pass in the deterministic mode ({} pages); det = its verdict with a commit every X \
             steps: yes iff X >= S (run exactly at X = S and S - 1 for every nPage: {} of {} cells \
             differ from that rule)",
            d.pages,
            d.mismatches,
            d.cells.len()
        ));
    }
    out.push(format!(
        "restart counts (formula vs VFS page-1 re-reads) disagree in {} of {} cells ({} unexplained); {}",
        rep.disagreements,
        rep.rows.len(),
        rep.disagreements_unexplained,
        rep.authoritative_counter
    ));
    for r in &rep.rows {
        if let Some(why) = &r.restarts_disagree_reason {
            out.push(format!(
                "  {} nPage {} rate {}: {why}",
                r.variant.as_str(),
                npage_label(r.npage),
                rate_label(r)
            ));
        }
    }
    out
}

/// The rows as CSV (medians and predictions; no per-run detail).
pub fn csv(rep: &RestartsReport) -> String {
    let mut s = String::from(
        "variant,npage,writer_rate,completed,completed_runs,repeats,restarts,restarts_vfs,restarts_agree,passes,steps,duration_s,pred_restarts,pred_duration_s,amplification,commits,commit_rate,commit_p50_ms,commit_p99_ms,max_wal_bytes,longest_step_ms,dest_bytes,verdict,trend,steps_per_commit,det_steps_per_pass,det_finishes\n",
    );
    for r in &rep.rows {
        let p = r.predicted;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{:.6},{},{},{:.4},{},{:.1},{},{},{},{:.3},{},{},{},{},{},{}",
            r.variant.as_str(),
            r.npage,
            rate_label(r),
            r.completed,
            r.completed_runs,
            r.repeats,
            r.restarts,
            r.restarts_vfs,
            r.restarts_agree,
            r.passes,
            r.steps,
            r.duration_s,
            p.map(|p| format!("{:.3}", p.restarts)).unwrap_or_default(),
            p.map(|p| format!("{:.6}", p.duration_s))
                .unwrap_or_default(),
            r.amplification,
            r.commits,
            r.commit_rate,
            opt(r.commit_p50_ms, 3),
            opt(r.commit_p99_ms, 3),
            r.max_wal_bytes,
            r.longest_step_ms,
            r.dest_bytes,
            r.verdict,
            r.trend.map(|t| t.as_str()).unwrap_or(""),
            opt(r.steps_per_commit, 1),
            r.det_steps_per_pass.map(|s| s.to_string()).unwrap_or_default(),
            r.det_finishes.map(|b| b.to_string()).unwrap_or_default()
        );
    }
    s
}
