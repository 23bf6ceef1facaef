//! Rendered reports (Markdown and the terminal table) as insta snapshots of a fixed run.

use harness::event::Claim;
use harness::fault::{replay_id, PlannedFault};
use harness::oracle::{SourceCheck, Verdict, VerdictKind, Window};
use harness::report::{markdown, table, Report};
use harness::run::{IterationResult, RunResult};
use harness::scenario::{DestinationChoice, Scenario};
use std::path::Path;

fn result(
    strategy: &str,
    iteration: u32,
    kind: VerdictKind,
    fault: PlannedFault,
    hit: bool,
) -> IterationResult {
    let k = matches!(kind, VerdictKind::Snapshot | VerdictKind::OutOfWindow).then_some(40);
    IterationResult {
        strategy: strategy.into(),
        iteration,
        replay: replay_id("fixed", 3, strategy, iteration),
        destination: DestinationChoice::ExistingDelete,
        deterministic: fault.deterministic(),
        fault,
        fault_hit: hit,
        claim: Some(Claim::Success),
        window: Window {
            k_start: 50,
            k_end: 90,
        },
        verdict: Verdict {
            kind,
            k,
            lag: k.map(|k| 90 - k),
            detail: format!("{} detail", kind.as_str()),
        },
        source: SourceCheck {
            k: 95,
            damage: None,
        },
        exit: "exit 0".into(),
        steps: 3,
        restarts: 1,
        backup_ms: 100 + u64::from(iteration),
        commits_during_backup: 500,
        last_event: None,
    }
}

fn fixed_report() -> Report {
    let scenario = Scenario::parse(
        "name = \"fixed\"\nseed = 3\niterations = 2\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n\
         [[strategy]]\nname = \"copy-naive\"\nexpect = \"unsafe\"\n",
        Path::new("fixed.toml"),
    )
    .unwrap();
    let kill = PlannedFault::KillAfterEvent { n: 2 };
    let delay = PlannedFault::KillDelay { ms: 20 };
    let run = RunResult {
        scenario,
        duration_s: 1.25,
        sqlite_version: "3.test".into(),
        standalone_commits_per_s: 1000.0,
        results: vec![
            result(
                "api-oneshot",
                0,
                VerdictKind::Snapshot,
                PlannedFault::None,
                false,
            ),
            result(
                "copy-naive",
                0,
                VerdictKind::OutOfWindow,
                kill.clone(),
                true,
            ),
            result("api-oneshot", 1, VerdictKind::Untouched, kill, true),
            result("copy-naive", 1, VerdictKind::Torn, delay, false),
        ],
        interrupted: false,
        error: None,
    };
    Report::build(&run)
}

#[test]
fn markdown_report() {
    insta::assert_snapshot!(markdown::render(&fixed_report()));
}

#[test]
fn terminal_table() {
    insta::assert_snapshot!(table::render(&fixed_report(), 5));
}

#[test]
fn counts_and_expectations() {
    let r = fixed_report();
    assert!(r.expectations_met);
    let naive = &r.strategies[1];
    assert_eq!(naive.violations.len(), 2);
    assert_eq!(naive.faults_planned["kill"], 2);
    assert_eq!(naive.faults_hit["kill"], 1);
    assert_eq!(r.source_commits, 2000);
    assert_eq!(r.strategies[0].verdicts["snapshot"], 1);
}
