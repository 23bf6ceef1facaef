//! Every strategy on a small WAL source with no concurrent writer: into a fresh destination and
//! into a pre-existing one, checking the claim, the events and that the destination's content
//! equals the source's. `seed-option-a` is checked for what SQLite really does with the advice.

use harness::event::{Claim, Event};
use harness::strategy::{self, StrategyContext, StrategyParams};
use harness::workload::WorkloadSpec;
use rusqlite::types::Value;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// A small WAL source: a few hundred rows (some overflow pages), a `meta` row, and committed
/// content left in the `-wal` (the connection stays open, autocheckpoint off).
fn make_source(dir: &Path) -> (PathBuf, Connection) {
    let path = dir.join("src.db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE meta(id INTEGER PRIMARY KEY CHECK(id=1), seq INTEGER);
         INSERT INTO meta VALUES (1, 0);
         CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB);
         CREATE INDEX t_n ON t(n);",
    )
    .unwrap();
    c.execute_batch("BEGIN").unwrap();
    for i in 0..300i64 {
        let len = if i % 50 == 0 {
            6000
        } else {
            (i as usize * 37) % 700
        };
        c.execute(
            "INSERT INTO t(n, r, s, b) VALUES (?1, ?2, ?3, zeroblob(?4))",
            rusqlite::params![i * 7 % 101, i as f64 / 3.0, format!("row {i}"), len as i64],
        )
        .unwrap();
    }
    c.execute_batch("COMMIT; PRAGMA wal_checkpoint(PASSIVE);")
        .unwrap();
    // More commits after the checkpoint, living only in the WAL.
    for k in 1..=5i64 {
        c.execute_batch(&format!(
            "BEGIN; UPDATE meta SET seq={k}; DELETE FROM t WHERE id % 29 = {k};
             INSERT INTO t(n, r, s) VALUES ({k}, 0.5, 'wal only'); COMMIT;"
        ))
        .unwrap();
    }
    (path, c)
}

/// Schema plus the rows of every table, sorted, as text.
fn content(path: &Path) -> Vec<String> {
    try_content(path).unwrap()
}

/// [`content`] that reports a damaged database instead of panicking.
fn try_content(path: &Path) -> Result<Vec<String>, rusqlite::Error> {
    let c = Connection::open(path)?;
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(rusqlite::Error::InvalidQuery);
    }
    Ok(content_of(&c))
}

fn content_of(c: &Connection) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut names = Vec::new();
    {
        let mut st = c
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name")
            .unwrap();
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (ty, name, sql) = row.unwrap();
            out.push(format!("{ty} {name} {sql:?}"));
            if ty == "table" {
                names.push(name);
            }
        }
    }
    for name in names {
        let mut st = c.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                let vals: Vec<Value> = (0..n).map(|i| r.get(i)).collect::<Result<_, _>>()?;
                Ok(format!("{name} {vals:?}"))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.sort();
        out.extend(rows);
    }
    out
}

/// Copies the destination and its sidecars, as they are right now, into `snap_dir` (what a kill
/// at this instant would leave behind); returns the copied database's path.
fn snapshot(dest: &Path, snap_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(snap_dir).unwrap();
    let name = dest.file_name().unwrap().to_string_lossy().into_owned();
    for suffix in ["", "-journal", "-wal"] {
        let from = dest.with_file_name(format!("{name}{suffix}"));
        if from.exists() {
            std::fs::copy(&from, snap_dir.join(format!("{name}{suffix}"))).unwrap();
        }
    }
    snap_dir.join(name)
}

/// Runs `name` into a pre-existing destination and snapshots it at every event; returns the
/// recovered content of each snapshot (Err = damaged), the old and the new content.
#[allow(clippy::type_complexity)]
fn kill_points(
    name: &str,
) -> (
    Vec<(String, Result<Vec<String>, rusqlite::Error>)>,
    Vec<String>,
    Vec<String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (src, _w) = make_source(dir.path());
    let dest = dir.path().join("k.db");
    make_preexisting(&dest);
    let old = content(&dest);
    let params = StrategyParams {
        npage: 7,
        ..StrategyParams::default()
    };
    let workload = WorkloadSpec::default();
    let mut snaps = Vec::new();
    let mut emit = |e: Event| {
        let snap_dir = dir.path().join(format!("snap{}", snaps.len()));
        if !matches!(e, Event::Phase { .. } | Event::Step { .. }) || snaps.len() > 40 {
            return;
        }
        if dest.exists() {
            snaps.push((format!("{e:?}"), snapshot(&dest, &snap_dir)));
        }
    };
    let mut ctx = StrategyContext {
        source: &src,
        dest: &dest,
        source_vfs: None,
        dest_vfs: None,
        params: &params,
        workload: &workload,
        emit: &mut emit,
    };
    let claim = strategy::by_name(name).unwrap().run(&mut ctx);
    assert_eq!(claim, Claim::Success);
    let new = content(&src);
    let states = snaps
        .into_iter()
        .map(|(ev, p)| (ev, try_content(&p)))
        .collect();
    (states, old, new)
}

fn make_preexisting(dest: &Path) {
    let c = Connection::open(dest).unwrap();
    c.execute_batch(
        "CREATE TABLE old(x); INSERT INTO old VALUES ('previous backup');
         CREATE TABLE t(id INTEGER PRIMARY KEY, junk TEXT);
         INSERT INTO t(junk) SELECT 'x' FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<500) SELECT i FROM c);",
    )
    .unwrap();
}

fn run(name: &str, source: &Path, dest: &Path, dest_vfs: Option<&str>) -> (Claim, Vec<Event>) {
    let params = StrategyParams {
        npage: 7,
        busy_timeout_ms: 500,
        ..StrategyParams::default()
    };
    let workload = WorkloadSpec::default();
    let mut events = Vec::new();
    let mut emit = |e: Event| events.push(e);
    let mut ctx = StrategyContext {
        source,
        dest,
        source_vfs: None,
        dest_vfs,
        params: &params,
        workload: &workload,
        emit: &mut emit,
    };
    let s = strategy::by_name(name).expect("known strategy");
    assert_eq!(s.name(), name);
    let claim = s.run(&mut ctx);
    (claim, events)
}

fn steps(events: &[Event]) -> Vec<(i32, i32, i32)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Step {
                rc,
                remaining,
                pagecount,
                ..
            } => Some((*rc, *remaining, *pagecount)),
            _ => None,
        })
        .collect()
}

/// Runs `name` into a fresh and into a pre-existing destination; both must be exact copies.
fn check_copies(name: &str) -> Vec<Event> {
    let dir = tempfile::tempdir().unwrap();
    let (src, _writer) = make_source(dir.path());
    let expected = content(&src);
    let mut all = Vec::new();
    for pre in [false, true] {
        let dest = dir.path().join(format!("dest-{pre}.db"));
        if pre {
            make_preexisting(&dest);
        }
        let (claim, events) = run(name, &src, &dest, None);
        assert_eq!(
            claim,
            Claim::Success,
            "{name} pre-existing={pre}: {events:?}"
        );
        assert_eq!(content(&dest), expected, "{name} pre-existing={pre}");
        all.extend(events);
    }
    all
}

#[test]
fn all_names_resolve_and_describe_themselves() {
    for name in strategy::ALL {
        let s = strategy::by_name(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(s.name(), *name);
        assert!(!s.describe().is_empty() && !s.describe().contains('\n'));
    }
    assert!(strategy::by_name("no-such").is_none());
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
