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
        untouched_bytes: (kind == VerdictKind::Untouched).then_some(true),
        remaining_zero: None,
        last_steps: Vec::new(),
        kind: fault_kind,
        fault,
        fault_hit: hit,
        absorbed: false,
        kill_delay: None,
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
        stall: None,
        recovery: None,
        stream: None,
        unreached: None,
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
            {
                // The final step copied the last page, then its commit failed.
                let mut r = result("api-oneshot", 1, VerdictKind::Untouched, kill.clone(), true);
                r.remaining_zero = Some(harness::run::iteration::RemainingZero {
                    step: 2,
                    rc: 1290,
                    copied: true,
                });
                r.last_steps = vec![
                    harness::event::Event::Step {
                        step: 1,
                        rc: 0,
                        remaining: 40,
                        pagecount: 60,
                        restarts: 0,
                        done: false,
                    },
                    harness::event::Event::Step {
                        step: 2,
                        rc: 1290,
                        remaining: 0,
                        pagecount: 60,
                        restarts: 0,
                        done: false,
                    },
                ];
                r
            },
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
    // An observation, not a planned fault: counted in faults_hit only.
    assert_eq!(r.strategies[0].faults_hit["remaining-zero-window"], 1);
    assert!(!r.strategies[0]
        .faults_planned
        .contains_key("remaining-zero-window"));
}

/// Tool and SQLite text (violation details with worker stderr and integrity_check output,
/// error messages) cannot inject Markdown or HTML into report.md, nor break its lines.
#[test]
fn markdown_escapes_tool_and_sqlite_text() {
    let nasty = "<img src=x onerror=alert(1)> <!-- hidden\n## heading\n*** in database main ***\n\
                 Page 5: never used | a|b `code` [link](javascript:x)";
    let mut r = fixed_report();
    let clean = markdown::render(&r);
    r.error = Some(nasty.into());
    r.strategies[1].violations[0].detail = nasty.into();
    r.strategies[1].violations[1].fired = vec![nasty.into()];
    r.strategies[1].dest_transitions = [(format!("{nasty} -> wal/4096"), 2)].into();
    let md = markdown::render(&r);
    for raw in ["<img", "<!--", "| a|b", "`code`", "[link]"] {
        assert!(!md.contains(raw), "{raw} got through:\n{md}");
    }
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt; &lt;!-- hidden ## heading"));
    assert!(md.contains(r"a\|b \`code\` \[link\](javascript:x)"), "{md}");
    assert!(
        !md.lines().any(|l| l.trim_start().starts_with("## heading")
            || l.trim_start().starts_with("***")
            || l.starts_with("Page 5")),
        "{md}"
    );
    // The same number of lines: every piece of text stayed on its line.
    assert_eq!(md.lines().count(), clean.lines().count() + 1, "{md}");
    let row = md
        .lines()
        .find(|l| l.starts_with("| copy-naive | &lt;img"))
        .unwrap();
    assert_eq!(
        row.matches(" | ").count(),
        clean
            .lines()
            .find(|l| l.starts_with("| copy-naive | rollback"))
            .unwrap()
            .matches(" | ")
            .count(),
        "{row}"
    );
}

/// User text inside a code span (a known-finding ID, a skipped entry's name) gets a fence
/// longer than any run of backticks in it, so a backtick cannot end the span early and let
/// the HTML after it through as raw HTML.
#[test]
fn code_spans_of_user_text_cannot_be_closed_early() {
    let mut r = fixed_report();
    let id = "x`<img src=x onerror=alert(2)>`:1:external:evil-error:99";
    r.known_unchecked = vec![id.into()];
    r.skipped = vec![harness::scenario::Skipped {
        strategy: "ev``il<b>".into(),
        why: "<i>why</i>".into(),
    }];
    let md = markdown::render(&r);
    let lines: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("skipped") || l.contains("known finding not checked"))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
    for l in &lines {
        // Every span opens and closes with the same fence, and the text in it is whole.
        assert!(
            l.contains("`` x`<img src=x onerror=alert(2)>`:1:external:evil-error:99 ``")
                || l.contains("``` ev``il<b> ```"),
            "{l}"
        );
    }
}

/// The crash-points and fuzz reports escape the same text the same way.
#[test]
fn crash_points_and_fuzz_markdown_escape_tool_and_sqlite_text() {
    use harness::explore::fuzz::{FuzzReport, FuzzStrategyReport, FuzzViolation};
    use harness::explore::report::CrashReport;
    use harness::report::RunReport;
    let nasty = "<img onerror=x> <!-- c\n## heading\na|b";
    let check = |md: &str| {
        for raw in ["<img", "<!--", "a|b"] {
            assert!(!md.contains(raw), "{raw} got through:\n{md}");
        }
        assert!(
            !md.lines().any(|l| l.trim_start().starts_with("## heading")),
            "{md}"
        );
        assert!(
            md.contains(r"&lt;img onerror=x&gt; &lt;!-- c ## heading a\|b"),
            "{md}"
        );
    };
    let fuzz = FuzzReport {
        scenario: "f".into(),
        seed: 1,
        strategies: vec![FuzzStrategyReport {
            name: "api-step".into(),
            expect: harness::scenario::Expect::Safe,
            cases: 1,
            faults_fired: 1,
            verdicts: Default::default(),
            violations: vec![FuzzViolation {
                case: 0,
                kind: VerdictKind::Corrupt,
                detail: nasty.into(),
                replay: "cargo run -- replay fuzz:f:1:api-step:0".into(),
                shrunk: None,
            }],
            bugs: Vec::new(),
            not_modelled: Vec::new(),
            expectation_met: false,
        }],
        expectations_met: false,
        interrupted: false,
        interrupted_by: None,
        error: Some(nasty.into()),
    };
    check(&fuzz.markdown());
    let crash: CrashReport = serde_json::from_value(serde_json::json!({
        "scenario": "c", "mode": "crash-points", "seed": 1, "sqlite_version": "3.test",
        "duration_s": 1.0, "reference": {}, "expectations_met": false,
        "interrupted": false, "error": nasty,
        "strategies": [{
            "name": "api-step", "destination": "existing-wal", "expect": "safe",
            "trace_len": 1, "trace_hash": "0", "points_total": 1, "points_tested": 1,
            "inprocess_states": 1, "kill_states_run": 0, "faults_hit": {}, "faults_planned": {},
            "verdicts": {}, "verdicts_by_fault": {}, "not_hit": [], "expectation_met": false,
            "duration_s": 1.0,
            "violations": [{"kind": "corrupt", "point": "op 3", "fault": "busy",
                            "replay": "cargo run -- replay crash:c:1:api-step:existing-wal:3:busy",
                            "detail": nasty}]
        }]
    }))
    .unwrap();
    check(&crash.markdown());
}

/// A control is caught only by the violation kinds that name its mechanism: the same run with
/// `caught_as` naming another kind leaves copy-naive not caught.
#[test]
fn a_control_caught_by_the_wrong_kind_is_not_caught() {
    use harness::report::Outcome;
    let run_with = |caught_as: &str| {
        let scenario = Scenario::parse(
            &format!(
                "name = \"fixed\"\nseed = 3\niterations = 2\n\
                 [[strategy]]\nname = \"copy-naive\"\nexpect = \"unsafe\"\n\
                 faults = [\"kill-after-event\"]\ncaught_as = {caught_as}\n"
            ),
            Path::new("fixed.toml"),
        )
        .unwrap();
        let run = RunResult {
            scenario,
            duration_s: 1.0,
            sqlite_version: "3.test".into(),
            standalone_commits_per_s: 0.0,
            results: vec![
                result("copy-naive", 0, VerdictKind::OutOfWindow, None, false),
                result("copy-naive", 1, VerdictKind::Torn, None, false),
            ],
            interrupted: None,
            error: None,
        };
        Report::build(&run).strategies[0].result
    };
    assert_eq!(run_with("[\"out-of-window\", \"torn\"]"), Outcome::Caught);
    assert_eq!(run_with("[\"source-damaged\"]"), Outcome::NotCaught);
}

#[test]
fn network_backup_table() {
    let scenario = Scenario::parse(
        "name = \"net\"\nseed = 3\niterations = 2\n\
         [[strategy]]\nname = \"stream-vfs-same-conn\"\nexpect = \"safe\"\nfaults = [\"link-break\"]\n",
        Path::new("net.toml"),
    )
    .unwrap();
    let stats = |bytes: u64, resent: u64, depths: &[u64]| harness::stream::StreamStats {
        transport: "unix".into(),
        bytes_shipped: bytes,
        pages_sent: 100 + resent,
        pages_resent: resent,
        syncs_acked: 1,
        throttled_ms: 30,
        bandwidth_bps: 4_000_000,
        throughput_bps: 3_900_000,
        queue_bytes: 262_144,
        queue_max: depths.iter().copied().max().unwrap_or(0),
        queue_samples: depths
            .iter()
            .enumerate()
            .map(|(i, &d)| (i as u64 * 10, d))
            .collect(),
        changed_pages: Some(40),
        link_error: None,
    };
    let mut a = result(
        "stream-vfs-same-conn",
        0,
        VerdictKind::Snapshot,
        None,
        false,
    );
    a.stream = Some(stats(500_000, 6, &[0, 65_536, 262_144, 131_072, 0]));
    let mut b = result(
        "stream-vfs-same-conn",
        1,
        VerdictKind::Untouched,
        None,
        false,
    );
    b.claim = Some(Claim::Error {
        message: "link broken".into(),
    });
    b.stream = Some(stats(120_000, 2, &[0, 262_144]));
    let run = RunResult {
        scenario,
        duration_s: 1.0,
        sqlite_version: "3.test".into(),
        standalone_commits_per_s: 10.0,
        results: vec![a, b],
        interrupted: None,
        error: None,
    };
    let report = Report::build(&run);
    assert_eq!(report.network.len(), 1);
    insta::assert_snapshot!(markdown::render(&report));
}

#[test]
fn a_backup_over_max_restarts_fails_a_safe_entry_with_its_replay_id() {
    let scenario = Scenario::parse(
        "name = \"fixed\"\nseed = 3\niterations = 2\n\
         [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nmax_restarts = 1\n",
        Path::new("fixed.toml"),
    )
    .unwrap();
    let mut over = result("api-step", 1, VerdictKind::Snapshot, None, false);
    over.restarts = 2;
    let mut at = result("api-step", 0, VerdictKind::Snapshot, None, false);
    at.restarts = 1;
    let run = RunResult {
        scenario,
        duration_s: 1.0,
        sqlite_version: "3.test".into(),
        standalone_commits_per_s: 10.0,
        results: vec![at, over],
        interrupted: None,
        error: None,
    };
    let report = Report::build(&run);
    let s = &report.strategies[0];
    assert_eq!(
        s.restarts_over,
        vec!["fixed:3:api-step:1: 2 restarts (max 1)"]
    );
    assert!(!s.expectation_met, "{s:?}");
    assert!(markdown::render(&report).contains("restarted more often than its `max_restarts`"));
}

/// A control with no violation says what it showed instead. A user's own tool that only
/// errored failed safely: it is not called a broken harness; a built-in control is.
#[test]
fn a_control_that_is_not_caught_says_what_it_showed() {
    let run_with = |name: &str, extra: &str| {
        let scenario = Scenario::parse(
            &format!(
                "name = \"fixed\"\nseed = 3\niterations = 2\n\
                 [[strategy]]\nname = \"{name}\"\nexpect = \"unsafe\"\n\
                 faults = [\"kill-delay\"]\n{extra}"
            ),
            Path::new("fixed.toml"),
        )
        .unwrap();
        let delay = Fault {
            action: FaultAction::Kill {
                when: KillWhen::Before,
            },
            placement: Placement::AfterDelay { ms: 20 },
        };
        let mut errored = result(
            name,
            0,
            VerdictKind::Error,
            Some((FaultKind::KillDelay, delay)),
            true,
        );
        errored.claim = Some(Claim::Error {
            message: "disk I/O error".into(),
        });
        let run = RunResult {
            scenario,
            duration_s: 1.0,
            sqlite_version: "3.test".into(),
            standalone_commits_per_s: 0.0,
            results: vec![errored, result(name, 1, VerdictKind::Snapshot, None, false)],
            interrupted: None,
            error: None,
        };
        let report = Report::build(&run);
        (table::render(&report, 5), markdown::render(&report))
    };
    let (tool, tool_md) = run_with(
        "external:my-tool",
        "command = [\"sh\", \"-c\", \"exit 1\", \"sh\", \"{src}\", \"{dst}\"]\n",
    );
    let line = tool
        .lines()
        .find(|l| l.starts_with("external:my-tool is not caught: "))
        .unwrap_or_else(|| panic!("{tool}"));
    assert!(
        line.contains(
            "it showed error 1, snapshot 1; faults fired before its claim: kill-delay 1/1"
        ) && line.contains("failed safely")
            && !line.contains("broken"),
        "{line}"
    );
    assert!(
        tool_md.contains("`external:my-tool` not caught: no violation in 2"),
        "{tool_md}"
    );
    let (builtin, _) = run_with("copy-naive", "");
    assert!(
        builtin
            .lines()
            .any(|l| l.starts_with("copy-naive is not caught: ")
                && l.ends_with("the harness is broken")),
        "{builtin}"
    );
}

/// A hit that changed nothing (`absorbed`) is shown next to the hits, in report.json and
/// report.md, and does not count towards `min_fault_hit`: a safe entry whose only hits were
/// absorbed is untested. Supervisor kills show their planned delays and how late they went.
#[test]
fn absorbed_hits_do_not_test_an_entry_and_late_kills_are_shown() {
    let scenario = Scenario::parse(
        "name = \"fixed\"\nseed = 3\niterations = 2\n\
         [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
         faults = [\"ioerr-transient\", \"kill-delay\"]\n",
        Path::new("fixed.toml"),
    )
    .unwrap();
    let ioerr = Fault {
        action: FaultAction::Ioerr {
            code: vfs_faults::ErrorCode::IoerrWrite,
            persistent: false,
        },
        placement: Placement::FinalCommit { wal: true },
    };
    let delay = Fault {
        action: FaultAction::Kill {
            when: KillWhen::Before,
        },
        placement: Placement::AfterDelay { ms: 10 },
    };
    let run_with = |absorbed: bool| {
        let mut a = result(
            "api-step",
            0,
            VerdictKind::Snapshot,
            Some((FaultKind::IoerrTransient, ioerr.clone())),
            true,
        );
        a.absorbed = absorbed;
        let mut k = result(
            "api-step",
            1,
            VerdictKind::Untouched,
            Some((FaultKind::KillDelay, delay.clone())),
            true,
        );
        k.kill_delay = Some(harness::run::iteration::KillDelay {
            planned_ms: 10,
            actual_ms: Some(57),
        });
        let run = RunResult {
            scenario: scenario.clone(),
            duration_s: 1.0,
            sqlite_version: "3.test".into(),
            standalone_commits_per_s: 0.0,
            results: vec![a, k],
            interrupted: None,
            error: None,
        };
        Report::build(&run)
    };
    let tested = run_with(false);
    assert_eq!(tested.strategies[0].result, harness::report::Outcome::Ok);
    let report = run_with(true);
    let s = &report.strategies[0];
    assert_eq!(
        s.result,
        harness::report::Outcome::Untested,
        "{:?}",
        s.untested_because
    );
    assert_eq!(s.faults_absorbed.get("ioerr-transient"), Some(&1));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["strategies"][0]["faults_absorbed"]["ioerr-transient"],
        1
    );
    assert_eq!(json["results"][0]["absorbed"], true);
    assert_eq!(json["results"][1]["kill_delay"]["actual_ms"], 57);
    let md = markdown::render(&report);
    assert!(md.contains("ioerr-transient 1/1 (1 absorbed)"), "{md}");
    assert!(
        md.contains("`api-step` supervisor kills: 1 of 1 sent (the others found the backup done), planned after 10-10 ms, sent late by 47 ms median, 47 ms at most"),
        "{md}"
    );
    assert!(table::render(&report, 5).contains("ioerr-transient 1/1 (1 absorbed)"));
}
