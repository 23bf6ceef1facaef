//! Helpers shared by the integration tests.
#![allow(dead_code)]

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use vfs_faults::*;

static N: AtomicU64 = AtomicU64::new(0);

/// A fresh, uniquely named instance.
pub fn vfs(tag: &str, plan: FaultPlan) -> FaultVfs {
    let name = format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    FaultVfs::register(&name, plan).expect("register")
}

pub fn flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

pub fn open(path: &Path, vfs: &FaultVfs) -> rusqlite::Result<Connection> {
    Connection::open_with_flags_and_vfs(path, flags(), vfs.name())
}

/// A plain connection through the platform VFS (the "disarmed" view).
pub fn plain(path: &Path) -> Connection {
    Connection::open(path).expect("open plain")
}

/// Rollback-journal database with table t(id, v) holding `rows` rows.
pub fn setup(path: &Path, rows: i64) {
    setup_paged(path, rows, 4096);
}

/// [`setup`] with pages of `page_size` bytes.
pub fn setup_paged(path: &Path, rows: i64, page_size: u32) {
    let c = plain(path);
    c.execute_batch(&format!(
        "PRAGMA page_size={page_size}; PRAGMA journal_mode=DELETE;
         CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
    ))
    .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    for i in 0..rows {
        tx.execute(
            "INSERT INTO t VALUES(?1, ?2)",
            (i, format!("row-{i}-{}", "x".repeat(100))),
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

pub fn count(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
}

pub fn integrity(c: &Connection) -> String {
    c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .unwrap_or_else(|e| format!("error: {e}"))
}

pub fn rule(ops: &[OpKind], file: Option<FileKind>, when: Occurrence, action: Action) -> Rule {
    Rule {
        name: None,
        select: Selector {
            ops: ops.to_vec(),
            file,
            when,
            ..Selector::default()
        },
        action,
    }
}

pub fn plan(rules: Vec<Rule>) -> FaultPlan {
    FaultPlan { seed: 1, rules }
}

pub fn err(code: ErrorCode, persistent: bool) -> Action {
    Action::Error { code, persistent }
}

/// Re-runs this test binary as a child running only `test_name`, with `env` set.
pub fn run_child(test_name: &str, env: &[(&str, String)]) -> std::process::ExitStatus {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test_name, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::null());
    cmd.status().expect("spawn child")
}

/// Rows of t whose v is 'new' (after checking the database's integrity).
pub fn new_rows(db: &std::path::Path) -> i64 {
    let c = plain(db);
    assert_eq!(integrity(&c), "ok");
    c.query_row("SELECT count(*) FROM t WHERE v = 'new'", [], |r| r.get(0))
        .unwrap()
}
