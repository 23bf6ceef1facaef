//! The writer and checkpointer loops that worker processes run against the source.
//!
//! Why separate processes: real writers hold real locks; a strategy must cope with them exactly as
//! it would in production. These loops run until their limit or until they are SIGKILLed, and
//! report every acknowledged commit and every checkpoint as an [`Event`].

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{commit_next, sqlite_err, WorkloadError, WorkloadSpec};
use crate::event::Event;

/// Opens the source as a writer does: busy timeout 5 s, WAL, `synchronous=NORMAL`.
pub fn open_writer(source: &Path) -> Result<Connection, WorkloadError> {
    let p = source.display().to_string();
    let conn = Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_err("open", &p, e))?;
    conn.busy_timeout(Duration::from_millis(5000))
        .map_err(|e| sqlite_err("busy_timeout", &p, e))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .map_err(|e| sqlite_err("set journal_mode=WAL", &p, e))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")
        .map_err(|e| sqlite_err("set synchronous", &p, e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Commits transactions on `source` until `max_commits` (or forever), emitting
/// `Event::Commit` after each; paced to `rate_per_s` commits per second when given.
pub fn run_writer(
    source: &Path,
    spec: &WorkloadSpec,
    writer_id: u32,
    rate_per_s: Option<f64>,
    max_commits: Option<u64>,
    emit: &mut dyn FnMut(Event),
) -> Result<(), WorkloadError> {
    run_writer_with(source, spec, writer_id, rate_per_s, max_commits, None, emit)
}

/// [`run_writer`] with the writer connection's `PRAGMA wal_autocheckpoint` (`None`: SQLite's
/// default, 1000 pages; `Some(0)`: off, only the checkpointer checkpoints).
pub fn run_writer_with(
    source: &Path,
    spec: &WorkloadSpec,
    writer_id: u32,
    rate_per_s: Option<f64>,
    max_commits: Option<u64>,
    autocheckpoint: Option<u32>,
    emit: &mut dyn FnMut(Event),
) -> Result<(), WorkloadError> {
    let conn = open_writer(source)?;
    if let Some(n) = autocheckpoint {
        conn.execute_batch(&format!("PRAGMA wal_autocheckpoint = {n};"))
            .map_err(|e| sqlite_err("set wal_autocheckpoint", &source.display().to_string(), e))?;
    }
    let start = Instant::now();
    let mut n = 0u64;
    while max_commits.is_none_or(|m| n < m) {
        if let Some(rate) = rate_per_s.filter(|r| *r > 0.0) {
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let began = Instant::now();
        let k = commit_next(&conn, spec)?;
        let latency_us = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        n += 1;
        emit(Event::Commit {
            k,
            writer: writer_id,
            latency_us: Some(latency_us),
        });
    }
    Ok(())
}

/// A `PRAGMA wal_checkpoint` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointMode {
    Passive,
    Full,
    Restart,
    Truncate,
}

impl CheckpointMode {
    pub fn as_sql(self) -> &'static str {
        match self {
            CheckpointMode::Passive => "PASSIVE",
            CheckpointMode::Full => "FULL",
            CheckpointMode::Restart => "RESTART",
            CheckpointMode::Truncate => "TRUNCATE",
        }
    }

    pub fn parse(s: &str) -> Option<CheckpointMode> {
        [
            CheckpointMode::Passive,
            CheckpointMode::Full,
            CheckpointMode::Restart,
            CheckpointMode::Truncate,
        ]
        .into_iter()
        .find(|m| m.as_sql().eq_ignore_ascii_case(s))
    }
}

/// Every `interval_ms`, a checkpoint of `source` in the next of `modes` (cycled in order).
/// Emits `Event::Checkpoint` for each; runs until killed.
pub fn run_checkpointer(
    source: &Path,
    interval_ms: u64,
    modes: &[CheckpointMode],
    emit: &mut dyn FnMut(Event),
) -> Result<(), WorkloadError> {
    run_checkpointer_for(source, interval_ms, modes, None, emit)
}

/// [`run_checkpointer`] with an optional limit on the number of checkpoints.
pub fn run_checkpointer_for(
    source: &Path,
    interval_ms: u64,
    modes: &[CheckpointMode],
    max_checkpoints: Option<u64>,
    emit: &mut dyn FnMut(Event),
) -> Result<(), WorkloadError> {
    let p = source.display().to_string();
    if modes.is_empty() {
        return Err(WorkloadError::Other("checkpointer: no modes".into()));
    }
    let conn = open_writer(source)?;
    conn.busy_timeout(Duration::from_millis(1000))
        .map_err(|e| sqlite_err("busy_timeout", &p, e))?;
    let mut n = 0u64;
    while max_checkpoints.is_none_or(|m| n < m) {
        std::thread::sleep(Duration::from_millis(interval_ms));
        let mode = modes[(n % modes.len() as u64) as usize].as_sql();
        n += 1;
        let res = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((
                r.get::<_, i32>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, i32>(2)?,
            ))
        });
        let (rc, log, checkpointed) = match res {
            Ok((busy, log, ck)) => (if busy != 0 { 5 } else { 0 }, log, ck),
            Err(rusqlite::Error::SqliteFailure(e, _)) => (e.extended_code, -1, -1),
            Err(e) => return Err(sqlite_err("wal_checkpoint", &p, e)),
        };
        emit(Event::Checkpoint {
            mode: mode.to_string(),
            rc,
            log,
            checkpointed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{create_source, read_seq, Model};

    #[test]
    fn writers_and_checkpointer_report_and_agree_with_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.db");
        let spec = WorkloadSpec {
            initial_pages: 30,
            ..WorkloadSpec::default()
        };
        create_source(&src, &spec).unwrap();
        let ck_src = src.clone();
        let ck = std::thread::spawn(move || {
            let mut evs = Vec::new();
            use CheckpointMode::*;
            let modes = [Passive, Truncate, Full, Restart];
            run_checkpointer_for(&ck_src, 5, &modes, Some(4), &mut |e| evs.push(e)).unwrap();
            evs
        });
        let mut ks = Vec::new();
        run_writer(&src, &spec, 7, None, Some(120), &mut |e| match e {
            Event::Commit { k, writer: 7, .. } => ks.push(k),
            other => panic!("unexpected {other:?}"),
        })
        .unwrap();
        // Paced: 20 commits at 1000/s take about 20 ms.
        let t = Instant::now();
        run_writer(&src, &spec, 8, Some(1000.0), Some(20), &mut |_| {}).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(15));
        assert_eq!(ks, (1..=120).collect::<Vec<_>>());
        let evs = ck.join().unwrap();
        assert_eq!(evs.len(), 4);
        let modes: Vec<String> = evs
            .iter()
            .map(|e| match e {
                Event::Checkpoint { mode, .. } => mode.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(modes, ["PASSIVE", "TRUNCATE", "FULL", "RESTART"]);
        let conn = open_writer(&src).unwrap();
        assert_eq!(read_seq(&conn).unwrap(), 140);
        let d = crate::digest::digest_connection(&conn).unwrap();
        assert_eq!(Model::new(&spec).unwrap().digest_at(140).unwrap(), d);
    }
}
