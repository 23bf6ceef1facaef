//! The only module with `unsafe` code: the `sqlite3_vfs` / `sqlite3_io_methods` shim.
//!
//! SQLite talks to a VFS through C function pointers. This module registers a `sqlite3_vfs`
//! whose `pAppData` holds the instance's [`Shared`] state, and whose files are a small header
//! (`sqlite3_file` + a pointer to the safe [`FileCtx`]) followed, in the same allocation, by the
//! base VFS's own file (`szOsFile = header + base.szOsFile`). Every callback counts the
//! operation, asks the engine for a verdict only when the instance is armed, carries the verdict
//! out on the real file, and never lets a panic cross `extern "C"` (it returns an I/O error).
//! Keeping all `unsafe` here makes it auditable in one place; everything else is safe Rust.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use crate::classify;
use crate::codes::OK;
use crate::engine::{Act, FileCtx, Op, Shared, Verdict};
use crate::plan::{FileKind, OpKind};
use rusqlite::ffi as sq;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Our part of a file; the base VFS's file follows at [`HEADER`].
#[repr(C)]
pub(super) struct ShimFile {
    pub(super) base: sq::sqlite3_file,
    pub(super) ctx: *mut FileCtx,
}

pub(super) const HEADER: usize = (std::mem::size_of::<ShimFile>() + 15) & !15;

/// What `pAppData` points to (leaked: a registered VFS lives as long as the process).
struct VfsData {
    shared: Arc<Shared>,
    base: *mut sq::sqlite3_vfs,
}

pub(super) fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Registers a new VFS named `shared.name` over `base` (None = the default VFS).
pub(crate) fn register(
    shared: Arc<Shared>,
    base: Option<&str>,
    make_default: bool,
) -> Result<(), String> {
    let name = CString::new(shared.name.clone()).map_err(|_| "name contains NUL".to_string())?;
    let base_name = base
        .map(CString::new)
        .transpose()
        .map_err(|_| "base name contains NUL".to_string())?;
    // SAFETY: sqlite3_vfs_find takes NULL or a NUL-terminated string that outlives the call.
    let base_vfs =
        unsafe { sq::sqlite3_vfs_find(base_name.as_ref().map_or(ptr::null(), |c| c.as_ptr())) };
    if base_vfs.is_null() {
        return Err(format!("base VFS {base:?} not found"));
    }
    // SAFETY: as above.
    if !unsafe { sq::sqlite3_vfs_find(name.as_ptr()) }.is_null() {
        return Err("a VFS with this name is already registered".to_string());
    }
    // SAFETY: base_vfs is non-null and points to a registered VFS, never unregistered by us.
    let b = unsafe { &*base_vfs };
    let data = Box::new(VfsData {
        shared,
        base: base_vfs,
    });
    let vfs = Box::new(sq::sqlite3_vfs {
        iVersion: b.iVersion.min(3),
        szOsFile: HEADER as c_int + b.szOsFile,
        mxPathname: b.mxPathname,
        pNext: ptr::null_mut(),
        zName: name.into_raw(),
        pAppData: Box::into_raw(data).cast(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: Some(x_dl_open),
        xDlError: Some(x_dl_error),
        xDlSym: Some(x_dl_sym),
        xDlClose: Some(x_dl_close),
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: Some(x_set_system_call),
        xGetSystemCall: Some(x_get_system_call),
        xNextSystemCall: Some(x_next_system_call),
    });
    let p = Box::into_raw(vfs);
    // SAFETY: p points to a fully initialised sqlite3_vfs that is never freed.
    let rc = unsafe { sq::sqlite3_vfs_register(p, c_int::from(make_default)) };
    if rc != OK {
        return Err(format!("sqlite3_vfs_register failed: {rc}"));
    }
    Ok(())
}

/// A file of our own for the caller's marker `fd` (a duplicate: the caller may close theirs).
pub(crate) fn dup_fd(fd: i32) -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: dup takes any integer and returns a new descriptor or -1.
    let own = unsafe { libc::dup(fd) };
    // SAFETY: `own` is a descriptor we just created and nothing else owns.
    (own >= 0).then(|| unsafe { std::fs::File::from_raw_fd(own) })
}

/// Ends the process at once: no destructors, no atexit handlers, no stdio flush.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

// ---------- helpers (callers uphold: pointers come from SQLite for our VFS / our files) ----------

/// SAFETY (for callers): `vfs` must be a VFS registered by [`register`].
unsafe fn vfs_data<'a>(vfs: *mut sq::sqlite3_vfs) -> &'a VfsData {
    // SAFETY: pAppData of our VFS is a leaked Box<VfsData>.
    unsafe { &*((*vfs).pAppData as *const VfsData) }
}

/// SAFETY (for callers): `f` must be a file opened by our `x_open` with methods installed.
pub(super) unsafe fn parts<'a>(
    f: *mut sq::sqlite3_file,
) -> (
    &'a FileCtx,
    *mut sq::sqlite3_file,
    &'a sq::sqlite3_io_methods,
) {
    // SAFETY: our files are ShimFile headers with a live ctx and the real file at HEADER,
    // whose pMethods is non-null (we only install methods when the real file has them).
    unsafe {
        let shim = f as *mut ShimFile;
        let real = real_of(f);
        (&*(*shim).ctx, real, &*(*real).pMethods)
    }
}

pub(super) fn real_of(f: *mut sq::sqlite3_file) -> *mut sq::sqlite3_file {
    f.cast::<u8>().wrapping_add(HEADER).cast()
}

fn path_of(z: *const c_char) -> Option<String> {
    if z.is_null() {
        None
    } else {
        // SAFETY: SQLite passes NUL-terminated file names that outlive the call.
        Some(unsafe { CStr::from_ptr(z) }.to_string_lossy().into_owned())
    }
}

pub(super) fn file_op<'a>(
    ctx: &'a FileCtx,
    op: OpKind,
    offset: Option<i64>,
    len: Option<i64>,
) -> Op<'a> {
    Op {
        op,
        file: Some(ctx),
        kind: ctx.kind,
        path: ctx.path.as_deref(),
        offset,
        len,
        flags: 0,
    }
}

/// Counts `op`; if armed, returns the verdict to carry out.
pub(super) fn begin(ctx: &FileCtx, op: &Op<'_>) -> Option<Verdict> {
    ctx.shared.count(op.op, ctx.kind);
    if ctx.shared.armed() {
        Some(ctx.shared.decide(op))
    } else {
        None
    }
}

macro_rules! real {
    ($m:expr, $x:ident) => {
        match $m.$x {
            Some(f) => f,
            None => return sq::SQLITE_IOERR,
        }
    };
}

mod io;
mod shm;
pub(crate) mod storage;
use io::{IO_V1, IO_V2, IO_V3};

// ---------- sqlite3_vfs methods ----------

unsafe extern "C" fn x_open(
    vfs: *mut sq::sqlite3_vfs,
    z_name: sq::sqlite3_filename,
    file: *mut sq::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    guard(sq::SQLITE_CANTOPEN, || {
        // SAFETY: SQLite passes our VFS and a buffer of szOsFile bytes for the file.
        let d = unsafe { vfs_data(vfs) };
        let shim = file as *mut ShimFile;
        // SAFETY: the buffer is at least HEADER bytes and suitably aligned for sqlite3_file.
        unsafe {
            (*shim).base.pMethods = ptr::null();
            (*shim).ctx = ptr::null_mut();
        }
        let kind = classify::kind_from_flags(flags);
        let ctx = Box::into_raw(Box::new(d.shared.new_file(kind, path_of(z_name))));
        // SAFETY: ctx was just leaked from a Box and is freed below or in x_close.
        let c = unsafe { &*ctx };
        let mut op = file_op(c, OpKind::Open, None, None);
        op.flags = flags;
        let v = begin(c, &op);
        let real = real_of(file);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(code)) => *code,
            // SAFETY: base xOpen gets the base VFS and the tail of our buffer (base.szOsFile).
            _ => unsafe {
                match (*d.base).xOpen {
                    Some(open) => open(d.base, z_name, real, flags, out_flags),
                    None => sq::SQLITE_CANTOPEN,
                }
            },
        };
        // SAFETY: the real file was either zeroed/filled by the base xOpen or not touched; we
        // only read its pMethods if the base open ran.
        let real_methods = if matches!(v.as_ref().map(|v| &v.act), Some(Act::Fail(_))) {
            ptr::null()
        } else {
            unsafe { (*real).pMethods }
        };
        if !real_methods.is_null() {
            // SAFETY: real_methods is the base file's method table.
            let iv = unsafe { (*real_methods).iVersion };
            let ours: &'static sq::sqlite3_io_methods = match iv {
                1 => &IO_V1,
                2 => &IO_V2,
                _ => &IO_V3,
            };
            // SAFETY: shim points into SQLite's buffer (see above).
            unsafe {
                (*shim).base.pMethods = ours;
                (*shim).ctx = ctx;
            }
        }
        if let Some(v) = v {
            c.shared.finish(&op, v, rc);
        }
        if real_methods.is_null() {
            // SAFETY: ctx came from Box::into_raw above and is referenced nowhere else.
            drop(unsafe { Box::from_raw(ctx) });
        }
        rc
    })
}

/// Count + verdict for a VFS-level operation on a path.
fn vfs_op<'a>(
    d: &VfsData,
    op: OpKind,
    path: Option<&'a str>,
    flags: c_int,
) -> (Op<'a>, Option<Verdict>) {
    let kind = path.map_or(FileKind::Other, classify::kind_from_name);
    d.shared.count(op, kind);
    let o = Op {
        op,
        file: None,
        kind,
        path,
        offset: None,
        len: None,
        flags,
    };
    let v = if d.shared.armed() {
        Some(d.shared.decide(&o))
    } else {
        None
    };
    (o, v)
}

unsafe extern "C" fn x_delete(
    vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
    sync_dir: c_int,
) -> c_int {
    guard(sq::SQLITE_IOERR_DELETE, || {
        // SAFETY: SQLite passes our VFS.
        let d = unsafe { vfs_data(vfs) };
        let path = path_of(z);
        let (op, v) = vfs_op(d, OpKind::Delete, path.as_deref(), sync_dir);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            // SAFETY: forwarding SQLite's own arguments to the base VFS.
            _ => unsafe { real!(*d.base, xDelete)(d.base, z, sync_dir) },
        };
        if let Some(v) = v {
            d.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
    flags: c_int,
    res: *mut c_int,
) -> c_int {
    guard(sq::SQLITE_IOERR_ACCESS, || {
        // SAFETY: SQLite passes our VFS.
        let d = unsafe { vfs_data(vfs) };
        let path = path_of(z);
        let (op, v) = vfs_op(d, OpKind::Access, path.as_deref(), flags);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            // SAFETY: forwarding SQLite's own arguments to the base VFS.
            _ => unsafe { real!(*d.base, xAccess)(d.base, z, flags, res) },
        };
        if let Some(v) = v {
            d.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    guard(sq::SQLITE_IOERR, || {
        // SAFETY: SQLite passes our VFS.
        let d = unsafe { vfs_data(vfs) };
        let path = path_of(z);
        let (op, v) = vfs_op(d, OpKind::FullPathname, path.as_deref(), 0);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            // SAFETY: forwarding SQLite's own arguments to the base VFS.
            _ => unsafe { real!(*d.base, xFullPathname)(d.base, z, n, out) },
        };
        if let Some(v) = v {
            d.shared.finish(&op, v, rc);
        }
        rc
    })
}

// Plain forwards to the base VFS (not counted: not file I/O).
macro_rules! forward {
    ($vfs:expr, $x:ident, $fallback:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite passes our VFS; we forward its own arguments to the base VFS.
        unsafe {
            let d = vfs_data($vfs);
            match (*d.base).$x {
                Some(f) => f(d.base $(, $arg)*),
                None => $fallback,
            }
        }
    }};
}

unsafe extern "C" fn x_dl_open(vfs: *mut sq::sqlite3_vfs, z: *const c_char) -> *mut c_void {
    forward!(vfs, xDlOpen, ptr::null_mut(), z)
}
unsafe extern "C" fn x_dl_error(vfs: *mut sq::sqlite3_vfs, n: c_int, z: *mut c_char) {
    forward!(vfs, xDlError, (), n, z)
}
type DlSym = Option<unsafe extern "C" fn(*mut sq::sqlite3_vfs, *mut c_void, *const c_char)>;
unsafe extern "C" fn x_dl_sym(
    vfs: *mut sq::sqlite3_vfs,
    h: *mut c_void,
    z: *const c_char,
) -> DlSym {
    forward!(vfs, xDlSym, None, h, z)
}
unsafe extern "C" fn x_dl_close(vfs: *mut sq::sqlite3_vfs, h: *mut c_void) {
    forward!(vfs, xDlClose, (), h)
}
unsafe extern "C" fn x_randomness(vfs: *mut sq::sqlite3_vfs, n: c_int, z: *mut c_char) -> c_int {
    forward!(vfs, xRandomness, 0, n, z)
}
unsafe extern "C" fn x_sleep(vfs: *mut sq::sqlite3_vfs, us: c_int) -> c_int {
    forward!(vfs, xSleep, 0, us)
}
unsafe extern "C" fn x_current_time(vfs: *mut sq::sqlite3_vfs, t: *mut f64) -> c_int {
    forward!(vfs, xCurrentTime, sq::SQLITE_ERROR, t)
}
unsafe extern "C" fn x_get_last_error(
    vfs: *mut sq::sqlite3_vfs,
    n: c_int,
    z: *mut c_char,
) -> c_int {
    forward!(vfs, xGetLastError, 0, n, z)
}
unsafe extern "C" fn x_current_time_int64(
    vfs: *mut sq::sqlite3_vfs,
    t: *mut sq::sqlite3_int64,
) -> c_int {
    forward!(vfs, xCurrentTimeInt64, sq::SQLITE_ERROR, t)
}
unsafe extern "C" fn x_set_system_call(
    vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
    p: sq::sqlite3_syscall_ptr,
) -> c_int {
    forward!(vfs, xSetSystemCall, sq::SQLITE_NOTFOUND, z, p)
}
unsafe extern "C" fn x_get_system_call(
    vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
) -> sq::sqlite3_syscall_ptr {
    forward!(vfs, xGetSystemCall, None, z)
}
unsafe extern "C" fn x_next_system_call(
    vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
) -> *const c_char {
    forward!(vfs, xNextSystemCall, ptr::null(), z)
}

/// `SQLITE_FCNTL_VFSNAME` of schema `db` ("main") of `conn`: which VFS its file goes through.
pub(crate) fn vfs_name(conn: &rusqlite::Connection, db: &str) -> Option<String> {
    let db = CString::new(db).ok()?;
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: the handle is live for the borrow of `conn`; VFSNAME writes a `char *` allocated
    // with sqlite3_malloc (or nothing) into `out`, which we copy and free exactly once.
    unsafe {
        let rc = sq::sqlite3_file_control(
            conn.handle(),
            db.as_ptr(),
            sq::SQLITE_FCNTL_VFSNAME,
            (&mut out as *mut *mut c_char).cast(),
        );
        if rc != OK || out.is_null() {
            return None;
        }
        let name = CStr::from_ptr(out).to_string_lossy().into_owned();
        sq::sqlite3_free(out.cast());
        Some(name)
    }
}
