//! `sqlite3_open`, `sqlite3_open_v2` and `sqlite3_open16`, wrapped: the fault VFS becomes the
//! default at the program's first open, then the call goes on to the program's libsqlite3.
//!
//! Why: registering a VFS initializes SQLite, and a program configures SQLite
//! (`sqlite3_config`) before that. Registered at load time, the program's configuration
//! fails (the sqlite3 shell prints a warning per call on its stdout). A program opens a
//! database only after configuring, and every open names no VFS or a VFS by name, so
//! registering just before the first open changes nothing the program set and still puts
//! every default-VFS connection through the fault VFS.
//!
//! The preloaded library comes first in the symbol search order, so the program's calls land
//! here; the real functions are the next definitions (`dlsym(RTLD_NEXT, ...)`), in the
//! libsqlite3 this library links.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// `SQLITE_ERROR`, for an open whose real function cannot be found.
const SQLITE_ERROR: c_int = 1;

/// Registers the pending fault VFS (first call only), or ends the process with the reason.
/// Never unwinds.
fn register() {
    match std::panic::catch_unwind(vfs_faults::preload::register_pending) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => crate::init::fail(&e.to_string()),
        Err(_) => crate::init::fail("panicked while registering the VFS"),
    }
}

/// The next definition of `name` after this library (the program's libsqlite3), once.
fn next(cell: &OnceLock<usize>, name: &CStr) -> Option<usize> {
    let addr = *cell.get_or_init(|| {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name only looks the symbol up.
        unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize }
    });
    (addr != 0).then_some(addr)
}

type OpenV2 = unsafe extern "C" fn(*const c_char, *mut *mut c_void, c_int, *const c_char) -> c_int;
type Open = unsafe extern "C" fn(*const c_char, *mut *mut c_void) -> c_int;
type Open16 = unsafe extern "C" fn(*const c_void, *mut *mut c_void) -> c_int;

/// # Safety
/// SQLite's contract for `sqlite3_open_v2`.
#[no_mangle]
pub unsafe extern "C" fn sqlite3_open_v2(
    filename: *const c_char,
    db: *mut *mut c_void,
    flags: c_int,
    vfs: *const c_char,
) -> c_int {
    static REAL: OnceLock<usize> = OnceLock::new();
    register();
    match next(&REAL, c"sqlite3_open_v2") {
        // SAFETY: the address is libsqlite3's sqlite3_open_v2, whose type is OpenV2; the
        // arguments are the caller's, passed on unchanged.
        Some(f) => unsafe { std::mem::transmute::<usize, OpenV2>(f)(filename, db, flags, vfs) },
        None => SQLITE_ERROR,
    }
}

/// # Safety
/// SQLite's contract for `sqlite3_open`.
#[no_mangle]
pub unsafe extern "C" fn sqlite3_open(filename: *const c_char, db: *mut *mut c_void) -> c_int {
    static REAL: OnceLock<usize> = OnceLock::new();
    register();
    match next(&REAL, c"sqlite3_open") {
        // SAFETY: as in sqlite3_open_v2, for sqlite3_open (type Open).
        Some(f) => unsafe { std::mem::transmute::<usize, Open>(f)(filename, db) },
        None => SQLITE_ERROR,
    }
}

/// # Safety
/// SQLite's contract for `sqlite3_open16`.
#[no_mangle]
pub unsafe extern "C" fn sqlite3_open16(filename: *const c_void, db: *mut *mut c_void) -> c_int {
    static REAL: OnceLock<usize> = OnceLock::new();
    register();
    match next(&REAL, c"sqlite3_open16") {
        // SAFETY: as in sqlite3_open_v2, for sqlite3_open16 (type Open16).
        Some(f) => unsafe { std::mem::transmute::<usize, Open16>(f)(filename, db) },
        None => SQLITE_ERROR,
    }
}
