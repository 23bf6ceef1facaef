//! A thin, safe wrapper over SQLite's online backup API that keeps every return code.
//!
//! Why it exists: `rusqlite::backup::Backup` maps step results to a `#[non_exhaustive]` enum and
//! its `Drop` ignores `sqlite3_backup_finish()`'s result, but the harness must see the exact codes
//! (`SQLITE_DONE` vs. `SQLITE_OK` with `remaining() == 0`, `finish()` returning `OK` after an
//! incomplete backup, extended I/O error codes). This is the only module in `strategy/` that
//! contains `unsafe`.

use rusqlite::{ffi, Connection};
use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::NonNull;

pub use ffi::{SQLITE_BUSY, SQLITE_DONE, SQLITE_LOCKED, SQLITE_OK};

/// `sqlite3_backup_init` failed: its return code (from the destination handle) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError {
    pub rc: i32,
    pub message: String,
}

/// An active backup from `main` of the source connection into `main` of the destination.
///
/// The destination is borrowed mutably: SQLite forbids using it while the backup runs. The
/// source is borrowed shared, so the source connection can keep writing between steps (that is
/// what `api-same-conn` does; SQLite re-sends the changed pages). Dropping without
/// [`RawBackup::finish`] still calls `sqlite3_backup_finish` (result ignored).
pub struct RawBackup<'a> {
    handle: NonNull<ffi::sqlite3_backup>,
    dest_db: *mut ffi::sqlite3,
    _borrows: PhantomData<(&'a mut Connection, &'a Connection)>,
}

/// SQLite's English text for a result code (`sqlite3_errstr`).
pub fn errstr(rc: i32) -> String {
    // SAFETY: sqlite3_errstr accepts any integer and returns a pointer to a static,
    // NUL-terminated string (never NULL).
    let p = unsafe { ffi::sqlite3_errstr(rc as c_int) };
    if p.is_null() {
        return format!("rc {rc}");
    }
    // SAFETY: `p` is non-null, NUL-terminated and static (see above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// `sqlite3_errmsg` of a raw connection handle, copied out immediately.
fn errmsg(db: *mut ffi::sqlite3) -> String {
    // SAFETY: `db` is a live connection handle (callers pass a handle borrowed from a
    // `Connection` that outlives this call); sqlite3_errmsg returns a NUL-terminated string
    // valid until the next API call on `db`, and we copy it before making another.
    let p = unsafe { ffi::sqlite3_errmsg(db) };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated, still valid (no API call in between).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

impl<'a> RawBackup<'a> {
    /// `sqlite3_backup_init(dest, "main", src, "main")`.
    pub fn init(dest: &'a mut Connection, src: &'a Connection) -> Result<Self, InitError> {
        // SAFETY: handle() returns the live sqlite3* owned by each Connection; we do not close
        // them, and the PhantomData borrows keep both connections alive and the destination
        // exclusively borrowed for as long as the backup object exists.
        let (dest_db, src_db) = unsafe { (dest.handle(), src.handle()) };
        // SAFETY: both handles are valid (above); the schema names are static NUL-terminated
        // strings. On failure SQLite returns NULL and records the error on `dest_db`.
        let p = unsafe {
            ffi::sqlite3_backup_init(dest_db, c"main".as_ptr(), src_db, c"main".as_ptr())
        };
        match NonNull::new(p) {
            Some(handle) => Ok(RawBackup {
                handle,
                dest_db,
                _borrows: PhantomData,
            }),
            None => {
                // SAFETY: dest_db is valid (above).
                let rc = unsafe { ffi::sqlite3_extended_errcode(dest_db) };
                Err(InitError {
                    rc,
                    message: errmsg(dest_db),
                })
            }
        }
    }

    /// `sqlite3_backup_step(n)`: the exact (possibly extended) return code.
    pub fn step(&mut self, npage: i32) -> i32 {
        // SAFETY: `handle` came from a successful sqlite3_backup_init and has not been finished
        // (finish consumes self); both connections are alive (borrows held).
        unsafe { ffi::sqlite3_backup_step(self.handle.as_ptr(), npage as c_int) }
    }

    /// `sqlite3_backup_remaining()` as of the last step (0 before the first successful step).
    pub fn remaining(&self) -> i32 {
        // SAFETY: as in `step`; this only reads a field of the live backup object.
        unsafe { ffi::sqlite3_backup_remaining(self.handle.as_ptr()) }
    }

    /// `sqlite3_backup_pagecount()` as of the last step (0 before the first successful step).
    pub fn pagecount(&self) -> i32 {
        // SAFETY: as in `remaining`.
        unsafe { ffi::sqlite3_backup_pagecount(self.handle.as_ptr()) }
    }

    /// `sqlite3_errmsg` of the destination connection (set by `init` and `finish`; a failing
    /// `step` does not set it, use [`errstr`] for the step's code).
    pub fn dest_errmsg(&self) -> String {
        errmsg(self.dest_db)
    }

    /// `sqlite3_backup_finish()`: its exact return code (`OK` after an incomplete but
    /// error-free backup; the sticky error otherwise). Rolls back an open destination
    /// transaction.
    pub fn finish(self) -> i32 {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the handle is live and is released exactly once: `this` is ManuallyDrop, so
        // Drop will not finish it again.
        unsafe { ffi::sqlite3_backup_finish(this.handle.as_ptr()) }
    }
}

impl Drop for RawBackup<'_> {
    fn drop(&mut self) {
        // SAFETY: reached only when `finish` was not called (it suppresses Drop), so the handle
        // is live and released exactly once here.
        unsafe {
            ffi::sqlite3_backup_finish(self.handle.as_ptr());
        }
    }
}

/// Primary result code (low byte) of a possibly extended code.
pub fn primary(rc: i32) -> i32 {
    rc & 0xff
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED` (any extended variant): the only retryable step results.
pub fn is_retryable(rc: i32) -> bool {
    matches!(primary(rc), SQLITE_BUSY | SQLITE_LOCKED)
}

/// "rc=10 (disk I/O error)" for messages.
pub fn describe_rc(rc: i32) -> String {
    format!("rc={rc} ({})", errstr(rc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(rows: i64) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t(x INTEGER, y BLOB);")
            .unwrap();
        for i in 0..rows {
            c.execute("INSERT INTO t VALUES (?1, zeroblob(900))", [i])
                .unwrap();
        }
        c
    }

    #[test]
    fn finish_after_incomplete_step_is_ok_and_done_after_last_step() {
        let src = source(200);
        let mut dst = Connection::open_in_memory().unwrap();
        {
            let mut b = RawBackup::init(&mut dst, &src).unwrap();
            assert_eq!(
                (b.remaining(), b.pagecount()),
                (0, 0),
                "zero before first step"
            );
            assert_eq!(b.step(2), SQLITE_OK);
            assert!(b.remaining() > 0);
            assert_eq!(
                b.finish(),
                SQLITE_OK,
                "finish after an incomplete step is OK"
            );
        }
        let mut b = RawBackup::init(&mut dst, &src).unwrap();
        let mut last = SQLITE_OK;
        while last == SQLITE_OK {
            last = b.step(10);
        }
        assert_eq!(last, SQLITE_DONE);
        assert_eq!(b.remaining(), 0);
        assert_eq!(b.step(10), SQLITE_DONE, "DONE is sticky");
        assert_eq!(b.finish(), SQLITE_OK);
        let n: i64 = dst
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 200);
    }

    #[test]
    fn init_error_carries_code_and_message() {
        // A destination with an open read transaction cannot be the target of a backup.
        let src = source(1);
        let mut dst = Connection::open_in_memory().unwrap();
        dst.execute_batch("CREATE TABLE u(a); BEGIN; SELECT * FROM u;")
            .unwrap();
        let e = RawBackup::init(&mut dst, &src)
            .err()
            .expect("init must fail");
        assert_eq!(primary(e.rc), ffi::SQLITE_ERROR);
        assert!(e.message.contains("in use"), "{}", e.message);
    }

    #[test]
    fn step_is_busy_while_the_source_connection_holds_a_write_transaction() {
        let src = source(10);
        let mut dst = Connection::open_in_memory().unwrap();
        src.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut b = RawBackup::init(&mut dst, &src).unwrap();
        assert_eq!(b.step(-1), SQLITE_BUSY);
        assert_eq!((b.remaining(), b.pagecount()), (0, 0));
        assert_eq!(
            b.finish(),
            SQLITE_BUSY,
            "finish returns the last (retryable) code"
        );
    }

    #[test]
    fn describe_rc_names_the_code() {
        assert_eq!(describe_rc(10), "rc=10 (disk I/O error)");
        assert!(is_retryable(5) && is_retryable(6) && is_retryable(517));
        assert!(!is_retryable(10) && !is_retryable(SQLITE_DONE));
    }
}
