//! How a plan is aimed and what it tells: markers (callback and fd), rules gated on a marker,
//! roles, rules that never fired, plans from the environment, file classification of
//! super-journals, the VFS's name, and what `on_fire` reports.

use crate::common::*;
use std::sync::{Arc, Mutex};
use vfs_faults::*;

#[test]
fn markers_in_order_to_callback_and_fd() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    setup(&db, 1);
    let fd_path = dir.path().join("markers.jsonl");
    let fd_file = std::fs::File::create(&fd_path).unwrap();
    let v = vfs(
        "marker",
        plan(vec![
            rule(
                &[OpKind::Write],
                Some(FileKind::MainJournal),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "journal".into(),
                },
            ),
            rule(
                &[OpKind::Sync],
                Some(FileKind::MainDb),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "db-sync".into(),
                },
            ),
            rule(
                &[OpKind::Delete],
                Some(FileKind::MainJournal),
                Occurrence::Nth(1),
                Action::Marker {
                    name: "commit".into(),
                },
            ),
        ]),
    );
    use std::os::fd::AsRawFd;
    v.set_marker_fd(Some(fd_file.as_raw_fd()));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s2 = Arc::clone(&seen);
    v.on_marker(move |m| s2.lock().unwrap().push(m.to_string()));
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute("INSERT INTO t VALUES(5, 'm')", []).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["journal", "db-sync", "commit"]);
    v.set_marker_fd(None);
    let text = std::fs::read_to_string(&fd_path).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["marker"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, vec!["journal", "db-sync", "commit"]);
}

#[test]
fn after_marker_gates_a_rule() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("am.db");
    setup(&db, 1);
    let mut r = rule(
        &[OpKind::Write],
        Some(FileKind::MainDb),
        Occurrence::Nth(1),
        err(ErrorCode::IoerrWrite, false),
    );
    r.select.after_marker = Some("go".into());
    let v = vfs("after", plan(vec![r]));
    let c = open(&db, &v).unwrap();
    c.execute("INSERT INTO t VALUES(10, 'a')", []).unwrap();
    c.execute("INSERT INTO t VALUES(11, 'a')", []).unwrap();
    assert_eq!(
        v.rule_hits()[0].matched,
        0,
        "nothing counts before the marker"
    );
    v.emit_marker("go");
    assert!(c.execute("INSERT INTO t VALUES(12, 'a')", []).is_err());
    assert_eq!(v.rule_hits()[0].fired, 1);
}

#[test]
fn roles_select_a_database_and_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    let dst = dir.path().join("dst.db");
    setup(&src, 1);
    setup(&dst, 1);
    let mut r = rule(
        &[OpKind::Sync],
        Some(FileKind::MainJournal),
        Occurrence::Every,
        err(ErrorCode::IoerrFsync, true),
    );
    r.select.role = Some("destination".into());
    let v = vfs("roles", plan(vec![r]));
    v.set_role(dst.to_str().unwrap(), "destination");
    v.set_role(&format!("{}/s*.db", dir.path().display()), "source");
    let s = open(&src, &v).unwrap();
    let d = open(&dst, &v).unwrap();
    d.pragma_update(None, "synchronous", "FULL").unwrap();
    s.pragma_update(None, "synchronous", "FULL").unwrap();
    s.execute("INSERT INTO t VALUES(7, 's')", [])
        .expect("source unaffected");
    assert!(
        d.execute("INSERT INTO t VALUES(7, 'd')", []).is_err(),
        "destination journal sync fails"
    );
    assert!(v.rule_hits()[0].fired >= 1);
    v.set_trace(true);
    s.execute("INSERT INTO t VALUES(8, 's')", []).unwrap();
    assert!(v
        .trace()
        .iter()
        .any(|e| e.role.as_deref() == Some("source") && e.file == FileKind::MainJournal));
}

#[test]
fn a_rule_that_never_fired_shows_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.db");
    setup(&db, 1);
    let v = vfs(
        "never",
        plan(vec![rule(
            &[OpKind::Write],
            None,
            Occurrence::Nth(1_000_000),
            Action::Kill {
                when: KillWhen::Before,
            },
        )]),
    );
    let c = open(&db, &v).unwrap();
    c.execute("INSERT INTO t VALUES(3, 'n')", []).unwrap();
    let h = &v.rule_hits()[0];
    assert!(h.matched > 0);
    assert_eq!(h.fired, 0);
}

#[test]
fn plan_from_env_json_and_toml() {
    let p = plan(vec![rule(
        &[OpKind::Write],
        Some(FileKind::Wal),
        Occurrence::Range { from: 2, to: 4 },
        Action::PowerCut {
            mode: PowerCutMode::InProcess,
            unsynced: Unsynced::Revert,
            metadata: MetadataOrder::Ordered,
        },
    )]);
    std::env::set_var("VFS_FAULTS_TEST_JSON", p.to_env_value());
    assert_eq!(
        FaultPlan::from_env("VFS_FAULTS_TEST_JSON").unwrap(),
        Some(p)
    );
    std::env::set_var(
        "VFS_FAULTS_TEST_TOML",
        "seed = 3\n[[rules]]\nselect = { ops = [\"sync\"], role = \"destination\", when = { nth = 2 } }\naction = { kind = \"error\", code = \"ioerr-fsync\", persistent = true }\n",
    );
    let t = FaultPlan::from_env("VFS_FAULTS_TEST_TOML")
        .unwrap()
        .unwrap();
    assert_eq!(t.seed, 3);
    assert_eq!(t.rules[0].select.when, Occurrence::Nth(2));
    assert_eq!(
        t.rules[0].action,
        Action::Error {
            code: ErrorCode::IoerrFsync,
            persistent: true
        }
    );
    assert_eq!(
        FaultPlan::from_env("VFS_FAULTS_TEST_UNSET_XYZ").unwrap(),
        None
    );
    std::env::set_var("VFS_FAULTS_TEST_BAD", "{\"rules\": 5}");
    assert!(FaultPlan::from_env("VFS_FAULTS_TEST_BAD").is_err());
}

#[test]
fn super_journal_is_classified_and_inherits_role() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    setup(&a, 1);
    setup(&b, 1);
    let mut r = rule(
        &[OpKind::Write],
        Some(FileKind::SuperJournal),
        Occurrence::Every,
        Action::Marker {
            name: "super".into(),
        },
    );
    r.select.role = Some("main".into());
    let v = vfs("super", plan(vec![r]));
    v.set_role(a.to_str().unwrap(), "main");
    let c = open(&a, &v).unwrap();
    c.execute("ATTACH DATABASE ?1 AS other", [b.to_str().unwrap()])
        .unwrap();
    c.execute_batch(
        "BEGIN; INSERT INTO main.t VALUES(50, 'a'); INSERT INTO other.t VALUES(50, 'b'); COMMIT;",
    )
    .unwrap();
    let k = v.counters();
    assert!(k.get(OpKind::Open, FileKind::SuperJournal) > 0);
    assert!(k.get(OpKind::Delete, FileKind::SuperJournal) > 0);
    assert!(
        v.rule_hits()[0].fired > 0,
        "the super-journal has the role of its database"
    );
}

#[test]
fn answers_vfsname_with_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.db");
    let v = vfs("vfsname", FaultPlan::default());
    let c = open(&db, &v).unwrap();
    c.execute_batch("CREATE TABLE x(a)").unwrap();
    assert_eq!(vfs_name(&c, "main").as_deref(), Some(v.name()));
    assert_eq!(vfs_name(&plain(&db), "main").as_deref(), Some("unix"));
}

/// `on_fire` reports each rule that acted, once per action, with the operation and the
/// occurrence, before the action takes effect; a rule whose occurrence never comes is silent.
#[test]
fn on_fire_reports_what_acted_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fire.db");
    setup(&db, 10);
    let mut failing = rule(
        &[OpKind::Sync],
        Some(FileKind::MainJournal),
        Occurrence::Nth(2),
        err(ErrorCode::IoerrFsync, false),
    );
    failing.name = Some("second journal sync".into());
    let never = rule(
        &[OpKind::Write],
        Some(FileKind::MainDb),
        Occurrence::Nth(1_000_000),
        err(ErrorCode::IoerrWrite, false),
    );
    let v = vfs("fire", plan(vec![failing, never]));
    let fired = Arc::new(Mutex::new(Vec::<Fired>::new()));
    let f2 = Arc::clone(&fired);
    v.on_fire(move |f| f2.lock().unwrap().push(f.clone()));
    let c = open(&db, &v).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    assert!(c.execute("UPDATE t SET v = 'x'", []).is_err());
    let fired = fired.lock().unwrap().clone();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].rule, 0);
    assert_eq!(fired[0].name.as_deref(), Some("second journal sync"));
    assert_eq!(
        (fired[0].op, fired[0].file, fired[0].occurrence),
        (OpKind::Sync, FileKind::MainJournal, 2)
    );
    assert_eq!(v.rule_hits()[0].fired, 1);
    assert_eq!(v.rule_hits()[1].fired, 0);
}
