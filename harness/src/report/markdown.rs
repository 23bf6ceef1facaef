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
        out.push_str(&interrupted_line(r.interrupted_by));
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
    out.push_str("\n## Destinations and checkpoints\n\n| strategy | destination file before -> after (header journal / page size) | restarts | checkpoints while backing up (busy) |\n|---|---|---|---|\n");
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
            "| {} | {} | {} | {} |\n",
            s.name,
            dests.join(", "),
            s.restarts_total,
            if ckpts.is_empty() {
                "-".into()
            } else {
                ckpts.join(", ")
            }
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

/// The report line of an interrupted run: `- **interrupted** by SIGTERM: partial report`.
pub fn interrupted_line(by: Option<crate::process::StopSignal>) -> String {
    match by {
        Some(s) => format!("- **interrupted** by {}: partial report\n", s.name()),
        None => "- **interrupted**: partial report\n".into(),
    }
}
