//! Creating the source in state `S(0)` and the destinations a strategy writes into.
//!
//! The source's initial content is built by [`build_initial`], which the model also runs on its
//! in-memory database, so both start from the very same `S(0)`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::types::Value;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::Path;

use super::ops::{initial_row, BASE_SCHEMA, BASE_TABLES};
use super::{sqlite_err, WorkloadError, WorkloadSpec};

/// Rows inserted between two page-count checks while building `S(0)`.
const BATCH: u64 = 16;

/// Fills an empty database (its page size already set) with `S(0)`, in one transaction.
/// Returns the number of initial rows.
pub fn build_initial(conn: &Connection, spec: &WorkloadSpec) -> rusqlite::Result<u64> {
    build_initial_until(conn, spec, &|| false)
}

/// [`build_initial`], stopped with `SQLITE_INTERRUPT` between two batches as soon as `stop()`
/// says so (an interrupt of the connection alone is lost between statements).
pub fn build_initial_until(
    conn: &Connection,
    spec: &WorkloadSpec,
    stop: &StopFn<'_>,
) -> rusqlite::Result<u64> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(BASE_SCHEMA)?;
    let mut j = 0u64;
    loop {
        if stop() {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
                Some("stopped".into()),
            ));
        }
        let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        if pages >= spec.initial_pages as i64 {
            break;
        }
        for _ in 0..BATCH {
            j += 1;
            let (table, values) = initial_row(spec, j);
            let sql = format!("INSERT INTO {table}(id, n, r, s, b) VALUES (?1, ?2, ?3, ?4, ?5)");
            tx.prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?;
        }
    }
    tx.commit()?;
    Ok(j)
}

/// Creates the source database in state `S(0)`, in WAL mode, and closes it cleanly (no `-wal`).
pub fn create_source(path: &Path, spec: &WorkloadSpec) -> Result<(), WorkloadError> {
    create_source_until(path, spec, &|| false)
}

/// Asked often while a long statement runs: `true` stops it (`SQLITE_INTERRUPT`).
pub type StopFn<'a> = dyn Fn() -> bool + Sync + 'a;

/// Runs `f`, which uses `conn`, and interrupts `conn`'s statement as soon as `stop()` says so
/// (polled every 20 ms from a helper thread): a large setup honours Ctrl-C.
pub fn interruptible<T>(conn: &Connection, stop: &StopFn<'_>, f: impl FnOnce() -> T) -> T {
    use std::sync::atomic::{AtomicBool, Ordering};
    let handle = conn.get_interrupt_handle();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // Again and again: an interrupt ends only the statements running at that moment.
            while !done.load(Ordering::Relaxed) {
                if stop() {
                    handle.interrupt();
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        // Set on the way out, a panic of `f` included: the poller must end for the scope to.
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _done = Done(&done);
        f()
    })
}

/// [`create_source`], stopped (with an error) as soon as `stop()` says so.
pub fn create_source_until(
    path: &Path,
    spec: &WorkloadSpec,
    stop: &StopFn<'_>,
) -> Result<(), WorkloadError> {
    let p = path.display().to_string();
    if path.exists() {
        return Err(WorkloadError::Other(format!(
            "create source {p}: file already exists"
        )));
    }
    let conn = Connection::open(path).map_err(|e| sqlite_err("open", &p, e))?;
    conn.execute_batch(&format!("PRAGMA page_size = {};", spec.page_size))
        .map_err(|e| sqlite_err("set page_size", &p, e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| sqlite_err("set journal_mode=WAL", &p, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(WorkloadError::Other(format!(
            "create source {p}: journal_mode is {mode}, not wal"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL;")
        .map_err(|e| sqlite_err("set synchronous", &p, e))?;
    interruptible(&conn, stop, || build_initial_until(&conn, spec, stop))
        .map_err(|e| sqlite_err("build S(0)", &p, e))?;
    checkpoint_truncate(&conn, &p)?;
    conn.close().map_err(|(_, e)| sqlite_err("close", &p, e))?;
    Ok(())
}

fn checkpoint_truncate(conn: &Connection, p: &str) -> Result<(), WorkloadError> {
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .map_err(|e| sqlite_err("wal_checkpoint(TRUNCATE)", p, e))?;
    if busy != 0 {
        return Err(WorkloadError::Other(format!(
            "wal_checkpoint(TRUNCATE) on {p}: busy"
        )));
    }
    Ok(())
}

/// A `PRAGMA journal_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalMode {
    Delete,
    Truncate,
    Persist,
    Memory,
    Wal,
    Off,
}

impl JournalMode {
    pub const ALL: [JournalMode; 6] = [
        JournalMode::Delete,
        JournalMode::Truncate,
        JournalMode::Persist,
        JournalMode::Memory,
        JournalMode::Wal,
        JournalMode::Off,
    ];

    pub fn as_sql(self) -> &'static str {
        match self {
            JournalMode::Delete => "DELETE",
            JournalMode::Truncate => "TRUNCATE",
            JournalMode::Persist => "PERSIST",
            JournalMode::Memory => "MEMORY",
            JournalMode::Wal => "WAL",
            JournalMode::Off => "OFF",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JournalMode::Delete => "delete",
            JournalMode::Truncate => "truncate",
            JournalMode::Persist => "persist",
            JournalMode::Memory => "memory",
            JournalMode::Wal => "wal",
            JournalMode::Off => "off",
        }
    }

    /// Sets this mode on `conn` and checks that SQLite took it.
    pub fn apply(self, conn: &Connection) -> rusqlite::Result<()> {
        let got: String = conn.query_row(
            &format!("PRAGMA journal_mode = {}", self.as_sql()),
            [],
            |r| r.get(0),
        )?;
        if got.eq_ignore_ascii_case(self.as_str()) {
            Ok(())
        } else {
            Err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode {} not taken (still {got})",
                self.as_str()
            )))
        }
    }
}

/// What a pre-existing destination holds before the strategy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestContent {
    /// No file at all.
    Fresh,
    /// A valid database with unrelated content.
    Existing,
    /// A database whose tables have the source's names but other columns and content.
    Conflicting,
    /// A database with no tables at all (its `setup_sql` gives it content).
    Empty,
}

/// The destination of one iteration, as created before the pre-image is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationSetup {
    pub content: DestContent,
    /// Journal mode of the file (`Wal` persists in it; the others are also set on the
    /// strategy's destination connection). `None`: SQLite's default.
    pub journal_mode: Option<JournalMode>,
    pub page_size: u32,
    /// Statements run after the preset content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup_sql: Vec<String>,
}

impl DestinationSetup {
    /// A preset with the given page size and nothing else.
    pub fn preset(content: DestContent, journal_mode: Option<JournalMode>, page_size: u32) -> Self {
        DestinationSetup {
            content,
            journal_mode,
            page_size,
            setup_sql: Vec::new(),
        }
    }

    /// Whether the destination commits through a WAL.
    pub fn is_wal(&self) -> bool {
        self.journal_mode == Some(JournalMode::Wal)
    }
}

/// Creates the destination as `setup` says (for `Fresh`, removes any file at `path`).
/// Its `setup_sql` (the scenario's SQL) runs under `limit`: past the deadline or on a stop
/// signal it is interrupted, with [`WorkloadError::Limit`].
pub fn create_destination(
    path: &Path,
    setup: &DestinationSetup,
    seed: u64,
    limit: &super::SqlLimit<'_>,
) -> Result<(), WorkloadError> {
    let p = path.display().to_string();
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let f = format!("{p}{suffix}");
        if Path::new(&f).exists() {
            std::fs::remove_file(&f)
                .map_err(|e| WorkloadError::Other(format!("remove {f}: {e}")))?;
        }
    }
    let (schema, conflicting) = match setup.content {
        DestContent::Fresh => return Ok(()),
        DestContent::Existing => (EXISTING_SCHEMA, false),
        DestContent::Conflicting => (CONFLICTING_SCHEMA, true),
        DestContent::Empty => ("", false),
    };
    let conn = Connection::open(path).map_err(|e| sqlite_err("open", &p, e))?;
    conn.execute_batch(&format!("PRAGMA page_size = {};", setup.page_size))
        .map_err(|e| sqlite_err("set page_size", &p, e))?;
    if let Some(mode) = setup.journal_mode {
        mode.apply(&conn)
            .map_err(|e| sqlite_err(&format!("set journal_mode={}", mode.as_str()), &p, e))?;
    }
    let fill = || -> rusqlite::Result<()> {
        if setup.content == DestContent::Empty {
            // Write the header (page size, journal mode) and nothing else.
            return conn.execute_batch("CREATE TABLE _empty(x); DROP TABLE _empty;");
        }
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(schema)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xDE57_0000);
        let n = rng.random_range(200..400u32);
        for i in 0..n {
            let text: String = (0..rng.random_range(0..300usize))
                .map(|_| (b'A' + rng.random_range(0..26u8)) as char)
                .collect();
            let blob: Vec<u8> = (0..rng.random_range(0..500usize))
                .map(|_| rng.random())
                .collect();
            let x: f64 = rng.random::<f64>() * 100.0;
            if conflicting {
                let t = BASE_TABLES[i as usize % 3];
                tx.prepare_cached(&format!(
                    "INSERT INTO {t}(name, payload, weight) VALUES (?1, ?2, ?3)"
                ))?
                .execute(rusqlite::params![text, blob, x])?;
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                    rusqlite::params![format!("k{i}"), Value::Real(x)],
                )?;
            } else {
                tx.prepare_cached(
                    "INSERT INTO notes(title, body, score, n) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(rusqlite::params![text, blob, x, i as i64])?;
                if i % 4 == 0 {
                    tx.prepare_cached("INSERT INTO tags(note, tag) VALUES (?1, ?2)")?
                        .execute(rusqlite::params![i as i64 + 1, format!("tag{}", i % 7)])?;
                }
            }
        }
        tx.commit()
    };
    fill().map_err(|e| sqlite_err("fill destination", &p, e))?;
    for (i, sql) in setup.setup_sql.iter().enumerate() {
        let key = format!("setup_sql[{i}]");
        limit
            .run(&conn, &key, || conn.execute_batch(sql))
            .map_err(|e| match e {
                super::LimitError::Sqlite { source, .. } => {
                    sqlite_err(&format!("{key} `{sql}`"), &p, source)
                }
                e => WorkloadError::Limit(e),
            })?;
    }
    if setup.is_wal() {
        checkpoint_truncate(&conn, &p)?;
    }
    conn.close().map_err(|(_, e)| sqlite_err("close", &p, e))?;
    Ok(())
}

const EXISTING_SCHEMA: &str = "
CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body BLOB, score REAL, n INTEGER);
CREATE TABLE tags(note INTEGER, tag TEXT, PRIMARY KEY (note, tag)) WITHOUT ROWID;
CREATE INDEX notes_score ON notes(score);
";

const CONFLICTING_SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value);
CREATE TABLE t0(name TEXT, payload BLOB, weight REAL);
CREATE TABLE t1(name TEXT, payload BLOB, weight REAL);
CREATE TABLE t2(name TEXT, payload BLOB, weight REAL);
CREATE INDEX t1_r ON t1(weight);
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::digest_connection;

    fn small() -> WorkloadSpec {
        WorkloadSpec {
            initial_pages: 60,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn source_is_wal_clean_and_big_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("src.db");
        create_source(&path, &small()).unwrap();
        assert!(!dir.path().join("src.db-wal").exists());
        let c = Connection::open(&path).unwrap();
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        assert!(pages >= 60);
        assert_eq!(super::super::read_seq(&c).unwrap(), 0);
    }

    #[test]
    fn destinations() {
        let dir = tempfile::tempdir().unwrap();
        let mut digests = Vec::new();
        let setups = [
            DestinationSetup::preset(DestContent::Fresh, None, 4096),
            DestinationSetup::preset(DestContent::Existing, Some(JournalMode::Delete), 4096),
            DestinationSetup::preset(DestContent::Existing, Some(JournalMode::Wal), 4096),
            DestinationSetup::preset(DestContent::Conflicting, Some(JournalMode::Delete), 4096),
            DestinationSetup::preset(DestContent::Conflicting, Some(JournalMode::Wal), 4096),
        ];
        for (i, setup) in setups.iter().enumerate() {
            let path = dir.path().join(format!("d{i}.db"));
            create_destination(&path, setup, 7, &crate::workload::SqlLimit::none()).unwrap();
            assert!(!dir.path().join(format!("d{i}.db-wal")).exists());
            if setup.content == DestContent::Fresh {
                assert!(!path.exists());
                continue;
            }
            let c = Connection::open(&path).unwrap();
            let mode: String = c
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode == "wal", setup.is_wal(), "{setup:?}");
            digests.push(digest_connection(&c).unwrap());
        }
        assert_eq!(digests[0], digests[1]); // same content, journal mode aside
        assert_ne!(digests[0], digests[2]);
    }

    #[test]
    fn page_size_and_setup_sql_shape_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let setup = DestinationSetup {
            content: DestContent::Existing,
            journal_mode: Some(JournalMode::Truncate),
            page_size: 1024,
            setup_sql: vec![
                "CREATE TABLE items(price INT)".into(),
                "PRAGMA user_version = 7".into(),
            ],
        };
        create_destination(&path, &setup, 1, &crate::workload::SqlLimit::none()).unwrap();
        let c = Connection::open(&path).unwrap();
        let ps: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let uv: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let items: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'items'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!((ps, uv, items), (1024, 7, 1));
        let bad = DestinationSetup {
            setup_sql: vec!["CREATE TABLE".into()],
            ..setup
        };
        let e = create_destination(&path, &bad, 1, &crate::workload::SqlLimit::none())
            .unwrap_err()
            .to_string();
        assert!(e.contains("setup_sql[0]"), "{e}");
    }
}
