//! The verdict table printed on the terminal after a run.

use super::Report;
use crate::oracle::VerdictKind;

/// Short column headers for the verdict kinds, in [`VerdictKind::ALL`] order.
const HEADERS: [&str; 10] = [
    "untouched",
    "snapshot",
    "corrupt",
    "torn",
    "false-ok",
    "window",
    "src-dmg",
    "inv",
    "stall",
    "error",
];

/// The verdict table: one row per strategy, violations marked, then one replay line per
/// violation (at most `max_replays` per strategy).
pub fn render(report: &Report, max_replays: usize) -> String {
    let name_w = report
        .strategies
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    out.push_str(&format!(
        "{:<name_w$}  {:<6}  {:>4}",
        "strategy", "expect", "runs"
    ));
    for h in HEADERS {
        out.push_str(&format!("  {h:>w$}", w = h.len().max(4)));
    }
    out.push_str("  faults hit   result\n");
    for s in &report.strategies {
        out.push_str(&format!(
            "{:<name_w$}  {:<6}  {:>4}",
            s.name,
            s.expect.as_str(),
            s.iterations
        ));
        for (kind, h) in VerdictKind::ALL.iter().zip(HEADERS) {
            let n = s.verdicts.get(kind.as_str()).copied().unwrap_or(0);
            let cell = if n > 0 && kind.is_violation() {
                format!("{n}!")
            } else {
                n.to_string()
            };
            out.push_str(&format!("  {cell:>w$}", w = h.len().max(4)));
        }
        let hits = super::hit_cells(s);
        let hits = if hits.is_empty() {
            "-".to_string()
        } else {
            hits.join(", ")
        };
        out.push_str(&format!("  {hits:<11}  {}\n", s.result.as_str()));
    }
    for s in &report.strategies {
        if s.result == super::Outcome::Untested {
            out.push_str(&format!(
                "\n{} is untested: {}",
                s.name,
                s.untested_because.join("; ")
            ));
        }
    }
    for s in &report.strategies {
        if let Some(why) = &s.not_caught {
            out.push_str(&format!("\n{} is not caught: {why}", s.name));
        }
    }
    if report
        .strategies
        .iter()
        .any(|s| s.result == super::Outcome::Untested || s.not_caught.is_some())
    {
        out.push('\n');
    }
    for s in report
        .strategies
        .iter()
        .filter(|s| !s.restarts_over.is_empty())
    {
        out.push_str(&format!(
            "\n{} restarted more often than its max_restarts: {}\n",
            s.name,
            s.restarts_over.join("; ")
        ));
    }
    for k in &report.skipped {
        out.push_str(&format!("\n{:<17} skipped: {}", k.strategy, k.why));
    }
    if !report.skipped.is_empty() {
        out.push('\n');
    }
    for k in &report.known_unchecked {
        out.push_str(&format!(
            "\nknown finding not checked (its iteration did not run): {k}"
        ));
    }
    if !report.known_unchecked.is_empty() {
        out.push('\n');
    }
    let mut any = false;
    for s in &report.strategies {
        for v in s.violations.iter().take(max_replays) {
            if !any {
                out.push_str("\nviolations (replay with the command shown):\n");
                any = true;
            }
            let fired = if v.fired.is_empty() {
                "nothing fired".to_string()
            } else {
                format!("fired: {}", v.fired.join(", "))
            };
            out.push_str(&format!(
                "  {:<16} {} iter {:>3} [{}; {fired}; dest {}{}]  {}\n",
                if v.known {
                    format!("{} (known)", v.kind.as_str())
                } else {
                    v.kind.as_str().to_string()
                },
                s.name,
                v.iteration,
                v.fault,
                v.destination,
                if v.deterministic {
                    ""
                } else {
                    "; timing-dependent"
                },
                v.replay
            ));
        }
        if s.violations.len() > max_replays {
            out.push_str(&format!(
                "  ... and {} more for {} (see the report)\n",
                s.violations.len() - max_replays,
                s.name
            ));
        }
    }
    out
}
