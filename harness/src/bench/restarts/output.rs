//! The outputs of `bench restarts`: terminal table, CSV and the SVG plot.
//!
//! Why it exists: the report is the product of the bench (the issue publishes the table); the
//! rendering is kept apart from the measurement. The SVG uses plotters' SVG backend without a
//! font feature: text becomes `<text>` elements and the viewer picks the font.

use super::cell::Variant;
use super::{RestartsReport, Row};
use plotters::prelude::*;
use std::fmt::Write as _;

/// "all" for -1, the number otherwise.
pub fn npage_label(npage: i32) -> String {
    if npage <= 0 {
        "all".into()
    } else {
        npage.to_string()
    }
}

fn rate_label(r: &Row) -> String {
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
        "bench restarts: {} pages of {} B, SQLite {}, {} repeat(s), budget {} s per run, wall {:.1} s",
        rep.pages, rep.page_size, rep.sqlite_version, rep.repeats, rep.budget_s, rep.wall_s
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
        "{:<10} {:>5} {:>5} {:<9} {:>8} {:>8} {:>5} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8}",
        "variant", "npage", "rate", "done", "restarts", "vfs", "agree", "passes", "steps",
        "time_s", "pred_rst", "pred_s", "pois_rst", "amp", "commits", "p50_ms", "p99_ms", "wal_KiB",
        "step_ms", "dst_KiB"
    );
    for r in &rep.rows {
        let variant = match r.variant {
            Variant::OtherProcess => "other",
            Variant::SameConnection => "same-conn",
        };
        let done = if r.completed {
            format!("yes {}/{}", r.completed_runs, r.repeats)
        } else {
            format!("NO {}/{}", r.completed_runs, r.repeats)
        };
        let time = if r.completed {
            format!("{:.3}", r.duration_s)
        } else {
            format!(">{}", r.budget_s)
        };
        let _ = writeln!(
            s,
            "{:<10} {:>5} {:>5} {:<9} {:>8} {:>8} {:>5} {:>7} {:>7} {:>8} {:>9} {:>8} {:>9} {:>6.2} {:>7} {:>7} {:>7} {:>8.0} {:>8.2} {:>8.0}",
            variant,
            npage_label(r.npage),
            rate_label(r),
            done,
            r.restarts,
            r.restarts_vfs,
            if r.restarts_agree { "yes" } else { "NO" },
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
    let _ = writeln!(
        s,
        "restart counts (formula vs VFS page-1 re-reads) disagree in {} of {} cells",
        rep.disagreements,
        rep.rows.len()
    );
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

/// The rows as CSV (medians and predictions; no per-run detail).
pub fn csv(rep: &RestartsReport) -> String {
    let mut s = String::from(
        "variant,npage,writer_rate,completed,completed_runs,repeats,restarts,restarts_vfs,restarts_agree,passes,steps,duration_s,pred_restarts,pred_duration_s,amplification,commits,commit_rate,commit_p50_ms,commit_p99_ms,max_wal_bytes,longest_step_ms,dest_bytes\n",
    );
    for r in &rep.rows {
        let p = r.predicted;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{:.6},{},{},{:.4},{},{:.1},{},{},{},{:.3},{}",
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
            r.dest_bytes
        );
    }
    s
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
];

/// One plotted line: a label and `(x index, y)` points; livelocked points are flagged.
struct Series {
    label: String,
    color: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64, bool)>,
}

fn series(rep: &RestartsReport, npages: &[i32], y: impl Fn(&Row) -> f64) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for r in &rep.rows {
        let label = format!(
            "{} {}",
            if r.variant == Variant::OtherProcess {
                "writer"
            } else {
                "same-conn"
            },
            rate_label(r)
        );
        let x = npages.iter().position(|n| *n == r.npage).unwrap_or(0) as f64;
        match out.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((x, y(r), !r.completed)),
            None => {
                let dashed = r.variant == Variant::SameConnection;
                let color = COLORS[out.iter().filter(|s| s.dashed == dashed).count() % 4];
                out.push(Series {
                    label,
                    color,
                    dashed,
                    points: vec![(x, y(r), !r.completed)],
                });
            }
        }
    }
    out
}

/// Restarts and completion time against nPage, one line per writer rate (SVG text).
pub fn svg(rep: &RestartsReport) -> Result<String, String> {
    let mut npages: Vec<i32> = Vec::new();
    for r in &rep.rows {
        if !npages.contains(&r.npage) {
            npages.push(r.npage);
        }
    }
    npages.sort_by_key(|n| if *n <= 0 { i32::MAX } else { *n });
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (960, 860)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(
                &format!(
                    "Stepped backup restarts by nPage ({} pages, {} s budget, median of {})",
                    rep.pages, rep.budget_s, rep.repeats
                ),
                ("sans-serif", 22),
            )
            .map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(420);
        let xmax = (npages.len().max(2) - 1) as f64;
        let labels = npages.clone();
        let fmt_x = move |x: &f64| -> String {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            labels
                .get(i as usize)
                .map(|n| npage_label(*n))
                .unwrap_or_default()
        };
        let restart_series = series(rep, &npages, |r| r.restarts + 1.0);
        let ymax_r = restart_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(10.0, f64::max)
            * 2.0;
        draw_panel(
            &top,
            "restarts (+1, log scale; hollow = did not finish, count within the budget)",
            "restarts + 1",
            (xmax, 1.0, ymax_r),
            &fmt_x,
            &restart_series,
        )?;
        let budget = rep.budget_s;
        let time_series = series(rep, &npages, |r| {
            if r.completed {
                r.duration_s
            } else {
                budget
            }
        });
        let ymin_t = time_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(budget, f64::min)
            .max(1e-5)
            / 2.0;
        draw_panel(
            &bottom,
            "completion time (log scale; hollow at the budget = did not finish)",
            "seconds",
            (xmax, ymin_t, budget * 2.0),
            &fmt_x,
            &time_series,
        )?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    ydesc: &str,
    (xmax, ymin, ymax): (f64, f64, f64),
    fmt_x: &dyn Fn(&f64) -> String,
    all: &[Series],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.3f64..xmax + 0.3, (ymin..ymax).log_scale())
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("nPage (pages per step; all = -1)")
        .y_desc(ydesc)
        .x_labels(all.first().map(|s| s.points.len()).unwrap_or(7).max(2))
        .x_label_formatter(fmt_x)
        .draw()
        .map_err(e)?;
    for s in all {
        let style = ShapeStyle {
            color: s.color.to_rgba(),
            filled: false,
            stroke_width: if s.dashed { 1 } else { 2 },
        };
        let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1)).collect();
        let color = s.color;
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 6, 4, style))
                .map_err(e)?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        } else {
            chart
                .draw_series(LineSeries::new(pts, style))
                .map_err(e)?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        chart
            .draw_series(s.points.iter().map(|&(x, y, livelock)| {
                let st = if livelock {
                    color.stroke_width(2)
                } else {
                    color.filled()
                };
                Circle::new((x, y), 4, st)
            }))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    Ok(())
}
