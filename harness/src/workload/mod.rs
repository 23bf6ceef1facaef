//! The workload: a deterministic transaction generator and the processes that apply it.
//!
//! Transaction `k` applies `ops(seed, k)`, a pure function, so the committed state `S(k)` of the
//! source is known without logging anything: [`Model`] replays it and keeps one digest per `k`.

pub mod app;
pub mod blocker;
pub mod model;
pub mod ops;
pub mod setup;
pub mod sql_limit;
pub mod worker;

pub use app::{create_app_tables, run_app, AppOrder};
pub use blocker::{run_blocker, Blocker};
pub use model::{Model, REPLAY_MARGIN};
pub use setup::{create_destination, DestContent, DestinationSetup, JournalMode};
pub use sql_limit::{LimitError, SqlLimit, DEFAULT_SQL_TIMEOUT_MS};
pub use worker::{open_writer, run_checkpointer, run_writer, run_writer_with, CheckpointMode};

use rusqlite::Connection;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{op} on {path}: {source}")]
    Sqlite {
        op: String,
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Other(String),
    /// SQL of the scenario ran past its deadline or was stopped by a signal.
    #[error("{0}")]
    Limit(#[from] sql_limit::LimitError),
}

/// What the source looks like and what every transaction does. Part of a scenario.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Seed of `ops(seed, k)` and of the initial content.
    pub seed: u64,
    /// Size of the initial source, in pages (at least).
    pub initial_pages: u32,
    pub page_size: u32,
    /// Occasional DDL (CREATE TABLE / INDEX, ALTER TABLE ADD COLUMN) in transactions.
    pub ddl: bool,
    /// Largest row payload in bytes; some rows exceed a page so overflow chains appear.
    pub max_row_bytes: usize,
    /// Operations per transaction, inclusive range.
    pub ops_min: u32,
    pub ops_max: u32,
    /// Tables left out of the oracle's digest on both sides (globs: `app_*`,
    /// `_litestream_*`): an application's or a tool's own tables, which the model does not
    /// describe.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_tables: Vec<String>,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            seed: 1,
            initial_pages: 2000,
            page_size: 4096,
            ddl: true,
            max_row_bytes: 6000,
            ops_min: 1,
            ops_max: 6,
            ignore_tables: Vec::new(),
        }
    }
}

/// Creates the source database in state `S(0)`, in WAL mode, and closes it cleanly.
pub fn create_source(path: &Path, spec: &WorkloadSpec) -> Result<(), WorkloadError> {
    setup::create_source(path, spec)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn conn_name(conn: &Connection) -> String {
    conn.path().unwrap_or("?").to_string()
}

/// Runs one transaction on `conn`: `BEGIN IMMEDIATE; k = seq + 1; ops(seed, k); seq = k; COMMIT`.
/// Returns `k`. `conn` must have a busy timeout set.
pub fn commit_next(conn: &Connection, spec: &WorkloadSpec) -> Result<u64, WorkloadError> {
    let mut tries = 0u32;
    loop {
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => break,
            Err(e) if is_busy(&e) && tries < 10_000 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(sqlite_err("BEGIN IMMEDIATE", &conn_name(conn), e)),
        }
    }
    let body = || -> rusqlite::Result<u64> {
        let k = read_seq_raw(conn)? + 1;
        for op in ops::ops(spec, k) {
            let (sql, params) = op.sql();
            if matches!(op, ops::Op::Ddl(_)) {
                conn.execute_batch(&sql)?;
            } else {
                conn.prepare_cached(&sql)?
                    .execute(rusqlite::params_from_iter(params.iter()))?;
            }
        }
        conn.prepare_cached("UPDATE meta SET seq = ?1 WHERE id = 1")?
            .execute([k as i64])?;
        conn.execute_batch("COMMIT")?;
        Ok(k)
    };
    match body() {
        Ok(k) => Ok(k),
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(sqlite_err("commit_next", &conn_name(conn), e))
        }
    }
}

fn read_seq_raw(conn: &Connection) -> rusqlite::Result<u64> {
    let seq: i64 = conn
        .prepare_cached("SELECT seq FROM meta WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    u64::try_from(seq).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, seq))
}

/// The sequence number `k` of the last committed transaction in `conn`'s database.
pub fn read_seq(conn: &Connection) -> Result<u64, WorkloadError> {
    read_seq_raw(conn).map_err(|e| sqlite_err("read meta.seq", &conn_name(conn), e))
}

pub(crate) fn sqlite_err(op: &str, path: &str, source: rusqlite::Error) -> WorkloadError {
    WorkloadError::Sqlite {
        op: op.to_string(),
        path: path.to_string(),
        source,
    }
}
