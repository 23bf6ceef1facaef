//! The blocker: a connection that takes a lock and holds it until it is killed, so a scenario
//! can ask what a backup does behind a long transaction (`stuck-backup`).
//!
//! Why its own module: what each blocker holds is the premise of a stuck-backup case, and
//! it is stated here once, next to the SQL that takes it.

use super::WorkloadError;
use crate::event::Event;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// What the blocker holds for the whole iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blocker {
    /// A write transaction on the destination (`BEGIN IMMEDIATE`: RESERVED in the rollback
    /// modes, the WAL write lock in WAL mode). The backup cannot start its write transaction
    /// on the destination.
    DestWrite,
    /// A read transaction on the destination (`BEGIN` + a read: SHARED in the rollback modes).
    /// The backup API opens its destination transaction as EXCLUSIVE in its first step
    /// (`sqlite3BtreeBeginTrans(pDest, 2)`), so every step returns BUSY before a page is
    /// copied: `remaining() == 0` and `pagecount == 0`.
    DestRead,
    /// A write transaction on the source (`BEGIN IMMEDIATE`). On a WAL source a
    /// reader never waits for a writer, so the backup is *not* held back; the writers are.
    SourceWrite,
}

impl Blocker {
    pub fn as_str(self) -> &'static str {
        match self {
            Blocker::DestWrite => "dest-write",
            Blocker::DestRead => "dest-read",
            Blocker::SourceWrite => "source-write",
        }
    }

    pub fn parse(s: &str) -> Option<Blocker> {
        [Blocker::DestWrite, Blocker::DestRead, Blocker::SourceWrite]
            .into_iter()
            .find(|b| b.as_str() == s)
    }

    /// Whether it holds the destination (else the source).
    pub fn on_destination(self) -> bool {
        !matches!(self, Blocker::SourceWrite)
    }
}

/// Takes `what` on `db`, says so (`holding`), then holds it until the process is killed.
pub fn run_blocker(
    db: &Path,
    what: Blocker,
    emit: &mut dyn FnMut(Event),
) -> Result<(), WorkloadError> {
    let sql_err = |op: &str| {
        let path = db.display().to_string();
        let op = op.to_string();
        move |source| WorkloadError::Sqlite { op, path, source }
    };
    let conn = Connection::open(db).map_err(sql_err("open"))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(sql_err("busy_timeout"))?;
    match what {
        // Nothing is written: the source must keep the workload's content (an uncommitted
        // change would vanish at the kill anyway).
        Blocker::DestWrite | Blocker::SourceWrite => conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql_err("BEGIN IMMEDIATE"))?,
        Blocker::DestRead => {
            conn.execute_batch("BEGIN").map_err(sql_err("BEGIN"))?;
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql_err("read"))?;
        }
    }
    emit(Event::Holding {
        what: what.as_str().to_string(),
    });
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
