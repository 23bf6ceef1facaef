//! The Markdown report: the verdict table, the run's numbers and every violation.
//!
//! Text that does not come from this file (violation details with SQLite's messages and
//! `integrity_check` output, worker stderr tails, strategy and tool error messages, names from
//! the scenario) goes through [`escape`] (or [`code`] for a code span) wherever it is
//! interpolated, here and in the crash-points and fuzz reports: it cannot open HTML, a
//! comment, a link, a code span, a table cell, a heading or a new line.

use super::Report;
use crate::oracle::VerdictKind;

/// `text` made safe to put inside a Markdown line, list item or table cell: line breaks and
/// other control characters become spaces (so multi-line `integrity_check` output stays in its
/// list item); `<`, `>` and `&` become entities (no HTML tag, no `<!--`); `\`, backticks, `|`,
/// `[` and `]` are backslash-escaped (no code span, cell break, link or image); a leading `#`,
/// `-`, `+`, `*`, `=` or `~`, or the `.` / `)` of a leading list number (`2. `), is escaped too
/// (no heading, list, rule or fence where the text starts a line). Surrounding spaces are
/// trimmed.
pub fn escape(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = flat.trim();
    // A leading `12.` or `12)` followed by a space (or nothing) would start an ordered list.
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let numbered = digits > 0
        && matches!(s.as_bytes().get(digits), Some(b'.' | b')'))
        && s.as_bytes().get(digits + 1).is_none_or(|b| *b == b' ');
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        let block_start = i == 0 && matches!(c, '#' | '-' | '+' | '*' | '=' | '~');
        let list_number = numbered && i == digits;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '|' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            _ if block_start || list_number => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `text` as an inline code span, whatever backticks it holds: line breaks become spaces and
/// the fence is one backtick longer than the longest run inside.
pub fn code(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in flat.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 {
        format!("{fence} {flat} {fence}")
    } else {
        format!("{fence}{flat}{fence}")
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!("# Scenario {}\n\n", code(&r.scenario)));
    out.push_str(&format!(
        "- seed: {}\n- SQLite: {}\n- duration: {} s\n- writer commits/s: {} during backups, {} standalone\n- source commits during backups: {}\n- expectations met: {}\n",
        r.seed,
        escape(&r.sqlite_version),
        r.duration_s,
        r.commits_per_s,
        r.standalone_commits_per_s,
        r.source_commits,
        if r.expectations_met { "yes" } else { "**no**" },
    ));
    if r.interrupted {
        out.push_str(&interrupted_line(r.interrupted_by));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("- **error**: {}\n", escape(e)));
    }
    out.push_str("\n| strategy | expect | runs |");
    for k in VerdictKind::ALL {
        out.push_str(&format!(" {} |", k.as_str()));
    }
    out.push_str(" faults hit / planned | lag max | result |\n|---|---|---|");
    for _ in VerdictKind::ALL {
        out.push_str("---|");
    }
    out.push_str("---|---|---|\n");
    for s in &r.strategies {
        out.push_str(&format!(
            "| {} | {} | {} |",
            escape(&s.name),
            s.expect.as_str(),
            s.iterations
        ));
        for k in VerdictKind::ALL {
            let n = s.verdicts.get(k.as_str()).copied().unwrap_or(0);
            if n > 0 && k.is_violation() {
                out.push_str(&format!(" **{n}** |"));
            } else {
                out.push_str(&format!(" {n} |"));
            }
        }
        let hits = super::hit_cells(s);
        out.push_str(&format!(
            " {} | {} | {} |\n",
            if hits.is_empty() {
                "-".into()
            } else {
                escape(&hits.join(", "))
            },
            s.lag_max
                .map(|l| l.to_string())
                .unwrap_or_else(|| "-".into()),
            if s.expectation_met {
                s.result.as_str().to_string()
            } else {
                format!("**{}**", s.result.as_str())
            }
        ));
    }
    for s in r
        .strategies
        .iter()
        .filter(|s| !s.untested_because.is_empty())
    {
        out.push_str(&format!(
            "\n- {} not fully tested: {}\n",
            code(&s.name),
            escape(&s.untested_because.join("; "))
        ));
    }
    for s in &r.strategies {
        if let Some(k) = s.kill_delays.as_ref().filter(|k| k.sent == 0) {
            out.push_str(&format!(
                "\n- {} supervisor kills: none of {} sent (each found the backup done), planned \
                 after {}-{} ms\n",
                code(&s.name),
                k.planned,
                k.planned_min_ms,
                k.planned_max_ms
            ));
        } else if let Some(k) = &s.kill_delays {
            out.push_str(&format!(
                "\n- {} supervisor kills: {} of {} sent (the others found the backup done), \
                 planned after {}-{} ms, sent late by {} ms median, {} ms at most\n",
                code(&s.name),
                k.sent,
                k.planned,
                k.planned_min_ms,
                k.planned_max_ms,
                k.late_median_ms,
                k.late_max_ms
            ));
        }
    }
    for s in &r.strategies {
        if let Some(why) = &s.not_caught {
            out.push_str(&format!(
                "\n- {} not caught: {}\n",
                code(&s.name),
                escape(why)
            ));
        }
    }
    for s in r.strategies.iter().filter(|s| !s.restarts_over.is_empty()) {
        out.push_str(&format!(
            "\n- {} restarted more often than its `max_restarts`: {}\n",
            code(&s.name),
            escape(&s.restarts_over.join("; "))
        ));
    }
    out.push_str(&remaining_zero(r));
    out.push_str(&stalls(r));
    out.push_str(&recoveries(r));
    out.push_str(&matrix(r));
    out.push_str(&super::tools::markdown(&r.tools));
    out.push_str(&super::network::markdown(&r.network));
    out.push_str("\n## Destinations and checkpoints\n\n| strategy | destination file before -> after (header journal / page size) | untouched: same bytes / other bytes | restarts | checkpoints while backing up (busy) |\n|---|---|---|---|---|\n");
    for s in &r.strategies {
        let dests: Vec<String> = s
            .dest_transitions
            .iter()
            .map(|(t, n)| match t.split_once(" -> ") {
                Some((before, after)) => format!("{} -> {} ×{n}", escape(before), escape(after)),
                None => format!("{} ×{n}", escape(t)),
            })
            .collect();
        let ckpts: Vec<String> = s
            .checkpoints
            .iter()
            .map(|(m, c)| format!("{} {} ({})", escape(m), c.ran, c.busy))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} | {} |\n",
            escape(&s.name),
            dests.join(", "),
            s.untouched_same_bytes,
            s.untouched_other_bytes,
            s.restarts_total,
            if ckpts.is_empty() {
                "-".into()
            } else {
                ckpts.join(", ")
            }
        ));
    }
    for k in &r.skipped {
        out.push_str(&format!(
            "\n- {} **skipped**: {}\n",
            code(&k.strategy),
            escape(&k.why)
        ));
    }
    for k in &r.known_unchecked {
        out.push_str(&format!(
            "\n- **known finding not checked** (its iteration did not run): {}\n",
            code(k)
        ));
    }
    let violations: Vec<_> = r
        .strategies
        .iter()
        .flat_map(|s| s.violations.iter().map(move |v| (s, v)))
        .collect();
    if !violations.is_empty() {
        out.push_str("\n## Violations\n\n");
        for (s, v) in violations {
            out.push_str(&format!(
                "- {} **{}**, iteration {} (fault: {}; fired: {}; destination: {}{}): {}\n  {}\n",
                code(&s.name),
                v.kind.as_str(),
                v.iteration,
                escape(&v.fault),
                if v.fired.is_empty() {
                    "nothing".to_string()
                } else {
                    escape(&v.fired.join(", "))
                },
                escape(&v.destination),
                if v.deterministic {
                    ""
                } else {
                    "; timing-dependent kill"
                },
                escape(&v.detail),
                code(&v.replay)
            ));
        }
    }
    out
}

/// Every iteration whose backup saw `remaining() == 0` from a step that did not return
/// `SQLITE_DONE`: where (step, code, whether pages had been copied) and its last steps, each
/// with the explicit `done` flag.
fn remaining_zero(r: &Report) -> String {
    let mut out = String::new();
    for it in r.results.iter().filter(|it| it.remaining_zero.is_some()) {
        if out.is_empty() {
            out.push_str("\n## remaining() == 0 without SQLITE_DONE\n\n| strategy | iteration | fault | step | rc | pages copied | verdict | last steps (done flag) |\n|---|---|---|---|---|---|---|---|\n");
        }
        let z = it.remaining_zero.as_ref().expect("filtered");
        let steps: Vec<String> = it
            .last_steps
            .iter()
            .filter_map(|e| match e {
                crate::event::Event::Step {
                    step,
                    rc,
                    remaining,
                    done,
                    ..
                } => Some(format!("#{step} rc={rc} remaining={remaining} done={done}")),
                _ => None,
            })
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            escape(&it.strategy),
            it.iteration,
            escape(
                &it.fault
                    .as_ref()
                    .map_or_else(|| "none".into(), |f| f.label())
            ),
            z.step,
            z.rc,
            if z.copied {
                "yes"
            } else {
                "no (before the first page)"
            },
            it.verdict.kind.as_str(),
            steps.join("; ")
        ));
    }
    out
}

/// Every stall: when the watchdog stopped it, the last progress event, the last VFS
/// operation and the locks every process held on the iteration's files.
fn stalls(r: &Report) -> String {
    let mut out = String::new();
    for it in &r.results {
        let Some(st) = &it.stall else { continue };
        if out.is_empty() {
            out.push_str("\n## Stalls\n\n| strategy | iteration | why, stopped at | last progress | last VFS op | locks held |\n|---|---|---|---|---|---|\n");
        }
        let progress = match (&st.last_progress, st.last_progress_ms) {
            (Some(crate::event::Event::Step {
                step,
                rc,
                remaining,
                pagecount,
                restarts,
                ..
            }), Some(ms)) => format!(
                "step {step} rc={rc} remaining={remaining} pagecount={pagecount} restarts={restarts} at {ms} ms"
            ),
            (Some(ev), Some(ms)) => format!("{} at {ms} ms", ev.to_line()),
            _ => "none".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} ({} ms) | {} | {} | {} |\n",
            escape(&it.strategy),
            it.iteration,
            escape(&st.reason),
            st.after_ms,
            escape(&progress),
            escape(&match (&st.last_vfs_op, st.vfs_ops) {
                (Some(op), Some(n)) => format!("{op} (op {n})"),
                _ => "-".into(),
            }),
            if st.locks.is_empty() {
                "none".into()
            } else {
                escape(&st.locks.join("; "))
            }
        ));
    }
    out
}

/// Every next attempt onto a destination an iteration left behind (`recover = true`).
fn recoveries(r: &Report) -> String {
    let mut out = String::new();
    for it in &r.results {
        let Some(x) = &it.recovery else { continue };
        if out.is_empty() {
            out.push_str("\n## Recovery: the next backup onto the same destination\n\n| strategy | iteration | the iteration ended | left beside the destination | next backup | ok |\n|---|---|---|---|---|---|\n");
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            escape(&it.strategy),
            it.iteration,
            it.verdict.kind.as_str(),
            if x.leftovers.is_empty() {
                "nothing".into()
            } else {
                escape(&x.leftovers.join(", "))
            },
            escape(&x.outcome()),
            if x.ok { "yes" } else { "**no**" }
        ));
    }
    out
}

/// The verdicts of matrix entries (`variant` = `journal=...,sync=...`) as a table: one table
/// per strategy, journal modes down, synchronous levels across; each cell the result and the
/// violations.
fn matrix(r: &Report) -> String {
    use std::collections::BTreeMap;
    let mut by_strategy: BTreeMap<&str, BTreeMap<(String, String), &super::StrategyReport>> =
        BTreeMap::new();
    let mut listed = String::new();
    for s in &r.strategies {
        let Some(v) = &s.variant else { continue };
        if !(v.contains("journal=") && v.contains("sync=")) {
            // Other dimensions: one row per cell.
            if listed.is_empty() {
                listed.push_str("\n## Matrix cells\n\n| entry | variant | result | restarts (total, max) | violations |\n|---|---|---|---|---|\n");
            }
            listed.push_str(&format!(
                "| {} | {v} | {} | {}, {} | {} |\n",
                s.name,
                s.result.as_str(),
                s.restarts_total,
                s.restarts_max,
                s.violations.len()
            ));
            continue;
        }
        let get = |key: &str| {
            v.split(',')
                .find_map(|p| p.strip_prefix(&format!("{key}=")))
                .unwrap_or("?")
                .to_string()
        };
        by_strategy
            .entry(&s.strategy)
            .or_default()
            .insert((get("journal"), get("sync")), s);
    }
    let mut out = String::new();
    for (strategy, cells) in by_strategy {
        // In the order of the pragmas' own documentation, not alphabetically.
        let rank = |v: &str| {
            ["delete", "truncate", "persist", "memory", "wal", "off"]
                .iter()
                .position(|m| *m == v)
                .unwrap_or(9)
        };
        let sync_rank = |v: &str| {
            ["off", "normal", "full", "extra"]
                .iter()
                .position(|m| *m == v)
                .unwrap_or(9)
        };
        let mut journals: Vec<&String> = cells.keys().map(|(j, _)| j).collect();
        journals.sort_by_key(|j| rank(j));
        journals.dedup();
        let mut syncs: Vec<&String> = cells.keys().map(|(_, s)| s).collect();
        syncs.sort_by_key(|s| sync_rank(s));
        syncs.dedup();
        out.push_str(&format!(
            "\n## Matrix: {}, destination journal mode × synchronous\n\n| journal \\ sync |",
            code(strategy)
        ));
        for s in &syncs {
            out.push_str(&format!(" {s} |"));
        }
        out.push_str("\n|---|");
        for _ in &syncs {
            out.push_str("---|");
        }
        out.push('\n');
        for j in journals {
            out.push_str(&format!("| {j} |"));
            for s in &syncs {
                let cell = match cells.get(&(j.clone(), (*s).clone())) {
                    None => "-".to_string(),
                    Some(c) => {
                        let bad: Vec<String> = c
                            .verdicts
                            .iter()
                            .filter(|(k, n)| {
                                **n > 0
                                    && crate::oracle::VerdictKind::ALL
                                        .iter()
                                        .any(|v| v.as_str() == k.as_str() && v.is_violation())
                            })
                            .map(|(k, n)| format!("{k} {n}"))
                            .collect();
                        let result = if c.expectation_met {
                            c.result.as_str().to_string()
                        } else {
                            format!("**{}**", c.result.as_str())
                        };
                        if bad.is_empty() {
                            result
                        } else {
                            format!("{result}: {}", bad.join(", "))
                        }
                    }
                };
                out.push_str(&format!(" {cell} |"));
            }
            out.push('\n');
        }
    }
    out.push_str(&listed);
    out
}

/// The report line of an interrupted run: `- **interrupted** by SIGTERM: partial report`.
pub fn interrupted_line(by: Option<crate::process::StopSignal>) -> String {
    match by {
        Some(s) => format!("- **interrupted** by {}: partial report\n", s.name()),
        None => "- **interrupted**: partial report\n".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_cannot_inject_markdown_or_html() {
        assert_eq!(escape("<img onerror=x>"), "&lt;img onerror=x&gt;");
        assert_eq!(escape("<!-- hide the rest"), "&lt;!-- hide the rest");
        assert_eq!(escape("## heading"), "\\## heading");
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(
            escape("*** in database main ***\nPage 3: btree\r\n2. is never used"),
            "\\*** in database main *** Page 3: btree  2. is never used"
        );
        assert_eq!(
            escape("`rm -rf` [x](javascript:y) ![i](http://t/p.png)"),
            "\\`rm -rf\\` \\[x\\](javascript:y) !\\[i\\](http://t/p.png)"
        );
        assert_eq!(escape("1. first"), "1\\. first");
        assert_eq!(escape("3.45.1"), "3.45.1");
        assert_eq!(escape("7)"), "7\\)");
        assert_eq!(escape("- item"), "\\- item");
        assert_eq!(escape("a\\|b &lt;"), "a\\\\\\|b &amp;lt;");
        assert_eq!(
            escape("  SQLITE_IOERR_FSYNC: disk I/O error  "),
            "SQLITE_IOERR_FSYNC: disk I/O error"
        );
        assert!(!escape("x\ny\rz\u{1b}[31m").contains(['\n', '\r', '\u{1b}']));
    }

    #[test]
    fn code_spans_hold_any_backticks() {
        assert_eq!(
            code("cargo run -- replay a:1:b:2"),
            "`cargo run -- replay a:1:b:2`"
        );
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("x ``` y\nz"), "```` x ``` y z ````");
    }
}
