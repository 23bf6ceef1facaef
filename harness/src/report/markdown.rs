//! The Markdown report: the verdict table, the run's numbers and every violation.

use super::Report;
use crate::oracle::VerdictKind;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!("# Scenario `{}`\n\n", r.scenario));
    out.push_str(&format!(
        "- seed: {}\n- SQLite: {}\n- duration: {} s\n- writer commits/s: {} during backups, {} standalone\n- source commits during backups: {}\n- expectations met: {}\n",
        r.seed,
        r.sqlite_version,
        r.duration_s,
        r.commits_per_s,
        r.standalone_commits_per_s,
        r.source_commits,
        if r.expectations_met { "yes" } else { "**no**" },
    ));
    if r.interrupted {
        out.push_str("- **interrupted**: partial report\n");
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("- **error**: {e}\n"));
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
            s.name,
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
        let hits: Vec<String> = s
            .faults_planned
            .iter()
            .map(|(k, p)| format!("{k} {}/{p}", s.faults_hit.get(k).copied().unwrap_or(0)))
            .collect();
        out.push_str(&format!(
            " {} | {} | {} |\n",
            if hits.is_empty() {
                "-".into()
            } else {
                hits.join(", ")
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
            "\n- `{}` not fully tested: {}\n",
            s.name,
            s.untested_because.join("; ")
        ));
    }
    out.push_str(&matrix(r));
    out.push_str("\n## Destinations and checkpoints\n\n| strategy | destination file before -> after (header journal / page size) | untouched: same bytes / other bytes | restarts | checkpoints while backing up (busy) |\n|---|---|---|---|---|\n");
    for s in &r.strategies {
        let dests: Vec<String> = s
            .dest_transitions
            .iter()
            .map(|(t, n)| format!("{t} ×{n}"))
            .collect();
        let ckpts: Vec<String> = s
            .checkpoints
            .iter()
            .map(|(m, c)| format!("{m} {} ({})", c.ran, c.busy))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} | {} |\n",
            s.name,
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
    for k in &r.known_unchecked {
        out.push_str(&format!(
            "\n- **known finding not checked** (its iteration did not run): `{k}`\n"
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
                "- `{}` **{}**, iteration {} (fault: {}; fired: {}; destination: {}{}): {}\n  `{}`\n",
                s.name,
                v.kind.as_str(),
                v.iteration,
                v.fault,
                if v.fired.is_empty() {
                    "nothing".to_string()
                } else {
                    v.fired.join(", ")
                },
                v.destination,
                if v.deterministic {
                    ""
                } else {
                    "; timing-dependent kill"
                },
                v.detail,
                v.replay
            ));
        }
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
            "\n## Matrix: `{strategy}`, destination journal mode × synchronous\n\n| journal \\ sync |"
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
