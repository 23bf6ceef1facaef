//! The model: the workload replayed in an in-memory database, with one digest per `k`.
//!
//! Why: the oracle needs the digest of `S(k)` for any `k` a destination claims. The model keeps
//! the digest incrementally (`digest += h(new row) - h(old row)`, schema changes included), so
//! replaying a commit costs a few indexed reads, and checking a destination is one scan of it plus
//! one lookup here.

use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;

use super::ops::{ops, Op};
use super::{sqlite_err, WorkloadError, WorkloadSpec};
use crate::digest::{self, Digest};

/// How far beyond the last computed `k` [`Model::digest_at`] callers should be willing to replay
/// for a sequence number read from an untrusted file (a garbage `meta.seq` must not make the
/// model replay forever). The supervisor advances the model to the source's final `k` first, and
/// no valid destination can be newer than the source, so this only absorbs slack.
pub const REPLAY_MARGIN: u64 = 20_000;

/// Replays the workload in memory and knows the digest of `S(k)` for every `k` it reached.
pub struct Model {
    spec: WorkloadSpec,
    conn: Connection,
    digests: Vec<Digest>,
    index: HashMap<Digest, u64>,
    current: Digest,
    schema: u128,
    initial_rows: u64,
}

const MEM: &str = ":memory: (model)";

fn row_hash(conn: &Connection, table: &str, id: i64) -> rusqlite::Result<Option<u128>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT * FROM {table} WHERE id = ?1"))?;
    stmt.query_row([id], |r| digest::hash_row(table, r))
        .optional()
}

fn table_exists(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")?
        .exists([table])
}

impl Model {
    pub fn new(spec: &WorkloadSpec) -> Result<Model, WorkloadError> {
        Model::new_until(spec, &|| false)
    }

    /// [`Model::new`], stopped (with an error) as soon as `stop()` says so.
    pub fn new_until(
        spec: &WorkloadSpec,
        stop: &super::setup::StopFn<'_>,
    ) -> Result<Model, WorkloadError> {
        let conn = Connection::open_in_memory().map_err(|e| sqlite_err("open", MEM, e))?;
        conn.execute_batch(&format!("PRAGMA page_size = {};", spec.page_size))
            .map_err(|e| sqlite_err("set page_size", MEM, e))?;
        let initial_rows = super::setup::interruptible(&conn, stop, || {
            super::setup::build_initial_until(&conn, spec, stop)
        })
        .map_err(|e| sqlite_err("build S(0)", MEM, e))?;
        let d0 = digest::digest_connection(&conn).map_err(|e| sqlite_err("digest S(0)", MEM, e))?;
        let schema = digest::schema_sum(&conn).map_err(|e| sqlite_err("digest schema", MEM, e))?;
        let mut index = HashMap::new();
        index.insert(d0, 0);
        Ok(Model {
            spec: spec.clone(),
            conn,
            digests: vec![d0],
            index,
            current: d0,
            schema,
            initial_rows,
        })
    }

    /// Digest of `S(k)`, advancing the replay as far as needed.
    pub fn digest_at(&mut self, k: u64) -> Result<Digest, WorkloadError> {
        while (self.digests.len() as u64) <= k {
            let next = self.digests.len() as u64;
            self.apply(next)
                .map_err(|e| sqlite_err(&format!("replay transaction {next}"), MEM, e))?;
            self.digests.push(self.current);
            self.index.entry(self.current).or_insert(next);
        }
        Ok(self.digests[k as usize])
    }

    /// The `k` whose state has this digest, among those computed so far.
    pub fn lookup(&self, digest: &Digest) -> Option<u64> {
        self.index.get(digest).copied()
    }

    /// The largest `k` computed so far.
    pub fn max_k(&self) -> u64 {
        self.digests.len() as u64 - 1
    }

    /// The spec being replayed.
    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    /// Rows in `S(0)`.
    pub fn initial_rows(&self) -> u64 {
        self.initial_rows
    }

    /// The replay database (state `S(max_k)`), e.g. to write a state to a file in tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Full scan digest of the current state (for self-checks; O(database)).
    pub fn scan_digest(&self) -> Result<Digest, WorkloadError> {
        digest::digest_connection(&self.conn).map_err(|e| sqlite_err("digest", MEM, e))
    }

    fn apply(&mut self, k: u64) -> rusqlite::Result<()> {
        let conn = &self.conn;
        conn.execute_batch("BEGIN")?;
        let mut d = self.current;
        for op in ops(&self.spec, k) {
            let table = op.table();
            let (sql, params) = op.sql();
            match &op {
                Op::Ddl(_) => {
                    if table_exists(conn, table)? {
                        d.sub(digest::table_sum(conn, table)?);
                    }
                    conn.execute_batch(&sql)?;
                    if table_exists(conn, table)? {
                        d.add(digest::table_sum(conn, table)?);
                    }
                    d.sub(self.schema);
                    self.schema = digest::schema_sum(conn)?;
                    d.add(self.schema);
                }
                _ => {
                    let id = op.row_id().unwrap_or_default();
                    if !matches!(op, Op::Insert { .. }) {
                        if let Some(h) = row_hash(conn, table, id)? {
                            d.sub(h);
                        }
                    }
                    conn.prepare_cached(&sql)?
                        .execute(rusqlite::params_from_iter(params.iter()))?;
                    if !matches!(op, Op::Delete { .. }) {
                        if let Some(h) = row_hash(conn, table, id)? {
                            d.add(h);
                        }
                    }
                }
            }
        }
        if let Some(h) = row_hash(conn, "meta", 1)? {
            d.sub(h);
        }
        conn.prepare_cached("UPDATE meta SET seq = ?1 WHERE id = 1")?
            .execute([k as i64])?;
        if let Some(h) = row_hash(conn, "meta", 1)? {
            d.add(h);
        }
        conn.execute_batch("COMMIT")?;
        self.current = d;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> WorkloadSpec {
        WorkloadSpec {
            seed,
            initial_pages: 40,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn incremental_digest_equals_full_scan() {
        let mut m = Model::new(&small(5)).unwrap();
        assert_eq!(m.digest_at(0).unwrap(), m.scan_digest().unwrap());
        // Cover several full DDL cycles (create, index, add column, drop) of every slot.
        let last = super::super::ops::DDL_PERIOD * 4 * 4 + 50;
        for k in 1..=last {
            m.digest_at(k).unwrap();
            if k % 37 == 0 || k % super::super::ops::DDL_PERIOD < 2 {
                assert_eq!(m.digest_at(k).unwrap(), m.scan_digest().unwrap(), "k = {k}");
            }
        }
        assert_eq!(m.max_k(), last);
        let d = m.digest_at(100).unwrap();
        assert_eq!(m.lookup(&d), Some(100));
    }

    #[test]
    fn digests_are_distinct_and_deterministic() {
        let mut a = Model::new(&small(9)).unwrap();
        let mut b = Model::new(&small(9)).unwrap();
        let mut seen = std::collections::HashSet::new();
        for k in 0..300 {
            let d = a.digest_at(k).unwrap();
            assert_eq!(d, b.digest_at(k).unwrap());
            assert!(seen.insert(d));
        }
    }
}
