//! The gate's outputs: JUnit XML for CI systems, a Markdown summary (a CI job summary), and
//! the JSON of the run with its judgement.

use super::judge::Judgement;
use super::GateRun;
use std::collections::BTreeMap;

/// XML-escapes text for attributes and element content.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>` per scenario (and per bench), one `<testcase>` per unit,
/// known finding, fault-class check and figure; failures carry their replay commands.
pub fn junit(j: &Judgement) -> String {
    let mut suites: BTreeMap<&str, Vec<&super::judge::TestCase>> = BTreeMap::new();
    for c in &j.cases {
        suites.entry(&c.suite).or_default().push(c);
    }
    let failures = j.cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = j.cases.iter().filter(|c| c.skipped.is_some()).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sqlite-backup-harness gate\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        j.cases.len()
    );
    for (suite, cases) in suites {
        let f = cases.iter().filter(|c| c.failure.is_some()).count();
        let s = cases.iter().filter(|c| c.skipped.is_some()).count();
        let time: f64 = cases.iter().map(|c| c.duration_s).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" skipped=\"{s}\" time=\"{time:.1}\">\n",
            xml(suite),
            cases.len()
        ));
        for c in cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.1}\"",
                xml(suite),
                xml(&c.name),
                c.duration_s
            ));
            match (&c.failure, &c.skipped) {
                (Some(f), _) => out.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(f.lines().next().unwrap_or("")),
                    xml(f)
                )),
                (None, Some(why)) => out.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml(why)
                )),
                (None, None) => out.push_str("/>\n"),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes text for a Markdown table cell or list item (the report's one escaping).
fn cell(s: &str) -> String {
    crate::report::markdown::escape(s)
}

/// The Markdown summary: the verdict, what changed, then one row per unit and per figure.
pub fn markdown(run: &GateRun, j: &Judgement) -> String {
    let failed = j.cases.iter().filter(|c| c.failure.is_some()).count();
    let mut out = format!(
        "# Gate: {}\n\n- test cases: {} ({} failed, {} skipped)\n- SQLite: {}\n- duration: {:.1} s{}\n",
        if j.passed { "passed" } else { "**FAILED**" },
        j.cases.len(),
        failed,
        j.cases.iter().filter(|c| c.skipped.is_some()).count(),
        run.sqlite_version,
        run.duration_s,
        run.shard
            .as_ref()
            .map(|s| format!("\n- shard: {s}"))
            .unwrap_or_default()
    );
    if !j.changes.is_empty() {
        out.push_str("\n## Changed against the baseline\n\n");
        for c in &j.changes {
            out.push_str(&format!("- {}\n", cell(c)));
        }
    }
    out.push_str("\n## Units\n\n| scenario | seed | strategy | expect | result | faults hit / planned | violations |\n|---|---|---|---|---|---|---|\n");
    for u in &run.units {
        let hits: Vec<String> = u
            .faults_planned
            .iter()
            .map(|(k, p)| format!("{k} {}/{p}", u.faults_hit.get(k).copied().unwrap_or(0)))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&u.scenario),
            u.seed,
            cell(&u.strategy),
            u.expect,
            u.result,
            cell(&hits.join(", ")),
            u.violations.len() + u.known_reproduced.len()
        ));
    }
    if !run.figures.is_empty() {
        out.push_str("\n## Figures\n\n| bench | figure | value |\n|---|---|---|\n");
        for f in &run.figures {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                f.bench,
                cell(&f.name),
                f.value
            ));
        }
    }
    let failures: Vec<_> = j.cases.iter().filter(|c| c.failure.is_some()).collect();
    if !failures.is_empty() {
        out.push_str("\n## Failures\n");
        for c in failures {
            out.push_str(&format!(
                "\n### {} / {}\n\n```\n{}\n```\n",
                cell(&c.suite),
                cell(&c.name),
                c.failure.as_deref().unwrap_or("").replace("```", "'''")
            ));
        }
    }
    out
}

/// The JSON: the run and its judgement.
pub fn json(run: &GateRun, j: &Judgement) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "run": run, "judgement": j }))
        .expect("gate JSON")
        + "\n"
}
