//! Crash exploration: safe strategies never violate under one random fault on random small
//! workloads (a property test, 16 cases by default, more with PROPTEST_CASES), a planted bug
//! (the api-journal-off control) is found, every violation replays from its case ID, the first
//! is shrunk to one fault and replayed from a custom bug base, and an interrupted fuzz run
//! still returns its partial report.

use harness::explore::fuzz::bugbase;
use harness::explore::fuzz::{self, CaseRunner, FuzzCase, FuzzFault};
use harness::explore::points::{enumerate, PointKind};
use harness::explore::sweep::Explorer;
use harness::explore::verdict_cache::{CacheMode, VerdictCache};
use harness::scenario::{DestinationChoice, Scenario};
use harness::strategy::StrategyParams;
use proptest::prelude::*;
use vfs_faults::{Action, ErrorCode, FileKind, MetadataOrder, OpKind, PowerCutMode, Unsynced};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

fn single_fault() -> impl Strategy<Value = FuzzFault> {
    (
        prop_oneof![
            4 => Just(OpKind::Write),
            2 => Just(OpKind::Read),
            2 => Just(OpKind::Sync),
            1 => Just(OpKind::Delete),
            1 => Just(OpKind::Truncate),
        ],
        prop_oneof![
            3 => Just(FileKind::MainDb),
            2 => Just(FileKind::MainJournal),
            1 => Just(FileKind::Wal)
        ],
        prop_oneof![3 => Just("destination"), 1 => Just("source")],
        1u64..12,
        prop_oneof![
            (
                prop_oneof![
                    Just(ErrorCode::IoerrRead),
                    Just(ErrorCode::IoerrWrite),
                    Just(ErrorCode::IoerrFsync),
                    Just(ErrorCode::IoerrDelete),
                    Just(ErrorCode::IoerrTruncate),
                    Just(ErrorCode::Full)
                ],
                any::<bool>()
            )
                .prop_map(|(code, persistent)| Action::Error { code, persistent }),
            Just(Action::TornWrite {
                keep_sectors: 1,
                keep_bytes: None,
                then: Some(ErrorCode::IoerrWrite)
            }),
            Just(Action::PowerCut {
                mode: PowerCutMode::InProcess,
                unsynced: Unsynced::Random,
                metadata: MetadataOrder::Ordered
            }),
        ],
    )
        .prop_map(|(op, file, role, nth, action)| FuzzFault {
            site: harness::fault::OpSite {
                op,
                file,
                role: Some(role.into()),
                nth,
            },
            action,
        })
}

/// (strategy, npage, destination): the safe ones. copy-locked gets no in-process power cut
/// (it renames with std::fs, which an in-process cut cannot stop; the sweep runs those in a
/// child), and vacuum-into runs on a fresh destination.
fn safe_target() -> impl Strategy<Value = (&'static str, i32, DestinationChoice)> {
    prop_oneof![
        Just(("api-oneshot", -1, DestinationChoice::ExistingDelete)),
        Just(("api-oneshot", -1, DestinationChoice::ExistingWal)),
        Just(("api-step", 5, DestinationChoice::ExistingDelete)),
        Just(("api-step", 5, DestinationChoice::ExistingWal)),
        Just(("vacuum-into", -1, DestinationChoice::Fresh)),
        Just(("copy-locked", -1, DestinationChoice::ExistingDelete)),
    ]
}

thread_local! {
    static RUNNER: std::cell::RefCell<Option<CaseRunner>> = const { std::cell::RefCell::new(None) };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn safe_strategies_never_violate_under_one_fault(
        fault in single_fault(),
        target in safe_target(),
        pages in 8u32..24,
        workload_seed in 0u64..50,
    ) {
        let (strategy, npage, destination) = target;
        prop_assume!(!(strategy == "copy-locked" && matches!(fault.action, Action::PowerCut { .. })));
        let case = FuzzCase {
            faults: vec![fault],
            pages,
            workload_seed,
            strategy: strategy.into(),
            params: StrategyParams { npage, ..StrategyParams::default() },
            destination,
        };
        let out = RUNNER.with(|r| {
            let mut r = r.borrow_mut();
            let runner = r.get_or_insert_with(|| CaseRunner::new().unwrap());
            runner.check(&case).unwrap()
        });
        prop_assert!(
            !out.verdict.kind.is_violation(),
            "{}: {} ({})", case.describe(), out.verdict.kind.as_str(), out.verdict.detail
        );
    }
}

#[test]
fn control_is_caught_shrunk_and_replayed_from_the_bug_base() {
    let text = "mode = \"fuzz\"\nseed = 3\n\
                [crash]\ndestinations = [\"existing-delete\"]\n\
                [fuzz]\ncases = 30\nmax_faults = 3\npages_min = 8\npages_max = 24\n\
                [[strategy]]\nname = \"api-journal-off\"\nexpect = \"unsafe\"\nnpage = 5\n";
    let mut s = Scenario::parse(text, std::path::Path::new("fuzz-test.toml")).unwrap();
    let base = tempfile::tempdir().unwrap();
    s.fuzz.bugbase = Some(base.path().to_path_buf());
    let report = fuzz::run(&s, "fuzz-test", &harness::process::Interrupt::new());
    assert!(report.expectations_met, "{report:?}");
    assert!(!report.interrupted && report.error.is_none());
    let strat = &report.strategies[0];
    let violations: u64 = harness::oracle::VerdictKind::ALL
        .iter()
        .filter(|k| k.is_violation())
        .filter_map(|k| strat.verdicts.get(k.as_str()))
        .sum();
    assert_eq!(
        strat.violations.len() as u64,
        violations,
        "one entry per violation"
    );
    // Every violation replays from its case ID to the same verdict kind.
    for v in strat.violations.iter().take(3) {
        let id = v.replay.trim_start_matches("cargo run -- replay ");
        let (_, seed, name, case) = fuzz::parse_case_id(id).unwrap();
        assert_eq!((seed, name.as_str(), case), (3, "api-journal-off", v.case));
        let again = fuzz::replay_case(&s, &name, case, 1).unwrap();
        assert_eq!(again["verdict"], v.kind.as_str(), "{id}: {again}");
    }
    // The shrunk one's replay command names the custom bug base.
    let shrunk = strat.violations[0].shrunk.as_deref().unwrap();
    let arg = shrunk.trim_start_matches("cargo run -- replay ");
    assert_eq!(bugbase::entry(arg), Some(base.path().join(&strat.bugs[0])));
    let id = &strat.bugs[0];
    let dir = base.path().join(id);
    let case: FuzzCase =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(case.faults.len(), 1, "shrunk to one fault: {case:?}");
    assert_eq!(case.pages, 8, "shrunk to the smallest source");
    // A replay reads the entry; only `record` appends to its runs.log.
    let replayed = bugbase::replay_entry(&dir, 1, bugbase::ReplayOptions::default()).unwrap();
    assert!(
        id.contains(replayed["verdict"].as_str().unwrap()),
        "{replayed}"
    );
    let log = std::fs::read_to_string(dir.join("runs.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    let record = bugbase::ReplayOptions {
        record: true,
        ..Default::default()
    };
    bugbase::replay_entry(&dir, 1, record).unwrap();
    let log = std::fs::read_to_string(dir.join("runs.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(log.contains("commit=") && log.contains("replayed"), "{log}");
}

/// A bug-base entry whose case runs an external program is not run without
/// `--allow-external`, and says which argv it would run.
#[test]
fn a_bug_base_entry_that_runs_a_program_needs_allow_external() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("bug-external_evil-corrupt-00000001");
    std::fs::create_dir(&dir).unwrap();
    let marker = base.path().join("ran");
    let case = serde_json::json!({
        "faults": [], "pages": 8, "workload_seed": 1, "strategy": "external:evil",
        "params": { "command": ["sh", "-c", format!("touch {}; : {{dst}}", marker.display())] },
        "destination": "fresh"
    });
    std::fs::write(dir.join("plan.json"), case.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("replay")
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-external"), "{stderr}");
    assert!(stderr.contains("touch"), "the argv is shown: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!marker.exists(), "the program ran without --allow-external");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("replay")
        .arg(&dir)
        .arg("--allow-external")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("running external program"), "{stderr}");
    assert!(marker.exists(), "allowed, it ran: {stderr}");
}

/// A fuzz run saves its new bug-base entries under its report directory (or `--bugbase`),
/// never into the bug base that ships with the repository.
#[test]
fn fuzz_writes_new_bugs_under_the_report_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.toml");
    std::fs::write(
        &path,
        "mode = \"fuzz\"\nseed = 3\n[crash]\ndestinations = [\"existing-delete\"]\n\
         [fuzz]\ncases = 12\npages_min = 8\npages_max = 12\n\
         [[strategy]]\nname = \"api-journal-off\"\nexpect = \"unsafe\"\nnpage = 5\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&path)
        .arg("--report-dir")
        .arg(&reports)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let new_bugs: Vec<_> = std::fs::read_dir(reports.join("new-bugs"))
        .unwrap()
        .collect();
    assert!(!new_bugs.is_empty(), "{stderr}");
    assert!(!dir.path().join("reports/bugbase").exists());
    // --bugbase names another directory.
    let other = dir.path().join("mine");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&path)
        .arg("--report-dir")
        .arg(&reports)
        .arg("--bugbase")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read_dir(&other).unwrap().count() > 0);
}

/// The crash-points reference with an existing DELETE destination, and one-shot parameters.
fn crash_points_explorer() -> (Scenario, DestinationChoice, Explorer, StrategyParams) {
    let s = Scenario::load("crash-points").unwrap();
    let d = DestinationChoice::ExistingDelete;
    let ex = Explorer::new(&s, &[d], 1, &harness::process::Interrupt::new()).unwrap();
    let params = StrategyParams {
        npage: -1,
        ..StrategyParams::default()
    };
    (s, d, ex, params)
}

#[test]
fn traced_points_fire_where_enumerated() {
    let (_, d, mut ex, params) = crash_points_explorer();
    let traced = ex.trace("api-oneshot", &params, d).unwrap();
    let points = enumerate(&traced.trace, &[PointKind::IoerrTransient, PointKind::Torn]);
    assert!(points.len() > 100);
    // Every 25th point: the one-rule plan fires exactly once.
    for p in points.iter().step_by(25) {
        let (out, run) = ex
            .run_inprocess("api-oneshot", &params, d, p.plan(1), false, false)
            .unwrap();
        assert_eq!(run.rule_hits[0].fired, 1, "{}", p.label());
        assert!(
            !out.verdict.kind.is_violation(),
            "{}: {:?}",
            p.label(),
            out.verdict
        );
    }
}

/// The verdict cache gives the verdict a fresh verification gives: in `Check`
/// mode every state seen before is verified again and a different verdict is an error. Run over
/// power cuts, I/O errors and torn writes of a safe strategy and of a control that violates
/// (api-journal-off, api-early-finish), so cached violations are compared too, not only
/// `untouched`.
#[test]
fn cached_verdicts_equal_fresh_ones() {
    let (s, d, mut ex, params) = crash_points_explorer();
    let mut cached_violations = 0;
    for strategy in ["api-oneshot", "api-journal-off", "api-early-finish"] {
        ex.reference.verdicts = VerdictCache::new(CacheMode::Check);
        let traced = ex.trace(strategy, &params, d).unwrap();
        let kinds = [
            PointKind::PowerCut,
            PointKind::IoerrTransient,
            PointKind::Torn,
        ];
        let points = enumerate(&traced.trace, &kinds);
        for p in points.iter().step_by(5) {
            let before = ex.reference.verdicts.hits;
            let out = ex
                .run_point(strategy, &params, d, p, s.seed)
                .unwrap_or_else(|e| panic!("{strategy} {}: {e}", p.label()));
            if ex.reference.verdicts.hits > before && out.verdict.kind.is_violation() {
                cached_violations += 1;
            }
        }
        let v = &ex.reference.verdicts;
        assert!(
            v.hits > 5 && v.misses > 1,
            "{strategy}: {} states seen before, {} new: the cache was not exercised",
            v.hits,
            v.misses
        );
    }
    assert!(cached_violations > 0, "no violation was ever served twice");
}

#[test]
fn interrupted_fuzz_returns_its_partial_report() {
    let text = "mode = \"fuzz\"\nseed = 1\n\
                [fuzz]\ncases = 100000\npages_min = 8\npages_max = 9\n\
                [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n\
                [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n";
    let s = Scenario::parse(text, std::path::Path::new("fuzz-int.toml")).unwrap();
    let flag = harness::process::Interrupt::new();
    let f = flag.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        f.raise(harness::process::StopSignal::Term);
    });
    let report = fuzz::run(&s, "fuzz-int", &flag);
    t.join().unwrap();
    assert!(report.interrupted && !report.expectations_met, "{report:?}");
    assert_eq!(
        report.interrupted_by,
        Some(harness::process::StopSignal::Term)
    );
    assert_eq!(report.strategies.len(), 1, "stopped in the first strategy");
    let c = report.strategies[0].cases;
    assert!(c > 0 && c < 100_000, "{c} cases");
    assert_eq!(report.strategies[0].verdicts.values().sum::<u64>(), c);
}

/// `replay` of a bug-base entry exits 1 when the violation reproduces, and with `--times`
/// its headline tallies every run; it leaves the entry as it was (no `--record`).
#[test]
fn replaying_a_violation_exits_1_with_the_tally() {
    let entry = "bug-api-journal-off-corrupt-2467eb9e";
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reports/bugbase")
        .join(entry);
    let base = tempfile::tempdir().unwrap();
    let copy = base.path().join(entry);
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(from.join("plan.json"), copy.join("plan.json")).unwrap();
    let id = copy.display().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(["replay", &id, "--times", "2", "--json"])
        .arg(base.path().join("out.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with(&format!("{id}: 2 runs: corrupt 2 (first corrupt: ")),
        "{stdout}"
    );
    assert!(
        !copy.join("runs.log").exists(),
        "a replay wrote into the entry"
    );
}
