//! The advice of `bench restarts`: which nPage to use at each writer rate.
//!
//! Why it exists: whether a cell finishes within a wall-clock budget depends on the machine and
//! its load, so the advice cannot rest on it alone. It rests on the deterministic mode's exact
//! rule (a pass of `S = ceil(pages / nPage)` steps finishes only if no commit from another
//! connection lands in it: with a commit every `X` steps, `X >= S`), applied to the steps per
//! commit measured at that rate; the wall-clock verdicts are cited next to it as evidence.

use super::cell::Variant;
use super::output::npage_label;
use super::Row;
use super::{model::median, stability::Verdict};

/// A row's wall-clock verdict in a few words: "nPage 64 did not finish (steady)".
pub fn evidence(r: &Row) -> String {
    let trend = match (r.trend, r.verdict == Verdict::Finished.label()) {
        (Some(t), false) => format!(" ({})", t.as_str()),
        _ => String::new(),
    };
    format!("nPage {} {}{trend}", npage_label(r.npage), r.verdict)
}

/// One advice line per foreign writer rate: the smallest nPage whose pass fits between two
/// commits in the deterministic rule, with the wall-clock verdicts of it and of the next
/// smaller nPage.
pub fn advice(rows: &[Row], pages: u64) -> Vec<String> {
    let mut rates: Vec<&serde_json::Value> = Vec::new();
    for r in rows {
        let foreign = r.variant == Variant::OtherProcess && r.writer_rate != serde_json::json!(0.0);
        if foreign && !rates.contains(&&r.writer_rate) {
            rates.push(&r.writer_rate);
        }
    }
    let mut out = Vec::new();
    for rate in rates {
        let mut at: Vec<&Row> = rows
            .iter()
            .filter(|r| r.variant == Variant::OtherProcess && &r.writer_rate == rate)
            .collect();
        at.sort_by_key(|r| if r.npage <= 0 { i32::MAX } else { r.npage });
        let lambda = median(&at.iter().map(|r| r.commit_rate).collect::<Vec<_>>()).unwrap_or(0.0);
        let label = match rate.as_f64() {
            Some(v) => format!("{v:.0} commits/s"),
            None => format!("the writer's max rate (~{lambda:.0} commits/s here)"),
        };
        let pick = at.iter().position(|r| r.det_finishes == Some(true));
        let fits = |r: &Row| {
            let verdict = if r.det_finishes == Some(true) {
                "fits"
            } else {
                "does not fit"
            };
            match (r.det_steps_per_pass, r.steps_per_commit) {
                (Some(s), Some(x)) => format!(
                    "a pass of nPage {} is {s} step(s), commits come every ~{x:.1} steps here: {verdict}",
                    npage_label(r.npage)
                ),
                (Some(s), None) => format!(
                    "a pass of nPage {} is {s} step(s), no commit landed in it: {verdict}",
                    npage_label(r.npage)
                ),
                _ => "no deterministic result".into(),
            }
        };
        let line = match pick {
            Some(i) => {
                let r = at[i];
                let what = if r.npage > 0 {
                    format!("use nPage >= {} (or -1)", r.npage)
                } else {
                    "use nPage -1".to_string()
                };
                let mut ev = vec![evidence(r)];
                let mut why = fits(r);
                if i > 0 {
                    ev.push(evidence(at[i - 1]));
                    why = format!("{why}; {}", fits(at[i - 1]));
                }
                format!(
                    "at {label} on this database ({pages} pages), {what}: deterministic: {why}; \
                     wall-clock: {}",
                    ev.join(", ")
                )
            }
            None => format!(
                "at {label} on this database ({pages} pages), use nPage -1: deterministic: no \
                 grid nPage has a pass that fits between two commits; wall-clock: {}",
                at.iter()
                    .map(|r| evidence(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push(line);
    }
    out
}
