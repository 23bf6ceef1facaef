//! The SVG plot of `bench restarts`: restarts, completion time and the deterministic rule by
//! nPage, one line per writer, and the advice under them.
//!
//! Why it exists: the plot is published with the issue; it has to read in greyscale (every
//! series has its own colour and its own dash pattern, in the lines and in the legends) and to
//! show both modes side by side. plotters' SVG backend has no dash patterns, so the series are
//! drawn as plain lines in distinct colours and [`add_dashes`] gives each colour's polylines
//! (the line and its legend sample) a `stroke-dasharray`. No font feature: text becomes `<text>`
//! elements and the viewer picks the font.

use super::cell::Variant;
use super::output::{npage_label, rate_label};
use super::{RestartsReport, Row};
use plotters::prelude::*;

/// Colour and dash pattern of the n-th series (distinct in both, so greyscale still reads).
pub const STYLES: [(RGBColor, &str); 8] = [
    (RGBColor(31, 119, 180), "none"),
    (RGBColor(214, 39, 40), "10,4"),
    (RGBColor(44, 160, 44), "3,3"),
    (RGBColor(255, 127, 14), "12,4,3,4"),
    (RGBColor(148, 103, 189), "6,2"),
    (RGBColor(140, 86, 75), "2,6"),
    (RGBColor(227, 119, 194), "14,3,3,3,3,3"),
    (RGBColor(23, 190, 207), "8,8"),
];

/// How a point's cell ended.
#[derive(Clone, Copy, PartialEq)]
enum Mark {
    Finished,
    DidNotFinish,
    Unstable,
}

/// One plotted line: a label, its style index and `(x index, y, mark)` points.
struct Series {
    label: String,
    style: usize,
    points: Vec<(f64, f64, Mark)>,
}

fn series_label(r: &Row) -> String {
    let who = if r.variant == Variant::OtherProcess {
        "writer"
    } else {
        "same-conn"
    };
    format!("{who} {}", rate_label(r))
}

/// The series labels in row order: their index is their style.
fn labels(rep: &RestartsReport) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &rep.rows {
        let l = series_label(r);
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

fn mark(r: &Row) -> Mark {
    match (r.stable, r.completed_runs > 0) {
        (false, _) => Mark::Unstable,
        (true, true) => Mark::Finished,
        (true, false) => Mark::DidNotFinish,
    }
}

fn series(
    rep: &RestartsReport,
    npages: &[i32],
    keep: impl Fn(&Row) -> bool,
    y: impl Fn(&Row) -> Option<f64>,
) -> Vec<Series> {
    let names = labels(rep);
    let mut out: Vec<Series> = Vec::new();
    for r in rep.rows.iter().filter(|r| keep(r)) {
        let Some(v) = y(r) else { continue };
        let label = series_label(r);
        let x = npages.iter().position(|n| *n == r.npage).unwrap_or(0) as f64;
        let p = (x, v, mark(r));
        match out.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(p),
            None => out.push(Series {
                style: names.iter().position(|n| *n == label).unwrap_or(0) % STYLES.len(),
                label,
                points: vec![p],
            }),
        }
    }
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// An integer tick label, or nothing for a tick between integers.
pub fn int_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
        format!("{:.0}", v.round())
    } else {
        String::new()
    }
}

/// Restarts, completion time and the deterministic rule against nPage, and the advice (SVG).
pub fn svg(rep: &RestartsReport) -> Result<String, String> {
    let mut npages: Vec<i32> = Vec::new();
    for r in &rep.rows {
        if !npages.contains(&r.npage) {
            npages.push(r.npage);
        }
    }
    npages.sort_by_key(|n| if *n <= 0 { i32::MAX } else { *n });
    let advice: Vec<String> = rep
        .advice_lines
        .iter()
        .flat_map(|a| wrap(&format!("advice: {a}"), 150))
        .collect();
    let (width, panel) = (1100u32, 380u32);
    let height = 40 + 3 * panel + 16 + 18 * advice.len() as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(
                &format!(
                    "Stepped backup restarts by nPage ({} pages, {} s budget, {} agreeing repeats, at most {})",
                    rep.pages, rep.budget_s, rep.repeats, rep.repeat_cap
                ),
                ("sans-serif", 22),
            )
            .map_err(|e| e.to_string())?;
        let (plots, text) = root.split_vertically(3 * panel);
        let panels = plots.split_evenly((3, 1));
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
        let all = |_: &Row| true;
        let restart_series = series(rep, &npages, all, |r| Some(r.restarts + 1.0));
        let ymax_r = max_y(&restart_series, 10.0) * 2.0;
        draw_panel(
            &panels[0],
            "restarts (+1, log; filled = finished, hollow = did not finish: count within the budget, x = unstable)",
            "restarts + 1",
            (xmax, 1.0, ymax_r),
            (&fmt_x, &int_label),
            &restart_series,
        )?;
        let budget = rep.budget_s;
        let time_series = series(rep, &npages, all, |r| {
            Some(if r.completed { r.duration_s } else { budget })
        });
        let ymin_t = time_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(budget, f64::min)
            .max(1e-5)
            / 2.0;
        let fmt_t = |v: &f64| format!("{v}");
        draw_panel(
            &panels[1],
            "completion time (s, log; at the budget = did not finish)",
            "seconds",
            (xmax, ymin_t, budget * 2.0),
            (&fmt_x, &fmt_t),
            &time_series,
        )?;
        // The deterministic rule: S (steps per pass) against X (steps per commit, per rate).
        let foreign = |r: &Row| r.variant == Variant::OtherProcess && r.det_finishes.is_some();
        let mut det_series = series(rep, &npages, foreign, |r| r.steps_per_commit);
        let s_points: Vec<(f64, f64, Mark)> = npages
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let r = rep.rows.iter().find(|r| r.npage == *n)?;
                Some((i as f64, r.det_steps_per_pass? as f64, Mark::Finished))
            })
            .collect();
        det_series.push(Series {
            label: "S = steps per pass (deterministic)".into(),
            style: labels_len(rep) % STYLES.len(),
            points: s_points,
        });
        let ymax_d = max_y(&det_series, 10.0) * 2.0;
        draw_panel(
            &panels[2],
            "deterministic: a backup finishes iff a commit comes at most every S steps: compare X = steps per commit measured per writer",
            "steps",
            (xmax, 0.5, ymax_d),
            (&fmt_x, &int_label),
            &det_series,
        )?;
        for (i, line) in advice.iter().enumerate() {
            text.draw(&Text::new(
                line.clone(),
                (12, 8 + 18 * i as i32),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(add_dashes(&buf))
}

fn labels_len(rep: &RestartsReport) -> usize {
    labels(rep).len()
}

fn max_y(all: &[Series], floor: f64) -> f64 {
    all.iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(floor, f64::max)
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// Gives every series line (a polyline of width 2 in a series colour; its legend sample too)
/// that series' dash pattern.
pub fn add_dashes(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len() + 4096);
    for line in svg.split_inclusive('\n') {
        let styled =
            (line.starts_with("<polyline") && line.contains("stroke-width=\"2\"")).then(|| {
                STYLES.iter().find_map(|(c, dash)| {
                    let attr = format!("stroke=\"{}\"", hex(*c));
                    line.contains(&attr).then(|| {
                        line.replacen(&attr, &format!("{attr} stroke-dasharray=\"{dash}\""), 1)
                    })
                })
            });
        match styled.flatten() {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
    }
    out
}

type Fmt<'a> = &'a dyn Fn(&f64) -> String;

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    ydesc: &str,
    (xmax, ymin, ymax): (f64, f64, f64),
    (fmt_x, fmt_y): (Fmt<'_>, Fmt<'_>),
    all: &[Series],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 14))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.3f64..xmax + 0.3, (ymin..ymax).log_scale())
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("nPage (pages per step; all = -1)")
        .y_desc(ydesc)
        .x_labels((xmax as usize + 1).max(2))
        .x_label_formatter(fmt_x)
        .y_label_formatter(fmt_y)
        .draw()
        .map_err(e)?;
    for s in all {
        let color = STYLES[s.style].0;
        let style = ShapeStyle {
            color: color.to_rgba(),
            filled: false,
            stroke_width: 2,
        };
        let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1)).collect();
        chart
            .draw_series(LineSeries::new(pts, style))
            .map_err(e)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 28, y)], style));
        for &(x, y, m) in &s.points {
            match m {
                Mark::Finished => chart.draw_series([Circle::new((x, y), 4, color.filled())]),
                Mark::DidNotFinish => {
                    chart.draw_series([Circle::new((x, y), 4, color.stroke_width(2))])
                }
                // Width 3: markers are not series lines, [`add_dashes`] leaves them solid.
                Mark::Unstable => chart.draw_series([Cross::new((x, y), 5, color.stroke_width(3))]),
            }
            .map_err(e)?;
        }
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
