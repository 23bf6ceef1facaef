//! Pieces shared by several strategies: opening connections the way the worker expects, the
//! robust restart counter, the stepped backup loop, and file-copy helpers.
//!
//! Why it exists: the API strategies differ only in setup and in what happens between steps;
//! keeping the loop here means every one of them reports steps and restarts identically.

use super::raw_backup::{self, describe_rc, is_retryable, RawBackup, SQLITE_DONE, SQLITE_OK};
use super::StrategyContext;
use crate::event::{Claim, Event};
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Shortest sleep before retrying a BUSY/LOCKED step.
pub const BUSY_RETRY: Duration = Duration::from_millis(2);

/// Claim::Error with the strategy name in front.
pub fn error(strategy: &str, what: impl std::fmt::Display) -> Claim {
    Claim::Error {
        message: format!("{strategy}: {what}"),
    }
}

/// Opens `path` with `vfs` when given, default flags (read/write, create, URI, no mutex).
pub fn open(path: &Path, vfs: Option<&str>) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::default();
    match vfs {
        Some(v) => Connection::open_with_flags_and_vfs(path, flags, v),
        None => Connection::open_with_flags(path, flags),
    }
}

/// A source connection (with `ctx.source_vfs`) and `busy_timeout = params.busy_timeout_ms`.
pub fn open_source(ctx: &StrategyContext<'_>) -> rusqlite::Result<Connection> {
    let c = open(ctx.source, ctx.source_vfs)?;
    c.busy_timeout(Duration::from_millis(ctx.params.busy_timeout_ms))?;
    Ok(c)
}

/// The destination connection, through `ctx.dest_vfs`. No busy timeout on purpose: BUSY from
/// the destination (a lock holder, or a fault VFS) must reach the strategy's step loop, which
/// retries it itself, instead of being hidden inside SQLite's busy handler. (rusqlite installs
/// a 5 s busy timeout on every connection it opens; it is switched off here.) With
/// `params.dest_journal_mode` and `params.dest_synchronous`, the destination gets that
/// `PRAGMA journal_mode` and `PRAGMA synchronous` level.
pub fn open_dest(ctx: &StrategyContext<'_>) -> rusqlite::Result<Connection> {
    let c = open(ctx.dest, ctx.dest_vfs)?;
    c.busy_timeout(Duration::ZERO)?;
    if let Some(mode) = ctx.params.dest_journal_mode {
        mode.apply(&c)?;
    }
    if let Some(level) = ctx.params.dest_synchronous {
        c.execute_batch(&format!("PRAGMA synchronous = {}", level.as_sql()))?;
    }
    Ok(c)
}

/// Whether the planned application abort comes before step `next` (1-based).
pub fn abort_due(ctx: &StrategyContext<'_>, next: u64) -> bool {
    ctx.abort_before_step == Some(next)
}

/// The application gives up: reports the abort, calls `sqlite3_backup_finish()` before
/// `SQLITE_DONE`, and claims `Aborted` with what `finish()` returned.
pub fn abort(name: &str, ctx: &mut StrategyContext<'_>, bk: RawBackup<'_>, next: u64) -> Claim {
    (ctx.emit)(Event::Fired {
        what: format!("abort: sqlite3_backup_finish() instead of step #{next}"),
    });
    let remaining = bk.remaining();
    let frc = bk.finish();
    Claim::Aborted {
        message: format!(
            "{name}: finish() before step #{next}, remaining {remaining} (backup_finish {})",
            describe_rc(frc)
        ),
    }
}

/// The source and destination connections, or the `Error` claim naming which open failed.
pub fn open_pair(
    strategy: &str,
    ctx: &StrategyContext<'_>,
) -> Result<(Connection, Connection), Claim> {
    let src = open_source(ctx).map_err(|e| error(strategy, format!("open source: {e}")))?;
    let dst = open_dest(ctx).map_err(|e| error(strategy, format!("open destination: {e}")))?;
    Ok((src, dst))
}

/// `sqlite3_backup_init`, or the `Error` claim with its code and message.
pub fn init_backup<'a>(
    strategy: &str,
    dest: &'a mut Connection,
    src: &'a Connection,
) -> Result<RawBackup<'a>, Claim> {
    RawBackup::init(dest, src).map_err(|e| {
        error(
            strategy,
            format!("backup_init {}: {}", describe_rc(e.rc), e.message),
        )
    })
}

/// Counts backup restarts from the `(remaining, pagecount)` pairs of successive steps.
///
/// A step copies at most `npage` pages, so without a restart
/// `remaining <= max(prev_remaining - npage, 0) + (pagecount - prev_pagecount)`; anything
/// above that bound means the backup went back to page 1. Both values are 0 before the first
/// successful step, which is the right "previous" for the first one. Only `OK`/`DONE` steps are
/// observed: a failed step copies nothing and does not update the counters.
#[derive(Debug, Clone)]
pub struct RestartCounter {
    npage: i32,
    prev_remaining: i64,
    prev_pagecount: i64,
    restarts: u64,
}

impl RestartCounter {
    pub fn new(npage: i32) -> Self {
        RestartCounter {
            npage,
            prev_remaining: 0,
            prev_pagecount: 0,
            restarts: 0,
        }
    }

    /// Feeds one step's result; returns the restart count so far.
    pub fn observe(&mut self, rc: i32, remaining: i32, pagecount: i32) -> u64 {
        if rc != SQLITE_OK && rc != SQLITE_DONE {
            return self.restarts;
        }
        let (remaining, pagecount) = (remaining as i64, pagecount as i64);
        let copied_bound = if self.npage <= 0 {
            0
        } else {
            (self.prev_remaining - self.npage as i64).max(0)
        };
        if remaining > copied_bound + (pagecount - self.prev_pagecount) {
            self.restarts += 1;
        }
        self.prev_remaining = remaining;
        self.prev_pagecount = pagecount;
        self.restarts
    }

    pub fn restarts(&self) -> u64 {
        self.restarts
    }
}

/// Steps a backup and reports every call as an `Event::Step` with the restart count, so every
/// stepped strategy (the controls included) reports steps identically.
pub struct Stepper {
    npage: i32,
    counter: RestartCounter,
    step: u64,
}

impl Stepper {
    pub fn new(npage: i32) -> Self {
        Stepper {
            npage,
            counter: RestartCounter::new(npage),
            step: 0,
        }
    }

    /// The number of the next step (1-based).
    pub fn next(&self) -> u64 {
        self.step + 1
    }

    /// One `sqlite3_backup_step(npage)`, reported; returns `(rc, remaining)`.
    pub fn step(&mut self, bk: &mut RawBackup<'_>, ctx: &mut StrategyContext<'_>) -> (i32, i32) {
        let rc = bk.step(self.npage);
        self.step += 1;
        let (remaining, pagecount) = (bk.remaining(), bk.pagecount());
        let restarts = self.counter.observe(rc, remaining, pagecount);
        (ctx.emit)(Event::Step {
            step: self.step,
            rc,
            remaining,
            pagecount,
            restarts,
            done: rc == SQLITE_DONE,
        });
        (rc, remaining)
    }
}

/// What to do after a step that returned `SQLITE_OK` (before the sleep).
pub type BetweenSteps<'f> = &'f mut dyn FnMut(&mut StrategyContext<'_>) -> Result<(), String>;

/// The stepped backup loop: `step(npage)`, one `Step` event per call, `between` and a sleep
/// after every `OK`, BUSY/LOCKED retried (for at most `busy_timeout_ms` in a row), any other
/// code is a hard error. Success only on `SQLITE_DONE` followed by `finish() == OK`.
pub fn run_stepped(
    name: &str,
    ctx: &mut StrategyContext<'_>,
    dest: &mut Connection,
    src: &Connection,
    between: BetweenSteps<'_>,
) -> Claim {
    let npage = ctx.params.npage;
    let sleep = Duration::from_millis(ctx.params.sleep_ms);
    let busy_limit = Duration::from_millis(ctx.params.busy_timeout_ms);
    (ctx.emit)(Event::Phase {
        name: "backup".into(),
    });
    let mut bk = match init_backup(name, dest, src) {
        Ok(b) => b,
        Err(claim) => return claim,
    };
    let mut stepper = Stepper::new(npage);
    let mut busy_since: Option<Instant> = None;
    loop {
        if abort_due(ctx, stepper.next()) {
            return abort(name, ctx, bk, stepper.next());
        }
        let (rc, _) = stepper.step(&mut bk, ctx);
        if rc == SQLITE_DONE {
            break;
        } else if rc == SQLITE_OK {
            busy_since = None;
            if let Err(e) = between(ctx) {
                let frc = bk.finish();
                return error(name, format!("{e} (backup_finish {})", describe_rc(frc)));
            }
            if !sleep.is_zero() {
                std::thread::sleep(sleep);
            }
        } else if is_retryable(rc) {
            let since = *busy_since.get_or_insert_with(Instant::now);
            if since.elapsed() > busy_limit {
                let frc = bk.finish();
                return error(
                    name,
                    format!(
                        "backup_step {} for more than {} ms (backup_finish {})",
                        describe_rc(rc),
                        busy_limit.as_millis(),
                        describe_rc(frc)
                    ),
                );
            }
            std::thread::sleep(sleep.max(BUSY_RETRY));
        } else {
            let frc = bk.finish();
            return error(
                name,
                format!(
                    "backup_step {} (backup_finish {})",
                    describe_rc(rc),
                    describe_rc(frc)
                ),
            );
        }
    }
    let msg = bk.dest_errmsg();
    let frc = bk.finish();
    if frc != SQLITE_OK {
        return error(name, format!("backup_finish {}: {msg}", describe_rc(frc)));
    }
    Claim::Success
}

/// `name-suffix` next to `path`: `sidecar("/d/x.db", "-wal")` = `/d/x.db-wal`.
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Copy chunk size: small, so a kill can land in the middle of a copy.
pub const COPY_CHUNK: usize = 16 * 1024;

/// Copies `from` to `to` (created or truncated) in [`COPY_CHUNK`] pieces; `sync` fsyncs `to`.
pub fn copy_chunked(from: &Path, to: &Path, sync: bool) -> std::io::Result<u64> {
    let mut r = File::open(from)?;
    let mut w = File::create(to)?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
    if sync {
        w.sync_all()?;
    }
    Ok(total)
}

/// Removes `path` if it exists.
pub fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// fsyncs a directory (so a rename or unlink in it is durable).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Runs a `PRAGMA wal_checkpoint(MODE)` and returns its `(busy, log, checkpointed)` row.
pub fn wal_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i32, i32, i32)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// Emits an `Event::Checkpoint` for a checkpoint the strategy ran on the source.
pub fn emit_checkpoint(ctx: &mut StrategyContext<'_>, mode: &str, row: (i32, i32, i32)) {
    (ctx.emit)(Event::Checkpoint {
        mode: mode.into(),
        rc: if row.0 != 0 {
            raw_backup::SQLITE_BUSY
        } else {
            SQLITE_OK
        },
        log: row.1,
        checkpointed: row.2,
    });
}

/// Emits `Event::Phase{name}`.
pub fn phase(ctx: &mut StrategyContext<'_>, name: &str) {
    (ctx.emit)(Event::Phase { name: name.into() });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dest_synchronous_reaches_the_destination_connection() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("s.db"), dir.path().join("d.db"));
        let level = |params: &super::super::StrategyParams| {
            let workload = crate::workload::WorkloadSpec::default();
            let mut sink = |_| {};
            let ctx = StrategyContext {
                source: &src,
                dest: &dst,
                source_vfs: None,
                dest_vfs: None,
                params,
                workload: &workload,
                abort_before_step: None,
                link_fault: None,
                emit: &mut sink,
            };
            let c = open_dest(&ctx).unwrap();
            c.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        let mut params = super::super::StrategyParams::default();
        assert_eq!(level(&params), 2, "SQLite's default is FULL");
        params.dest_synchronous = Some(super::super::Synchronous::Extra);
        assert_eq!(level(&params), 3);
        params.dest_synchronous = Some(super::super::Synchronous::Off);
        assert_eq!(level(&params), 0);
    }

    #[test]
    fn restart_counter_synthetic_sequences() {
        // 1000 pages, npage 100: steady progress, no restart.
        let mut c = RestartCounter::new(100);
        assert_eq!(c.observe(SQLITE_OK, 900, 1000), 0);
        assert_eq!(c.observe(SQLITE_OK, 800, 1000), 0);
        // The source grew by 5 pages while stepping: still no restart.
        assert_eq!(c.observe(SQLITE_OK, 705, 1005), 0);
        // Back to page 1: remaining jumps up.
        assert_eq!(c.observe(SQLITE_OK, 905, 1005), 1);
        // Restart right after a step, remaining unchanged: the naive check misses this one.
        assert_eq!(c.observe(SQLITE_OK, 905, 1005), 2);
        // BUSY steps copy nothing and are ignored, even though remaining did not drop.
        assert_eq!(c.observe(raw_backup::SQLITE_BUSY, 905, 1005), 2);
        assert_eq!(c.observe(SQLITE_OK, 805, 1005), 2);
        // The source shrank (a checkpoint + vacuum, say) and the copy moved on: no restart.
        assert_eq!(c.observe(SQLITE_OK, 700, 1000), 2);
        assert_eq!(c.observe(SQLITE_DONE, 0, 1000), 2);
        assert_eq!(c.restarts(), 2);
    }

    #[test]
    fn restart_counter_first_step_and_one_shot() {
        // The first step starts from (0, 0): remaining = pagecount - npage is within bounds.
        let mut c = RestartCounter::new(10);
        assert_eq!(c.observe(SQLITE_OK, 40, 50), 0);
        // Restart immediately after the first step: remaining stays at 40.
        assert_eq!(c.observe(SQLITE_OK, 40, 50), 1);
        // step(-1) copies everything: never a restart.
        let mut one = RestartCounter::new(-1);
        assert_eq!(one.observe(SQLITE_DONE, 0, 50), 0);
    }

    #[test]
    fn sidecar_appends() {
        assert_eq!(
            sidecar(Path::new("/d/x.db"), "-wal"),
            PathBuf::from("/d/x.db-wal")
        );
    }
}
