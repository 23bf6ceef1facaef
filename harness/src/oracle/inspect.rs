//! Opening a database the way a user's next open would, and reading it completely.
//!
//! Why its own module: the oracle must never "help" a file. It opens read-write without create
//! through the default VFS, so a hot journal is rolled back and a WAL is recovered by SQLite
//! itself, and it never touches `-journal`/`-wal` files. Every failure is a reason string: a
//! corrupt file is an expected input, not an error of the harness.

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::digest::{digest_connection_ignoring, Digest};

/// Opens `path` (recovering it), runs `PRAGMA integrity_check` and digests it.
/// `Err(reason)` when it cannot be opened, fails integrity, or cannot be read.
pub(crate) fn open_and_digest(
    path: &Path,
    ignore: &[String],
) -> Result<(Connection, Digest), String> {
    open_and_digest_via(path, None, ignore)
}

/// [`open_and_digest`] through the VFS `vfs` (`None`: the default), with nothing armed: the
/// storage VFS of an in-memory crash state.
pub(crate) fn open_and_digest_via(
    path: &Path,
    vfs: Option<&str>,
    ignore: &[String],
) -> Result<(Connection, Digest), String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match vfs {
        None => Connection::open_with_flags(path, flags),
        Some(v) => Connection::open_with_flags_and_vfs(path, flags, v),
    }
    .map_err(|e| format!("cannot open: {e}"))?;
    conn.busy_timeout(Duration::from_millis(5000))
        .map_err(|e| format!("cannot set busy_timeout: {e}"))?;
    integrity(&conn)?;
    let d = digest_connection_ignoring(&conn, ignore)
        .map_err(|e| format!("cannot read every row: {e}"))?;
    Ok((conn, d))
}

fn integrity(conn: &Connection) -> Result<(), String> {
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| format!("integrity_check failed: {e}"))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|it| it.collect())
        .map_err(|e| format!("integrity_check failed: {e}"))?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(format!("integrity_check: {}", clip(rows.join("; "), 300)))
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), with `…` when cut.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// What a database file says about itself: read from its header and, through a read-only
/// connection, its pragmas. Taken before the backup (after the pre-image) and after the
/// oracle recovered it, so the report shows what the backup changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Page size from the header (bytes 16-17).
    pub page_size: u32,
    /// `wal` when the header's read/write versions (bytes 18-19) are 2, else `rollback`.
    pub header: String,
    /// `PRAGMA journal_mode` of a fresh read-only connection (`wal` persists in the file; the
    /// rollback modes show as the default, `delete`).
    pub journal_mode: String,
}

/// The facts of `path`, `None` when there is no database file (or an unreadable one).
pub fn file_facts(path: &Path) -> Option<FileFacts> {
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .ok()?;
    let raw = u32::from(u16::from_be_bytes([header[16], header[17]]));
    let page_size = if raw == 1 { 65536 } else { raw };
    let wal = header[18] == 2 && header[19] == 2;
    let journal_mode = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)))
    .unwrap_or_else(|e| format!("? ({e})"));
    Some(FileFacts {
        page_size,
        header: if wal { "wal" } else { "rollback" }.into(),
        journal_mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("abc".into(), 3), "abc");
        assert_eq!(clip("abcd".into(), 3), "abc…");
        // 'é' is two bytes: byte 3 is inside it, so the cut falls back to byte 2.
        assert_eq!(clip("abéd".into(), 3), "ab…");
    }

    #[test]
    fn file_facts_read_the_header_and_the_journal_mode() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(file_facts(&dir.path().join("none.db")), None);
        let short = dir.path().join("short.db");
        std::fs::write(&short, b"SQLite").unwrap();
        assert_eq!(file_facts(&short), None, "shorter than a header");
        let wal = dir.path().join("w.db");
        let c = Connection::open(&wal).unwrap();
        c.execute_batch("PRAGMA page_size=1024; PRAGMA journal_mode=WAL; CREATE TABLE t(x);")
            .unwrap();
        drop(c);
        let f = file_facts(&wal).unwrap();
        assert_eq!(
            (f.page_size, f.header.as_str(), f.journal_mode.as_str()),
            (1024, "wal", "wal")
        );
        let rb = dir.path().join("r.db");
        let c = Connection::open(&rb).unwrap();
        c.execute_batch("PRAGMA page_size=8192; CREATE TABLE t(x);")
            .unwrap();
        drop(c);
        let f = file_facts(&rb).unwrap();
        assert_eq!(
            (f.page_size, f.header.as_str(), f.journal_mode.as_str()),
            (8192, "rollback", "delete")
        );
    }

    /// A database whose table reads fine but whose index disagrees with it: only
    /// `PRAGMA integrity_check` sees it (the digest reads tables, never indexes).
    #[test]
    fn an_index_that_disagrees_with_its_table_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ix.db");
        let c = Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA page_size=4096; CREATE TABLE t(x TEXT); CREATE INDEX ix ON t(x);")
            .unwrap();
        for i in 0..20 {
            c.execute("INSERT INTO t VALUES(?1)", [format!("key-{i:04}-abcdef")])
                .unwrap();
        }
        let root: i64 = c
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name='ix'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        drop(c);
        assert!(open_and_digest(&db, &[]).is_ok(), "intact first");
        // Rewrite the index's copy of one key ("abcdef" -> "zzzzzz") in place.
        let mut bytes = std::fs::read(&db).unwrap();
        let page = (root as usize - 1) * 4096;
        let at = bytes[page..page + 4096]
            .windows(6)
            .position(|w| w == b"abcdef")
            .expect("a key in the index page")
            + page;
        bytes[at..at + 6].copy_from_slice(b"zzzzzz");
        std::fs::write(&db, &bytes).unwrap();
        let err = open_and_digest(&db, &[]).expect_err("integrity_check must fail");
        assert!(err.starts_with("integrity_check: "), "{err}");
    }
}
