//! Every strategy on a small WAL source with no concurrent writer: into a fresh destination and
//! into a pre-existing one, checking the claim, the events and that the destination's content
//! equals the source's. `seed-option-a` is checked for what SQLite really does with the advice.

use crate::support::*;
use harness::event::{Claim, Event};
use harness::strategy::{self, StrategyContext, StrategyParams};
use harness::workload::WorkloadSpec;
use rusqlite::Connection;

#[test]
fn all_names_resolve_and_describe_themselves() {
    for r in strategy::REGISTRY {
        assert!(strategy::by_name(r.name).is_some(), "{} missing", r.name);
        assert_eq!(strategy::registration(r.name).map(|x| x.name), Some(r.name));
        assert!(!r.describe.is_empty() && !r.describe.contains('\n'));
    }
    assert!(strategy::by_name("no-such").is_none());
    // The facts decide which faults reach a strategy: the file copies write past the VFS.
    for (name, through_vfs) in [
        ("api-step", true),
        ("vacuum-into", true),
        ("copy-locked", false),
        ("external:x", false),
    ] {
        assert_eq!(
            strategy::facts(name).map(|f| f.dest_through_vfs),
            Some(through_vfs),
            "{name}"
        );
    }
}

#[test]
fn api_oneshot_copies() {
    let ev = check_copies("api-oneshot");
    let st = steps(&ev);
    assert!(st.iter().all(|s| s.0 == 101 && s.1 == 0), "{st:?}");
}

#[test]
fn api_step_copies_in_many_steps() {
    let ev = check_copies("api-step");
    let st = steps(&ev);
    assert!(st.len() > 10, "npage 7 must take many steps: {st:?}");
    assert_eq!(st.last().unwrap().0, 101);
}

#[test]
fn copy_naive_copies_when_quiet_and_checkpointed() {
    // Without a checkpoint the WAL-only commits are lost: that is the control's bug.
    let dir = tempfile::tempdir().unwrap();
    let (src, writer) = make_source(dir.path());
    let dest = dir.path().join("dest.db");
    let (claim, _) = run("copy-naive", &src, &dest, None);
    assert_eq!(claim, Claim::Success);
    assert_ne!(
        content(&dest),
        content(&src),
        "db file alone misses the WAL"
    );
    writer
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let (claim, _) = run("copy-naive", &src, &dest, None);
    assert_eq!(claim, Claim::Success);
    assert_eq!(content(&dest), content(&src));
}

#[test]
fn destination_vfs_is_used() {
    // A VFS name that does not exist must make API strategies fail at open: proof that
    // ctx.dest_vfs reaches the destination connection.
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    for name in ["api-oneshot", "api-step"] {
        // A fresh file each time: the copy is a WAL database (header bytes 18/19 come from the
        // source), and unix-none cannot reopen a WAL database.
        let dest = dir.path().join(format!("{name}.db"));
        let (claim, _) = run(name, &src, &dest, Some("no-such-vfs"));
        match claim {
            Claim::Error { message } => assert!(message.starts_with(name), "{message}"),
            c => panic!("{name}: {c:?}"),
        }
        let (claim, _) = run(name, &src, &dest, Some("unix-none"));
        assert_eq!(claim, Claim::Success, "{name} via unix-none");
    }
}

#[test]
fn api_autockpt_off_copies_and_reports_its_checkpoint() {
    let ev = check_copies("api-autockpt-off");
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Checkpoint { mode, rc: 0, .. } if mode == "FULL")));
}

#[test]
fn api_journal_off_copies_when_nothing_goes_wrong() {
    check_copies("api-journal-off");
}

#[test]
fn api_early_finish_copies_when_nothing_goes_wrong() {
    let ev = check_copies("api-early-finish");
    assert_eq!(steps(&ev).last().unwrap().0, 101);
}

#[test]
fn vacuum_into_fresh_copies_and_preexisting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    let fresh = dir.path().join("fresh.db");
    let (claim, _) = run("vacuum-into", &src, &fresh, None);
    assert_eq!(claim, Claim::Success);
    assert_eq!(content(&fresh), content(&src));
    // SQLite refuses an existing non-empty output: the literal strategy reports that.
    let pre = dir.path().join("pre.db");
    make_preexisting(&pre);
    let before = content(&pre);
    let (claim, _) = run("vacuum-into", &src, &pre, None);
    match claim {
        Claim::Error { message } => {
            assert!(message.starts_with("vacuum-into: VACUUM INTO"), "{message}");
            assert!(message.contains("output file already exists"), "{message}");
        }
        c => panic!("{c:?}"),
    }
    assert_eq!(content(&pre), before);
}

#[test]
fn vacuum_into_output_goes_through_the_destination_vfs() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    // An unknown VFS in the URI fails: the parameter reaches SQLite.
    let d1 = dir.path().join("odd?name#1.db");
    let (claim, _) = run("vacuum-into", &src, &d1, Some("no-such-vfs"));
    match claim {
        Claim::Error { message } => assert!(message.contains("no such vfs"), "{message}"),
        c => panic!("{c:?}"),
    }
    assert!(!d1.exists());
    // A real one works, and the URI escaping keeps the odd file name intact.
    let (claim, _) = run("vacuum-into", &src, &d1, Some("unix-dotfile"));
    assert_eq!(claim, Claim::Success);
    assert_eq!(content(&d1), content(&src));
}

#[test]
fn copy_locked_copies_and_leaves_no_sidecars() {
    check_copies("copy-locked");
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    let dest = dir.path().join("d.db");
    // A stale temp file and a stale shm from an earlier killed run are replaced/removed.
    std::fs::write(dir.path().join("d.db.tmp"), b"garbage").unwrap();
    make_preexisting(&dest);
    std::fs::write(dir.path().join("d.db-shm"), b"stale").unwrap();
    let (claim, ev) = run("copy-locked", &src, &dest, None);
    assert_eq!(claim, Claim::Success);
    assert_eq!(content(&dest), content(&src));
    for s in [".tmp", ".tmp-wal", ".tmp-shm", "-wal", "-shm", "-journal"] {
        let p = dir.path().join(format!("d.db{s}"));
        assert!(!p.exists(), "{} left behind", p.display());
    }
    let phases: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Phase { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [
            "lock",
            "copy-db",
            "copy-wal",
            "unlock",
            "checkpoint",
            "rename"
        ]
    );
    // The result is a self-contained rollback-journal database.
    let c = Connection::open(&dest).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
}

#[test]
fn seed_option_b_copies_when_quiet() {
    check_copies("seed-option-b");
}

#[test]
fn seed_option_a_fails_as_sqlite_says() {
    // Literal seed option A: inside BEGIN IMMEDIATE, `PRAGMA wal_checkpoint(TRUNCATE)` fails
    // with SQLITE_LOCKED "database table is locked" (the btree refuses to checkpoint from a
    // connection with an open transaction). The advice stops there: the destination is never
    // touched, and the source is still a WAL database with the same content.
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    let src_before = content(&src);
    for pre in [false, true] {
        let dest = dir.path().join(format!("a-{pre}.db"));
        if pre {
            make_preexisting(&dest);
        }
        let dest_before = pre.then(|| content(&dest));
        let (claim, ev) = run("seed-option-a", &src, &dest, None);
        assert_eq!(
            claim,
            Claim::Error {
                message: "seed-option-a: PRAGMA wal_checkpoint(TRUNCATE): database table is locked"
                    .into()
            }
        );
        assert!(steps(&ev).is_empty(), "the backup never started");
        match dest_before {
            Some(b) => assert_eq!(content(&dest), b),
            None => assert!(!dest.exists()),
        }
    }
    assert_eq!(content(&src), src_before);
    let c = Connection::open(&src).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // The next two steps of the advice would fail too: journal_mode=DELETE is refused inside a
    // transaction, and a backup whose source connection holds a write transaction gets BUSY.
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    let e = c
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot change out of wal mode from within a transaction"),
        "{e}"
    );
    c.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn api_same_conn_commits_between_steps_without_restarting() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("w.db");
    let spec = WorkloadSpec {
        initial_pages: 60,
        ..WorkloadSpec::default()
    };
    harness::workload::create_source(&src, &spec).unwrap();
    let params = StrategyParams {
        npage: 10,
        busy_timeout_ms: 500,
        ..StrategyParams::default()
    };
    for pre in [false, true] {
        let dest = dir.path().join(format!("same-{pre}.db"));
        if pre {
            make_preexisting(&dest);
        }
        let mut events = Vec::new();
        let mut emit = |e: Event| events.push(e);
        let mut ctx = StrategyContext {
            source: &src,
            dest: &dest,
            source_vfs: None,
            dest_vfs: None,
            params: &params,
            workload: &spec,
            abort_before_step: None,
            link_fault: None,
            emit: &mut emit,
        };
        let claim = strategy::by_name("api-same-conn").unwrap().run(&mut ctx);
        assert_eq!(claim, Claim::Success, "{events:?}");
        let commits: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                Event::Commit { k, writer: 99, .. } => Some(*k),
                _ => None,
            })
            .collect();
        assert!(commits.len() >= 3, "{commits:?}");
        assert!(commits.windows(2).all(|w| w[1] == w[0] + 1), "{commits:?}");
        let restarts = events
            .iter()
            .any(|e| matches!(e, Event::Step { restarts, .. } if *restarts > 0));
        assert!(!restarts, "own commits must not restart the backup");
        // Every own commit was pushed into the backup: the copy is the source as of the last.
        assert_eq!(content(&dest), content(&src));
        let c = Connection::open(&dest).unwrap();
        assert_eq!(
            harness::workload::read_seq(&c).unwrap(),
            *commits.last().unwrap()
        );
    }
}

/// api-step retries BUSY (up to its `busy_timeout_ms`, 500 ms here): a destination held by
/// another connection's write transaction for 150 ms delays it, it does not fail it.
#[test]
fn api_step_waits_out_a_short_busy_destination() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let (src, writer) = make_source(&dir_path);
    drop(writer);
    let dest = dir_path.join("dest.db");
    make_preexisting(&dest);
    let holder = rusqlite::Connection::open(&dest).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(150));
        holder.execute_batch("COMMIT").unwrap();
    });
    let (claim, events) = run("api-step", &src, &dest, None);
    release.join().unwrap();
    let busy_steps = steps(&events).iter().filter(|s| s.0 == 5).count();
    assert!(busy_steps > 0, "the destination was busy first: {events:?}");
    assert_eq!(claim, harness::event::Claim::Success, "{events:?}");
    assert_eq!(content(&dest), content(&src));
}
