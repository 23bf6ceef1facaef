//! Tests of the grid runner: tiny real cells (a thread writer, since the test binary has no
//! `worker` subcommand), the repeat rule in the grid, the same-connection variant, advice,
//! run-to-run comparison and the plot.

use super::*;

fn grid(
    name: &str,
    repeats: u32,
    pages: u32,
    budget_ms: u64,
    npages: Vec<i32>,
    cells: Vec<(Variant, Rate)>,
) -> GridConfig {
    GridConfig {
        pages,
        repeats,
        budget: Duration::from_millis(budget_ms),
        npages,
        cells,
        writer_mode: WriterMode::Thread,
        vfs_name: name.into(),
        seed: 3,
        interrupted: crate::process::Interrupt::new(),
    }
}

/// A stop signal during the grid ends it with the runs that ended, and no error: the
/// partial report the CLI writes (before the signal was handled, the process just died).
#[test]
fn a_stop_signal_ends_the_grid_with_a_partial_report() {
    use crate::process::StopSignal;
    let cfg = grid(
        "bench-restarts-test-stop",
        2,
        200,
        400,
        vec![1, -1],
        vec![(Variant::OtherProcess, Rate::Zero)],
    );
    let stop = cfg.interrupted.clone();
    let rep = run_grid(&cfg, true, |_| stop.raise(StopSignal::Term)).unwrap();
    assert!(rep.interrupted);
    assert_eq!(rep.interrupted_by, Some(StopSignal::Term));
    // The first cell's first run ended and was reported; nothing ran after the signal.
    assert_eq!(rep.rows.len(), 1, "{:?}", rep.rows);
    assert_eq!(rep.rows[0].runs.len(), 1);
    assert!(
        rep.deterministic.is_none(),
        "the boundary is not run after a stop"
    );

    let cfg = grid(
        "bench-restarts-test-stop",
        2,
        200,
        400,
        vec![1],
        vec![(Variant::OtherProcess, Rate::Zero)],
    );
    cfg.interrupted.raise(StopSignal::Int);
    let rep = run_grid(&cfg, true, |_| {}).unwrap();
    assert_eq!(rep.interrupted_by, Some(StopSignal::Int));
    assert!(rep.rows.is_empty());
}

#[test]
fn tiny_real_cells_small_npage_restarts_and_one_step_does_not() {
    let cfg = grid(
        "bench-restarts-test-tiny",
        2,
        1500,
        400,
        vec![1, -1],
        vec![
            (Variant::OtherProcess, Rate::Zero),
            (Variant::OtherProcess, Rate::Max),
        ],
    );
    let rep = run_grid(&cfg, true, |_| {}).unwrap();
    let row = |n: i32, max: bool| {
        rep.rows
            .iter()
            .find(|r| r.npage == n && (r.writer_rate == serde_json::json!("max")) == max)
            .unwrap()
    };
    // Every cell ran twice, or five times when the two disagreed.
    for r in &rep.rows {
        assert_eq!(r.runs.len(), if r.stable { 2 } else { 5 }, "{r:?}");
        assert_eq!(r.repeats as usize, r.runs.len(), "{r:?}");
    }
    // No writer: one pass, both signals say 0, every page copied once; two agreeing repeats.
    for n in [1, -1] {
        let r = row(n, false);
        assert!(r.completed, "{r:?}");
        assert_eq!((r.verdict.as_str(), r.repeats), ("finished", 2), "{r:?}");
        assert_eq!(r.det_finishes, Some(true), "{r:?}");
        assert_eq!((r.restarts, r.restarts_vfs), (0.0, 0.0), "{r:?}");
        assert_eq!(r.amplification, 1.0, "{r:?}");
    }
    // Max-rate writer, nPage 1: restarts or livelock, counted alike both ways.
    let small = row(1, true);
    assert!(small.restarts > 0.0 || !small.completed, "{small:?}");
    assert!(small.commits > 0.0, "{small:?}");
    // The two counts agree exactly in most runs. Under load the VFS signal skips a few WAL
    // reads it cannot map to a page (the WAL was recycled right after a step; the run reports
    // them as `vfs_unmapped_reads`), so allow 1% or 2 restarts, whichever is larger.
    let tolerance = (small.restarts * 0.01).max(2.0);
    assert!(
        (small.restarts - small.restarts_vfs).abs() <= tolerance,
        "{small:?}"
    );
    // Max-rate writer, nPage -1: one step, no restart; a one-step pass always fits.
    let all = row(-1, true);
    assert!(all.completed, "{all:?}");
    assert_eq!(all.det_finishes, Some(true), "{all:?}");
    let det = rep.deterministic.as_ref().unwrap();
    assert_eq!(det.mismatches, 0, "{det:?}");
    assert_eq!((all.restarts, all.restarts_vfs), (0.0, 0.0), "{all:?}");
    assert!(rep.cost_model.is_some());
    assert_eq!(rep.advice_lines.len(), 1, "{:?}", rep.advice_lines);
    assert!(rep.advice.contains("use nPage"), "{}", rep.advice);
    assert!(rep.advice.contains("deterministic: "), "{}", rep.advice);
    // The outputs render.
    assert!(output::table(&rep).contains("advice: "));
    assert_eq!(output::csv(&rep).lines().count(), 1 + rep.rows.len());
    let svg = output::svg(&rep).unwrap();
    assert!(svg.contains("<svg") && svg.contains("all") && svg.contains("nPage"));
}

#[test]
fn same_connection_commits_do_not_restart() {
    let cfg = grid(
        "bench-restarts-test-same",
        1,
        200,
        2000,
        vec![16],
        vec![(Variant::SameConnection, Rate::Max)],
    );
    let rep = run_grid(&cfg, true, |_| {}).unwrap();
    let r = &rep.rows[0];
    assert!(r.completed, "{r:?}");
    assert_eq!((r.restarts, r.restarts_vfs), (0.0, 0.0), "{r:?}");
    assert!(r.commits > 0.0, "{r:?}");
}

#[test]
fn advice_and_variation_from_synthetic_rows() {
    let m = CostModel {
        step_s: 10e-6,
        page_s: 2e-6,
        pages: 4000.0,
    };
    let mk = |npage: i32, rate: serde_json::Value, completed: bool, passes: f64, d: f64| {
        synthetic_row(npage, rate, completed, passes, d)
    };
    let r100 = serde_json::json!(100.0);
    let rows = vec![
        mk(64, r100.clone(), false, 50.0, 1.0),
        mk(1024, r100.clone(), true, 2.0, 0.02),
        mk(-1, r100.clone(), true, 1.0, 0.01),
    ];
    let adv = advice(&rows, 4000);
    assert_eq!(adv.len(), 1);
    assert_eq!(
        adv[0],
        "at 100 commits/s on this database (4000 pages), use nPage >= 1024 (or -1): \
         deterministic: a pass of nPage 1024 is 4 step(s), commits come every ~4.0 steps here: \
         fits; a pass of nPage 64 is 63 step(s), commits come every ~4.0 steps here: does not \
         fit; wall-clock: nPage 1024 finished, nPage 64 did not finish (steady)"
    );
    let mut rep = synthetic_report(rows, adv, Some(m));
    // Through JSON, as a baseline file is read (an infinite prediction becomes null).
    rep.rows[0].predicted = Some(m.predict(64, 100.0));
    let old: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&rep).unwrap()).unwrap();
    rep.rows[1].duration_s = 0.022;
    let v = compare(&old, &rep, "old");
    assert_eq!((v.compared, v.same_status, v.duration_cells), (3, 3, 2));
    assert!((v.duration_max_rel - 0.002 / 0.021).abs() < 1e-9, "{v:?}");
    assert_eq!(v.duration_within_10pct, 2);
    assert_eq!(v.restart_cells, 1);
}

/// A row of the other-process variant with 4 steps per commit and S = ceil(4000 / nPage).
fn synthetic_row(npage: i32, rate: serde_json::Value, completed: bool, passes: f64, d: f64) -> Row {
    let s = if npage <= 0 {
        1
    } else {
        4000u64.div_ceil(npage as u64)
    };
    Row {
        variant: Variant::OtherProcess,
        npage,
        writer_rate: rate,
        completed,
        completed_runs: u32::from(completed),
        repeats: 1,
        budget_s: 1.0,
        status: String::new(),
        restarts: passes - 1.0,
        restarts_vfs: passes - 1.0,
        restarts_agree: true,
        passes,
        steps: 1.0,
        duration_s: d,
        duration_min_s: d,
        duration_max_s: d,
        pages_copied: 4000.0,
        pagecount: 4000.0,
        amplification: passes,
        commits: 10.0,
        commit_rate: 100.0,
        commit_p50_ms: None,
        commit_p99_ms: None,
        max_wal_bytes: 0.0,
        longest_step_ms: 5.0,
        dest_bytes: 0.0,
        model_rate: 100.0,
        predicted: None,
        predicted_completes: None,
        runs: Vec::new(),
        verdict: if completed {
            "finished"
        } else {
            "did not finish"
        }
        .into(),
        stable: true,
        trend: (!completed).then_some(Trend::Steady),
        restarts_disagree_reason: None,
        steps_per_commit: Some(4.0),
        det_steps_per_pass: Some(s),
        det_finishes: Some(s <= 4),
    }
}

fn synthetic_report(
    rows: Vec<Row>,
    advice_lines: Vec<String>,
    m: Option<CostModel>,
) -> RestartsReport {
    RestartsReport {
        sqlite_version: String::new(),
        pages: 4000,
        page_size: 4096,
        repeats: 2,
        repeat_cap: 5,
        repeat_rule: RepeatRule::new(2).describe(),
        unstable: rows.iter().filter(|r| !r.stable).count(),
        budget_s: 1.0,
        did_not_finish: trend::legend(),
        quick: true,
        wall_s: 1.0,
        cost_model: m,
        advice: advice_lines.join("; "),
        advice_lines,
        rows,
        disagreements: 0,
        disagreements_unexplained: 0,
        authoritative_counter: AUTHORITATIVE.into(),
        deterministic: None,
        variation: None,
        interrupted: false,
        interrupted_by: None,
    }
}

#[test]
fn the_plot_has_a_dash_pattern_per_series_in_its_legends_and_the_advice() {
    let (r100, max) = (serde_json::json!(100.0), serde_json::json!("max"));
    let mut rows = Vec::new();
    for n in [1, 64, 1024, -1] {
        rows.push(synthetic_row(n, r100.clone(), n != 64, 1.0, 0.02));
        rows.push(synthetic_row(n, max.clone(), n == -1, 1.0, 0.02));
        let mut same = synthetic_row(n, max.clone(), true, 1.0, 0.02);
        same.variant = Variant::SameConnection;
        (same.steps_per_commit, same.det_finishes) = (None, None);
        rows.push(same);
    }
    rows[0].stable = false;
    let adv = advice(&rows, 4000);
    let rep = synthetic_report(rows, adv, None);
    let svg = output::svg(&rep).unwrap();
    let labels = [
        "writer 100",
        "writer max",
        "same-conn max",
        "S = steps per pass (deterministic)",
    ];
    for l in labels {
        assert!(
            svg.contains(&format!(">\n{l}\n</text>")),
            "legend entry {l}"
        );
    }
    // Every series line (width 2, a series colour) carries its series' dash pattern, and the
    // four series have four different ones, in the plot and in the legend samples.
    let mut dashes: Vec<(String, String)> = Vec::new();
    for line in svg
        .lines()
        .filter(|l| l.starts_with("<polyline") && l.contains("stroke-width=\"2\""))
    {
        let attr = |name: &str| {
            let start = line
                .find(&format!(" {name}=\""))
                .map(|i| i + name.len() + 3)?;
            Some(line[start..].split('"').next()?.to_string())
        };
        let stroke = attr("stroke").unwrap();
        let dash = attr("stroke-dasharray").unwrap_or_else(|| panic!("no dash: {line}"));
        if !dashes.contains(&(stroke.clone(), dash.clone())) {
            dashes.push((stroke, dash));
        }
    }
    let mut strokes: Vec<&String> = dashes.iter().map(|d| &d.0).collect();
    let mut patterns: Vec<&String> = dashes.iter().map(|d| &d.1).collect();
    strokes.sort();
    strokes.dedup();
    patterns.sort();
    patterns.dedup();
    assert_eq!(
        (dashes.len(), strokes.len(), patterns.len()),
        (4, 4, 4),
        "{dashes:?}"
    );
    // The advice is printed on the plot.
    assert!(
        svg.contains(
            "advice: at 100 commits/s on this database (4000 pages), use nPage &gt;= 1024"
        ),
        "{}",
        rep.advice
    );
    // Integer quantities get integer tick labels only.
    assert_eq!(
        (plot::int_label(&16.0), plot::int_label(&2.5)),
        ("16".into(), String::new())
    );
}
