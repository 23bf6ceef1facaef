//! Strategies under faults, in-process: simulated kills at every event (old or new content,
//! or torn for the journal-off control), a hot-journal destination, and the early-finish
//! control's false success when the first step is BUSY or the final commit fails.

use crate::support::*;
use harness::event::{Claim, Event};
use harness::strategy::{self, StrategyContext, StrategyParams};
use harness::workload::WorkloadSpec;
use rusqlite::Connection;

#[test]
fn api_early_finish_claims_success_on_a_busy_first_step() {
    // The destination is write-locked by another connection: the first step returns BUSY with
    // remaining() == 0, which the control takes for "done". api-step retries and gives up.
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    let dest = dir.path().join("locked.db");
    make_preexisting(&dest);
    let before = content(&dest);
    let holder = Connection::open(&dest).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (claim, ev) = run("api-early-finish", &src, &dest, None);
    assert_eq!(claim, Claim::Success, "the control's false success");
    assert_eq!(steps(&ev), vec![(5, 0, 0)]);
    let (claim, ev) = run("api-step", &src, &dest, None);
    assert!(
        matches!(claim, Claim::Error { ref message } if message.contains("rc=5")),
        "{claim:?}"
    );
    assert!(steps(&ev).iter().all(|s| s.0 == 5));
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(content(&dest), before, "destination untouched");
}

#[test]
fn copy_locked_keeps_a_hot_journal_destination_consistent() {
    // An old destination with a hot journal (a writer killed mid-transaction) must be rolled
    // back by SQLite before the rename, never left to be "recovered" onto the new file.
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    let live = dir.path().join("live.db");
    make_preexisting(&live);
    let old = content(&live);
    let w = Connection::open(&live).unwrap();
    w.execute_batch("PRAGMA cache_size=10; BEGIN; UPDATE t SET junk = hex(randomblob(300));")
        .unwrap();
    // The files as a kill right now would leave them: db with spilled pages + hot journal.
    let dest = snapshot(&live, &dir.path().join("crashed"));
    w.execute_batch("ROLLBACK").unwrap();
    let journal = dest.with_file_name("live.db-journal");
    assert!(journal.exists() && std::fs::metadata(&journal).unwrap().len() > 512);
    // Snapshot the destination (with its journal) at every phase: each must recover to the old
    // content or be the new one.
    let params = StrategyParams::default();
    let workload = WorkloadSpec::default();
    let mut snaps = Vec::new();
    let mut emit = |e: Event| {
        if let Event::Phase { name } = e {
            let d = dir.path().join(format!("at-{}-{name}", snaps.len()));
            snaps.push((name, snapshot(&dest, &d)));
        }
    };
    let mut ctx = StrategyContext {
        source: &src,
        dest: &dest,
        source_vfs: None,
        dest_vfs: None,
        params: &params,
        workload: &workload,
        abort_before_step: None,
        link_fault: None,
        emit: &mut emit,
    };
    let claim = strategy::by_name("copy-locked").unwrap().run(&mut ctx);
    assert_eq!(claim, Claim::Success);
    assert!(!journal.exists());
    let new = content(&src);
    assert_eq!(content(&dest), new);
    assert_eq!(snaps.len(), 6);
    for (phase, snap) in snaps {
        assert_eq!(content(&snap), old, "at phase {phase}");
    }
}

#[test]
fn kills_mid_backup_leave_old_or_new_for_journaled_and_copy_locked() {
    for name in ["api-step", "copy-locked"] {
        let (states, old, new) = kill_points(name);
        assert!(states.len() > 3, "{name}");
        for (ev, st) in &states {
            let st = st
                .as_ref()
                .unwrap_or_else(|e| panic!("{name} at {ev}: damaged ({e})"));
            assert!(
                st == &old || st == &new,
                "{name} at {ev}: neither old nor new"
            );
        }
    }
}

#[test]
fn api_journal_off_is_torn_by_a_kill_mid_backup() {
    let (states, old, new) = kill_points("api-journal-off");
    let torn = states
        .iter()
        .filter(|(_, st)| st.as_ref().map_or(true, |c| c != &old && c != &new))
        .count();
    assert!(
        torn > 0,
        "the control must leave a torn destination mid-backup"
    );
}

#[test]
fn api_early_finish_claims_success_when_the_final_commit_fails() {
    // Every xSync of the destination db file fails: that sync happens only inside the final
    // step's commit, after remaining() has dropped to 0. The control stops there and claims
    // success; api-step sees the error code and claims Error. Both leave the old content.
    use vfs_faults::{Action, ErrorCode, FaultPlan, FileKind, OpKind, Rule, Selector};
    let plan = FaultPlan {
        seed: 1,
        rules: vec![Rule {
            name: Some("db-sync".into()),
            select: Selector {
                ops: vec![OpKind::Sync],
                file: Some(FileKind::MainDb),
                ..Selector::default()
            },
            action: Action::Error {
                code: ErrorCode::IoerrFsync,
                persistent: true,
            },
        }],
    };
    let vfs = vfs_faults::FaultVfs::register("strategies-final-commit", plan).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    for (name, expect_success) in [("api-early-finish", true), ("api-step", false)] {
        let dest = dir.path().join(format!("{name}.db"));
        make_preexisting(&dest);
        let old = content(&dest);
        let (claim, ev) = run(name, &src, &dest, Some(vfs.name()));
        let last = *steps(&ev).last().unwrap();
        assert_eq!(
            (last.0 & 0xff, last.1),
            (10, 0),
            "{name}: I/O error with remaining 0"
        );
        match claim {
            Claim::Success => assert!(expect_success, "{name}"),
            Claim::Error { message } => {
                assert!(!expect_success, "{name}: {message}");
                assert!(message.contains("disk I/O error"), "{message}");
            }
            c => panic!("{name}: {c:?}"),
        }
        assert_eq!(
            content(&dest),
            old,
            "{name}: the destination was not committed"
        );
    }
}
