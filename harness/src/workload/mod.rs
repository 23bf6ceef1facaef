//! The workload: a deterministic transaction generator and the processes that apply it.
//!
//! Transaction `k` applies `ops(seed, k)`, a pure function, so the committed state `S(k)` of the
//! source is known without logging anything: [`Model`] replays it and keeps one digest per `k`.

use crate::oracle::digest::Digest;
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
        }
    }
}

/// Creates the source database in state `S(0)`, in WAL mode, and closes it cleanly.
pub fn create_source(_path: &Path, _spec: &WorkloadSpec) -> Result<(), WorkloadError> {
    todo!()
}

/// Runs one transaction on `conn`: `BEGIN IMMEDIATE; k = seq + 1; ops(seed, k); seq = k; COMMIT`.
/// Returns `k`. `conn` must have a busy timeout set.
pub fn commit_next(_conn: &Connection, _spec: &WorkloadSpec) -> Result<u64, WorkloadError> {
    todo!()
}

/// The sequence number `k` of the last committed transaction in `conn`'s database.
pub fn read_seq(_conn: &Connection) -> Result<u64, WorkloadError> {
    todo!()
}

/// Replays the workload in memory and knows the digest of `S(k)` for every `k` it reached.
pub struct Model {
    _private: (),
}

impl Model {
    pub fn new(_spec: &WorkloadSpec) -> Result<Model, WorkloadError> {
        todo!()
    }
    /// Digest of `S(k)`, advancing the replay as far as needed.
    pub fn digest_at(&mut self, _k: u64) -> Result<Digest, WorkloadError> {
        todo!()
    }
    /// The `k` whose state has this digest, among those computed so far.
    pub fn lookup(&self, _digest: &Digest) -> Option<u64> {
        todo!()
    }
}
