//! Rendered reports (Markdown and the terminal table) as insta snapshots of a fixed run.

use harness::event::Claim;
use harness::fault::{Fault, FaultAction, FaultKind, Placement};
use harness::oracle::{FileFacts, SourceCheck, Verdict, VerdictKind, Window};
use harness::report::{markdown, table, Report};
use harness::run::iteration::CheckpointCount;
use harness::run::plan::replay_id;
use harness::run::{IterationResult, RunResult};
use harness::scenario::{DestinationChoice, Scenario};
use harness::workload::{DestContent, DestinationSetup, JournalMode};
use std::path::Path;
use vfs_faults::KillWhen;

type Planned = Option<(FaultKind, Fault)>;

fn result(
    strategy: &str,
    iteration: u32,
    kind: VerdictKind,
    fault: Planned,
    hit: bool,
) -> IterationResult {
    let k = matches!(kind, VerdictKind::Snapshot | VerdictKind::OutOfWindow).then_some(40);
    let (fault_kind, fault) = fault.unzip();
    IterationResult {
        strategy: strategy.into(),
        strategy_name: strategy.into(),
        iteration,
        replay: replay_id("fixed", 3, strategy, iteration),
        destination: DestinationChoice::ExistingDelete,
        dest: DestinationSetup::preset(DestContent::Existing, Some(JournalMode::Delete), 4096),
        dest_before: Some(FileFacts {
            page_size: 4096,
            header: "rollback".into(),
            journal_mode: "delete".into(),
        }),
        dest_after: Some(FileFacts {
            page_size: 4096,
            header: "wal".into(),
            journal_mode: "wal".into(),
        }),
        deterministic: fault.as_ref().is_none_or(Fault::deterministic),
        fired: if hit {
            vec![fault.as_ref().unwrap().label()]
        } else {
            Vec::new()
        },
        kind: fault_kind,
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
        checkpoints: [("passive".to_string(), CheckpointCount { ran: 3, busy: 1 })]
            .into_iter()
            .collect(),
        last_event: None,
    }
}

fn fixed_report() -> Report {
    let scenario = Scenario::parse(
        "name = \"fixed\"\nseed = 3\niterations = 2\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n\
         [[strategy]]\nname = \"copy-naive\"\nexpect = \"unsafe\"\n\
         faults = [\"kill-after-event\", \"kill-delay\"]\n\
         [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n",
        Path::new("fixed.toml"),
    )
    .unwrap();
    let kill_at = |placement| Fault {
        action: FaultAction::Kill {
            when: KillWhen::Before,
        },
        placement,
    };
    let kill = Some((
        FaultKind::KillAfterEvent,
        kill_at(Placement::AfterEvent { n: 2 }),
    ));
    let delay = Some((
        FaultKind::KillDelay,
        kill_at(Placement::AfterDelay { ms: 20 }),
    ));
    let run = RunResult {
        scenario,
        duration_s: 1.25,
        sqlite_version: "3.test".into(),
        standalone_commits_per_s: 1000.0,
        results: vec![
            result("api-oneshot", 0, VerdictKind::Snapshot, None, false),
            result(
                "copy-naive",
                0,
                VerdictKind::OutOfWindow,
                kill.clone(),
                true,
            ),
            result("api-oneshot", 1, VerdictKind::Untouched, kill.clone(), true),
            result("copy-naive", 1, VerdictKind::Torn, delay.clone(), false),
            // Safe, no violation, but its kill-delay never landed before the claim: untested.
            result("api-step", 0, VerdictKind::Snapshot, delay.clone(), false),
            result("api-step", 1, VerdictKind::Snapshot, None, false),
        ],
        interrupted: None,
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
    use harness::report::Outcome;
    let r = fixed_report();
    let naive = &r.strategies[1];
    assert_eq!(naive.violations.len(), 2);
    assert_eq!(naive.faults_planned["kill-after-event"], 1);
    assert_eq!(naive.faults_hit["kill-after-event"], 1);
    assert_eq!(naive.faults_planned["kill-delay"], 1);
    assert_eq!(naive.faults_hit.get("kill-delay"), None);
    assert_eq!(naive.result, Outcome::Caught);
    assert_eq!(r.strategies[0].result, Outcome::Ok);
    let step = &r.strategies[2];
    assert_eq!(step.result, Outcome::Untested);
    assert!(step.untested_because[0].contains("kill-delay fired in 0 of 1"));
    assert!(
        !r.expectations_met,
        "an untested safe strategy fails the run"
    );
    assert_eq!(r.source_commits, 3000);
    assert_eq!(r.strategies[0].verdicts["snapshot"], 1);
}
