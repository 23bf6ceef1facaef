//! `copy-locked`: a file-level copy done right.
//!
//! Why it exists: the correct version of "just copy the files". Under `BEGIN IMMEDIATE` (plus a
//! read, so a read transaction is open) no connection can append to or reset the WAL, so the db
//! file and `-wal` copied as a pair recover to one snapshot (a concurrent PASSIVE checkpoint may
//! still write into the db file, but only pages the WAL also holds). The pair goes to
//! `<dest>.tmp` / `<dest>.tmp-wal`, the lock is released, SQLite checkpoints the temp copy and
//! turns it into a self-contained rollback-journal file, which is fsynced and renamed over the
//! destination; then the directory is fsynced. At every instant the destination is the old
//! database or the complete new one.

use super::common::{self, error, sidecar};
use super::{Strategy, StrategyContext};
use crate::event::Claim;
use rusqlite::Connection;
use std::fs::File;
use std::path::Path;

pub struct CopyLocked;

const NAME: &str = "copy-locked";

pub const REGISTRATION: super::Registration = super::Registration {
    name: NAME,
    describe: "BEGIN IMMEDIATE, copy db + -wal to a temp file, unlock, checkpoint it, fsync, rename over the destination (file copy done right)",
    facts: super::FILE_COPY_FACTS,
    build: || Box::new(CopyLocked),
};

impl Strategy for CopyLocked {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        match run(ctx) {
            Ok(()) => Claim::Success,
            Err(msg) => error(NAME, msg),
        }
    }
}

fn run(ctx: &mut StrategyContext<'_>) -> Result<(), String> {
    let tmp = sidecar(ctx.dest, ".tmp");
    let tmp_wal = sidecar(&tmp, "-wal");
    for stale in [
        &tmp,
        &tmp_wal,
        &sidecar(&tmp, "-shm"),
        &sidecar(&tmp, "-journal"),
    ] {
        common::remove_if_exists(stale).map_err(|e| format!("remove {}: {e}", stale.display()))?;
    }

    let src = common::open_source(ctx).map_err(|e| format!("open source: {e}"))?;
    common::phase(ctx, "lock");
    src.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| format!("BEGIN IMMEDIATE: {e}"))?;
    let copied = copy_pair(ctx, &src, &tmp, &tmp_wal);
    common::phase(ctx, "unlock");
    // ROLLBACK: nothing was written; it releases the write lock and the read snapshot.
    let unlocked = src
        .execute_batch("ROLLBACK")
        .map_err(|e| format!("ROLLBACK: {e}"));
    drop(src);
    copied?;
    unlocked?;

    common::phase(ctx, "checkpoint");
    settle(&tmp, ctx.dest_vfs).map_err(|e| format!("checkpoint {}: {e}", tmp.display()))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("fsync {}: {e}", tmp.display()))?;

    common::phase(ctx, "rename");
    settle_old_destination(ctx)?;
    std::fs::rename(&tmp, ctx.dest).map_err(|e| format!("rename over destination: {e}"))?;
    let dir = ctx.dest.parent().filter(|d| !d.as_os_str().is_empty());
    common::sync_dir(dir.unwrap_or(Path::new("."))).map_err(|e| format!("fsync directory: {e}"))?;
    Ok(())
}

/// Under the lock: a read (so the snapshot is open), then the db file and its `-wal`.
fn copy_pair(
    ctx: &mut StrategyContext<'_>,
    src: &Connection,
    tmp: &Path,
    tmp_wal: &Path,
) -> Result<(), String> {
    src.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| format!("read under lock: {e}"))?;
    common::phase(ctx, "copy-db");
    common::copy_chunked(ctx.source, tmp, false)
        .map_err(|e| format!("copy db to {}: {e}", tmp.display()))?;
    let wal = sidecar(ctx.source, "-wal");
    if wal.exists() {
        common::phase(ctx, "copy-wal");
        common::copy_chunked(&wal, tmp_wal, false)
            .map_err(|e| format!("copy -wal to {}: {e}", tmp_wal.display()))?;
    }
    Ok(())
}

/// Makes `path` self-contained: recovers its WAL, checkpoints it into the db file and
/// switches to `journal_mode=DELETE` (which removes `-wal`/`-shm`).
fn settle(path: &Path, vfs: Option<&str>) -> rusqlite::Result<()> {
    let c = common::open(path, vfs)?;
    let (busy, _, _) = common::wal_checkpoint(&c, "TRUNCATE")?;
    if busy != 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("wal_checkpoint(TRUNCATE) busy".into()),
        ));
    }
    let mode: String = c.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(format!("journal_mode stayed {mode}")),
        ));
    }
    c.close().map_err(|(_, e)| e)
}

/// Before the rename: an old destination with a hot `-journal` or a `-wal` is settled by SQLite
/// first (its recovery keeps the old content at every instant), so no stale sidecar is ever
/// applied to the new file. A leftover `-shm` alone is harmless but removed.
fn settle_old_destination(ctx: &StrategyContext<'_>) -> Result<(), String> {
    let dest = ctx.dest;
    let journal = sidecar(dest, "-journal");
    let wal = sidecar(dest, "-wal");
    if dest.exists() && (journal.exists() || wal.exists()) {
        // A destination SQLite cannot open is not a database worth keeping: fall through and
        // remove the sidecars.
        let _ = settle(dest, ctx.dest_vfs);
    }
    for stale in [wal, sidecar(dest, "-shm"), journal] {
        common::remove_if_exists(&stale).map_err(|e| format!("remove {}: {e}", stale.display()))?;
    }
    Ok(())
}
