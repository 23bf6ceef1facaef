//! `stream-vfs`: a stepped backup into a destination connection whose VFS ships every write to
//! a receiver process over a socket, which keeps the replica (the SQLite author's idea for a
//! network backup; see [`crate::stream`]). The backup is driven from a separate source
//! connection, so a commit from any other connection restarts it from page 1.
//!
//! Also the driver of `stream-vfs-same-conn`: the two differ only in who commits between
//! steps. Between steps the strategy waits while the link's send queue is more than half full
//! (the throttle), and reports every link fault that took effect.

use super::common;
use super::{Strategy, StrategyContext};
use crate::event::{Claim, Event, VFS_NAME};
use crate::stream::session::{Session, SessionParams};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;
use vfs_faults::{FaultVfs, FileKind, OpKind};

pub struct StreamVfs;

const NAME: &str = "stream-vfs";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "stepped backup into a VFS that ships pages to a receiver process over a socket, throttled on its send queue; a separate connection, so other commits restart it (network backup idea)",
    facts: super::STREAM_FACTS,
    build: || Box::new(StreamVfs),
};

impl Strategy for StreamVfs {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        run_stream(NAME, ctx, false)
    }
}

/// The destination's page cache while streaming, in KiB: small, so pages spill to the link
/// while the backup runs instead of all at once at the commit.
pub const DEST_CACHE_KIB: u32 = 256;

/// Runs a network backup of `ctx.source` to the replica at `ctx.dest`; with `same_conn`, one
/// workload commit on the backup's own source connection between steps.
pub(super) fn run_stream(name: &str, ctx: &mut StrategyContext<'_>, same_conn: bool) -> Claim {
    let params = SessionParams {
        transport: ctx.params.link,
        bandwidth_bps: ctx.params.bandwidth_bps,
        queue_bytes: ctx.params.queue_bytes,
        apply: ctx.params.receiver_apply,
        fault: ctx.link_fault,
    };
    (ctx.emit)(Event::Phase {
        name: "connect".into(),
    });
    let mut session = match Session::start(ctx.dest, params) {
        Ok(s) => s,
        Err(e) => return common::error(name, format!("starting the stream session: {e}")),
    };
    let (claim, changed) = backup_through(name, ctx, &mut session, same_conn);
    let (stats, fired) = session.finish(changed);
    for what in fired {
        (ctx.emit)(Event::Fired { what });
    }
    (ctx.emit)(Event::Stream { stats });
    claim
}

/// The source's WAL writes this worker made so far (its fault VFS counts them).
fn own_wal_writes() -> Option<u64> {
    FaultVfs::get(VFS_NAME).map(|v| v.counters().get(OpKind::Write, FileKind::Wal))
}

fn backup_through(
    name: &str,
    ctx: &mut StrategyContext<'_>,
    session: &mut Session,
    same_conn: bool,
) -> (Claim, Option<u64>) {
    let src = match common::open_source(ctx) {
        Ok(c) => c,
        Err(e) => return (common::error(name, format!("open source: {e}")), None),
    };
    let mut dst = match open_dest(session, ctx.dest) {
        Ok(c) => c,
        Err(e) => return (common::error(name, format!("open destination: {e}")), None),
    };
    // The journal-mode switch of a WAL-flagged replica is not part of the backup.
    session.reset_counts();
    let before = if same_conn { own_wal_writes() } else { None };
    let src_ref = &src;
    let claim = {
        let session_ref = &mut *session;
        let mut between = |ctx: &mut StrategyContext<'_>| -> Result<(), String> {
            for what in session_ref.take_fired() {
                (ctx.emit)(Event::Fired { what });
            }
            if same_conn {
                super::api_same_conn::commit_own(src_ref, ctx)?;
            }
            session_ref.between_steps();
            Ok(())
        };
        common::run_stepped(name, ctx, &mut dst, &src, &mut between)
    };
    // Each WAL frame is two writes: its header and its page.
    let changed = before.and_then(|b| own_wal_writes().map(|a| a.saturating_sub(b) / 2));
    drop(dst);
    for what in session.take_fired() {
        (ctx.emit)(Event::Fired { what });
    }
    let claim = match claim {
        // A commit that shrinks the replica truncates it after its sync: ship that too.
        Claim::Success => match session.flush() {
            Ok(()) => Claim::Success,
            Err(e) => common::error(name, format!("final flush: {e}")),
        },
        other => other,
    };
    (claim, changed)
}

/// The destination connection through the session's VFS: exclusive locking (the VFS has no
/// shared memory), no on-disk journal (the receiver makes commits atomic), a small cache.
fn open_dest(session: &Session, dest: &Path) -> Result<Connection, String> {
    let c = common::open(dest, Some(session.vfs_name())).map_err(|e| e.to_string())?;
    let setup = || -> rusqlite::Result<String> {
        c.busy_timeout(Duration::ZERO)?;
        c.execute_batch("PRAGMA locking_mode = EXCLUSIVE")?;
        let mode: String = c.query_row("PRAGMA journal_mode = MEMORY", [], |r| r.get(0))?;
        c.execute_batch(&format!("PRAGMA cache_size = -{DEST_CACHE_KIB}"))?;
        Ok(mode)
    };
    match setup() {
        Ok(mode) if mode.eq_ignore_ascii_case("memory") => Ok(c),
        Ok(mode) => Err(format!("journal_mode stayed {mode}")),
        Err(e) => Err(e.to_string()),
    }
}
