//! The pipeline app: an application whose stages commit at their own points, like a backup
//! tool's pipeline (enumerate a file → split it into blocks → store the blocks → record the
//! file), run by several processes that share the source (`app-invariants`).
//!
//! Why its own module: the model (`ops(seed, k)`) describes one writer's transactions; an
//! application's correctness is a different contract: invariants that hold at every commit
//! boundary, whatever interleaving and wherever a process dies. Its tables (`app_*`) are left
//! out of the oracle's digest and judged by the scenario's invariant queries instead.
//!
//! In the `right` order a file's blocks are committed before the file that references them,
//! so every committed state keeps "every block a file references exists". In the `wrong` order
//! (a negative control) the file is recorded first and its blocks a transaction later: a
//! consistent snapshot taken between the two, or a process killed between them, has a file
//! whose blocks do not exist.

use super::{sqlite_err, WorkloadError};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

/// The app's tables (created on the source before anything runs).
pub const APP_DDL: &str = "
CREATE TABLE IF NOT EXISTS app_queue(path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS app_blocks(hash TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS app_files(id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL,
                                     nblocks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS app_file_blocks(file_id INTEGER NOT NULL, idx INTEGER NOT NULL,
                                           hash TEXT NOT NULL, PRIMARY KEY(file_id, idx));
";

/// The glob that leaves the app's tables out of the digest.
pub const APP_TABLES: &str = "app_*";

/// In which order the pipeline commits a file's blocks and the file itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppOrder {
    /// Blocks first, then the file (each commit keeps the invariants).
    #[default]
    Right,
    /// The file first, then its blocks (negative control).
    Wrong,
}

impl AppOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            AppOrder::Right => "right",
            AppOrder::Wrong => "wrong",
        }
    }
    pub fn parse(s: &str) -> Option<AppOrder> {
        [AppOrder::Right, AppOrder::Wrong]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Creates the app's tables on `db`.
pub fn create_app_tables(db: &Path) -> Result<(), WorkloadError> {
    let name = db.display().to_string();
    let conn = Connection::open(db).map_err(|e| sqlite_err("open", &name, e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| sqlite_err("busy_timeout", &name, e))?;
    conn.execute_batch(APP_DDL)
        .map_err(|e| sqlite_err("app tables", &name, e))
}

/// How a pipeline worker paces itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppPace {
    /// Files per second (0: as fast as it can).
    pub rate: f64,
    /// The work of the split and store stages (reading a file, uploading its blocks), each
    /// done before the stage commits.
    pub stage_ms: u64,
}

/// Runs pipeline worker `id` on `db` until killed: file after file, each stage its own
/// transaction.
pub fn run_app(
    db: &Path,
    id: u32,
    order: AppOrder,
    pace: AppPace,
    seed: u64,
) -> Result<(), WorkloadError> {
    let name = db.display().to_string();
    let err = |op: &str| {
        let op = op.to_string();
        let name = name.clone();
        move |e| sqlite_err(&op, &name, e)
    };
    let conn = Connection::open(db).map_err(err("open"))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(err("busy_timeout"))?;
    let period = (pace.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / pace.rate));
    let work = || std::thread::sleep(Duration::from_millis(pace.stage_ms));
    for n in 1u64.. {
        let started = Instant::now();
        let path = format!("w{id}/f{n}");
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(id) << 40) ^ n);
        let nblocks = rng.random_range(1..=4u32);
        let blocks: Vec<String> = (0..nblocks)
            .map(|_| format!("{:016x}", rng.random_range(0..1_000_000_000u64)))
            .collect();
        // Stage 1: enumerate.
        conn.execute("INSERT OR IGNORE INTO app_queue(path) VALUES(?1)", [&path])
            .map_err(err("enumerate"))?;
        // Stage 2: split (the work of reading the file).
        work();
        // Stages 3 and 4 commit in the app's order.
        let store = || -> rusqlite::Result<()> {
            work(); // uploading the blocks, then recording them
            conn.execute_batch("BEGIN IMMEDIATE")?;
            for h in &blocks {
                conn.prepare_cached("INSERT OR IGNORE INTO app_blocks(hash, data) VALUES(?1, ?2)")?
                    .execute(rusqlite::params![h, h.repeat(16)])?;
            }
            conn.execute_batch("COMMIT")
        };
        let record = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            conn.prepare_cached("INSERT INTO app_files(path, nblocks) VALUES(?1, ?2)")?
                .execute(rusqlite::params![path, nblocks])?;
            let file_id = conn.last_insert_rowid();
            for (i, h) in blocks.iter().enumerate() {
                conn.prepare_cached(
                    "INSERT INTO app_file_blocks(file_id, idx, hash) VALUES(?1, ?2, ?3)",
                )?
                .execute(rusqlite::params![file_id, i as i64, h])?;
            }
            conn.prepare_cached("DELETE FROM app_queue WHERE path = ?1")?
                .execute([&path])?;
            conn.execute_batch("COMMIT")
        };
        match order {
            AppOrder::Right => {
                store().map_err(err("store blocks"))?;
                record().map_err(err("record file"))?;
            }
            AppOrder::Wrong => {
                record().map_err(err("record file"))?;
                store().map_err(err("store blocks"))?;
            }
        }
        if let Some(p) = period {
            if let Some(rest) = p.checked_sub(started.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    }
    Ok(())
}
