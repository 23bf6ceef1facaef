//! A deadline for every SQL statement a scenario wrote (`setup_sql`, `[app]` invariants),
//! which also gives way to the run's stop signal.
//!
//! Why its own module: the harness's own SQL is known to end; a scenario's is anything (a
//! recursive CTE never ends), and it runs in the supervisor, where nothing else would stop it:
//! not the watchdog (which watches the backup worker), not SIGTERM (the handler only raises a
//! flag that the run loop reads between statements).

use super::setup::{interruptible, StopFn};
use rusqlite::Connection;
use std::time::{Duration, Instant};

/// The default of the scenario key `sql_timeout_ms`: 10 s.
pub const DEFAULT_SQL_TIMEOUT_MS: u64 = 10_000;

/// How long one statement of a scenario may run, and the run's stop signal.
#[derive(Clone, Copy)]
pub struct SqlLimit<'a> {
    pub timeout: Duration,
    pub stop: &'a StopFn<'a>,
}

/// Why a limited statement did not finish.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("`{key}` still running after sql_timeout_ms = {ms}: stopped (raise `sql_timeout_ms` if it is meant to take longer)")]
    Deadline { key: String, ms: u128 },
    #[error("`{key}`: stopped by a signal")]
    Stopped { key: String },
    #[error("`{key}`: {source}")]
    Sqlite {
        key: String,
        #[source]
        source: rusqlite::Error,
    },
}

impl SqlLimit<'static> {
    /// No deadline and no stop signal (for tests and the harness's own fixed SQL).
    pub fn none() -> SqlLimit<'static> {
        static NEVER: fn() -> bool = || false;
        SqlLimit {
            timeout: Duration::MAX,
            stop: &NEVER,
        }
    }
}

impl SqlLimit<'_> {
    /// Runs `f`, which runs SQL of the scenario (named `key` in errors) on `conn`, and
    /// interrupts it past the deadline or on a stop signal.
    pub fn run<T>(
        &self,
        conn: &Connection,
        key: &str,
        f: impl FnOnce() -> rusqlite::Result<T>,
    ) -> Result<T, LimitError> {
        let end = Instant::now().checked_add(self.timeout);
        let late = || end.is_some_and(|e| Instant::now() >= e);
        let stop = self.stop;
        let out = interruptible(conn, &|| stop() || late(), f);
        out.map_err(|source| {
            let interrupted = matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::OperationInterrupted)
            );
            match () {
                _ if interrupted && stop() => LimitError::Stopped { key: key.into() },
                _ if interrupted && late() => LimitError::Deadline {
                    key: key.into(),
                    ms: self.timeout.as_millis(),
                },
                _ => LimitError::Sqlite {
                    key: key.into(),
                    source,
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    const FOREVER: &str =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";

    #[test]
    fn a_statement_that_never_ends_stops_at_its_deadline_or_at_a_stop_signal() {
        let conn = Connection::open_in_memory().unwrap();
        let never = || false;
        let limit = SqlLimit {
            timeout: Duration::from_millis(200),
            stop: &never,
        };
        let started = Instant::now();
        let err = limit
            .run(&conn, "setup_sql[0]", || conn.execute_batch(FOREVER))
            .unwrap_err();
        assert!(matches!(err, LimitError::Deadline { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err
            .to_string()
            .contains("`setup_sql[0]` still running after sql_timeout_ms = 200"));
        // A stop signal ends it long before a deadline.
        let flag = AtomicBool::new(false);
        let stop = || flag.load(Ordering::Relaxed);
        let limit = SqlLimit {
            timeout: Duration::from_secs(3600),
            stop: &stop,
        };
        let started = Instant::now();
        let err = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                flag.store(true, Ordering::Relaxed);
            });
            limit
                .run(&conn, "invariant `x`", || conn.execute_batch(FOREVER))
                .unwrap_err()
        });
        assert!(matches!(err, LimitError::Stopped { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // A statement that ends is unaffected; its own errors stay its own.
        assert_eq!(
            limit
                .run(&conn, "k", || conn
                    .query_row("SELECT 7", [], |r| r.get::<_, i64>(0)))
                .unwrap(),
            7
        );
        let err = limit
            .run(&conn, "k", || conn.execute_batch("SELEC"))
            .unwrap_err();
        assert!(matches!(err, LimitError::Sqlite { .. }), "{err}");
    }
}
