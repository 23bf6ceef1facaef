//! The `sqlite3_io_methods` half of the shim (see the parent module for the rules).
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use super::*;

pub(super) static IO_V1: sq::sqlite3_io_methods = methods(1);
pub(super) static IO_V2: sq::sqlite3_io_methods = methods(2);
pub(super) static IO_V3: sq::sqlite3_io_methods = methods(3);

const fn methods(v: c_int) -> sq::sqlite3_io_methods {
    sq::sqlite3_io_methods {
        iVersion: v,
        xClose: Some(x_close),
        xRead: Some(x_read),
        xWrite: Some(x_write),
        xTruncate: Some(x_truncate),
        xSync: Some(x_sync),
        xFileSize: Some(x_file_size),
        xLock: Some(x_lock),
        xUnlock: Some(x_unlock),
        xCheckReservedLock: Some(x_check_reserved_lock),
        xFileControl: Some(x_file_control),
        xSectorSize: Some(x_sector_size),
        xDeviceCharacteristics: Some(x_device_characteristics),
        xShmMap: Some(x_shm_map),
        xShmLock: Some(x_shm_lock),
        xShmBarrier: Some(x_shm_barrier),
        xShmUnmap: Some(x_shm_unmap),
        xFetch: Some(x_fetch),
        xUnfetch: Some(x_unfetch),
    }
}

// ---------- sqlite3_io_methods ----------

unsafe extern "C" fn x_close(f: *mut sq::sqlite3_file) -> c_int {
    guard(sq::SQLITE_IOERR_CLOSE, || {
        // SAFETY: SQLite calls xClose only on files whose methods we installed.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::Close, None, None);
        let v = begin(ctx, &op);
        // SAFETY: closing the base file exactly once.
        let real_rc = unsafe { real!(m, xClose)(real) };
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            _ => real_rc,
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        // SAFETY: ctx is the Box leaked in x_open; after this the file is gone.
        unsafe {
            let shim = f as *mut ShimFile;
            drop(Box::from_raw((*shim).ctx));
            (*shim).ctx = ptr::null_mut();
        }
        rc
    })
}

/// Reads what `[off, off+len)` holds now and the file size, for the power-cut undo log.
/// `truncate`: the operation sets the size to `off` (else it writes `len` bytes at `off`).
fn record_undo(
    ctx: &FileCtx,
    real: *mut sq::sqlite3_file,
    m: &sq::sqlite3_io_methods,
    off: i64,
    len: i64,
    truncate: bool,
) {
    let mut size: sq::sqlite3_int64 = 0;
    // SAFETY: real is the base file, open; the out-pointers point to live locals.
    unsafe {
        if let Some(fs) = m.xFileSize {
            if fs(real, &mut size) != OK {
                return;
            }
        }
        if ctx.sector.load(Relaxed) == 0 {
            if let Some(ss) = m.xSectorSize {
                ctx.sector.store(ss(real).max(512) as u32, Relaxed);
            }
            if let Some(dc) = m.xDeviceCharacteristics {
                let psow = dc(real) & sq::SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0;
                ctx.psow.store(psow, Relaxed);
            }
        }
    }
    let end = (off + len).min(size);
    let mut old = vec![0u8; (end - off).max(0) as usize];
    if !old.is_empty() {
        if let Some(rd) = m.xRead {
            // SAFETY: old has exactly old.len() bytes.
            let rc = unsafe { rd(real, old.as_mut_ptr().cast(), old.len() as c_int, off) };
            if rc != OK && rc != sq::SQLITE_IOERR_SHORT_READ {
                return;
            }
        }
    }
    let new_size = if truncate {
        off
    } else {
        size.max(off.saturating_add(len))
    };
    ctx.shared.record_undo(
        ctx,
        off.max(0) as u64,
        old,
        size.max(0) as u64,
        new_size.max(0) as u64,
    );
}

unsafe extern "C" fn x_read(
    f: *mut sq::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    off: sq::sqlite3_int64,
) -> c_int {
    guard(sq::SQLITE_IOERR_READ, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::Read, Some(off), Some(amt.into()));
        let v = begin(ctx, &op);
        let read = real!(m, xRead);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => {
                if *c == sq::SQLITE_IOERR_SHORT_READ {
                    // SAFETY: SQLite's contract: a short read zero-fills buf (amt bytes).
                    unsafe { ptr::write_bytes(buf.cast::<u8>(), 0, amt.max(0) as usize) };
                }
                *c
            }
            Some(Act::ShortRead { keep }) => {
                let k = (*keep).min(amt as u64) as c_int;
                // SAFETY: buf has amt bytes (SQLite's contract); k <= amt.
                let rc = if k > 0 {
                    unsafe { read(real, buf, k, off) }
                } else {
                    OK
                };
                if rc != OK && rc != sq::SQLITE_IOERR_SHORT_READ {
                    rc
                } else {
                    // SAFETY: zero the tail [k, amt) of the caller's buffer.
                    unsafe {
                        ptr::write_bytes(buf.cast::<u8>().add(k as usize), 0, (amt - k) as usize)
                    };
                    sq::SQLITE_IOERR_SHORT_READ
                }
            }
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { read(real, buf, amt, off) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_write(
    f: *mut sq::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    off: sq::sqlite3_int64,
) -> c_int {
    guard(sq::SQLITE_IOERR_WRITE, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::Write, Some(off), Some(amt.into()));
        let v = begin(ctx, &op);
        let write = real!(m, xWrite);
        if v.as_ref().is_some_and(|v| v.record_undo) {
            record_undo(ctx, real, m, off, amt.into(), false);
        }
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            Some(Act::Lost) => OK,
            Some(Act::Torn {
                keep_sectors,
                keep_bytes,
                then,
            }) => {
                // SAFETY: real is the open base file.
                let sector = m.xSectorSize.map_or(4096, |s| unsafe { s(real) }).max(512) as u64;
                let n = keep_bytes
                    .unwrap_or(u64::from(*keep_sectors) * sector)
                    .min(amt as u64) as c_int;
                // SAFETY: buf has amt bytes; n <= amt.
                let rc = if n > 0 {
                    unsafe { write(real, buf, n, off) }
                } else {
                    OK
                };
                if rc != OK {
                    rc
                } else {
                    *then
                }
            }
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { write(real, buf, amt, off) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_truncate(f: *mut sq::sqlite3_file, size: sq::sqlite3_int64) -> c_int {
    guard(sq::SQLITE_IOERR_TRUNCATE, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::Truncate, Some(size), None);
        let v = begin(ctx, &op);
        if v.as_ref().is_some_and(|v| v.record_undo) {
            record_undo(ctx, real, m, size, i64::MAX - size, true);
        }
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            Some(Act::Lost) => OK,
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { real!(m, xTruncate)(real, size) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_sync(f: *mut sq::sqlite3_file, flags: c_int) -> c_int {
    guard(sq::SQLITE_IOERR_FSYNC, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let mut op = file_op(ctx, OpKind::Sync, None, None);
        op.flags = flags;
        let v = begin(ctx, &op);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            Some(Act::Lost) => OK,
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { real!(m, xSync)(real, flags) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

/// The common shape: count, verdict, `Fail` → code, otherwise call the base method.
macro_rules! simple {
    ($f:expr, $op:expr, $fallback:expr, $x:ident $(, $arg:expr)*) => {
        guard($fallback, || {
            // SAFETY: f is one of our open files.
            let (ctx, real, m) = unsafe { parts($f) };
            let op = file_op(ctx, $op, None, None);
            let v = begin(ctx, &op);
            let rc = match v.as_ref().map(|v| &v.act) {
                Some(Act::Fail(c)) => *c,
                // SAFETY: forwarding SQLite's arguments to the base file.
                _ => unsafe { real!(m, $x)(real $(, $arg)*) },
            };
            if let Some(v) = v {
                ctx.shared.finish(&op, v, rc);
            }
            rc
        })
    };
}

unsafe extern "C" fn x_file_size(f: *mut sq::sqlite3_file, size: *mut sq::sqlite3_int64) -> c_int {
    simple!(f, OpKind::FileSize, sq::SQLITE_IOERR_FSTAT, xFileSize, size)
}
unsafe extern "C" fn x_lock(f: *mut sq::sqlite3_file, level: c_int) -> c_int {
    simple!(f, OpKind::Lock, sq::SQLITE_IOERR_LOCK, xLock, level)
}
unsafe extern "C" fn x_check_reserved_lock(f: *mut sq::sqlite3_file, res: *mut c_int) -> c_int {
    simple!(
        f,
        OpKind::CheckReservedLock,
        sq::SQLITE_IOERR_CHECKRESERVEDLOCK,
        xCheckReservedLock,
        res
    )
}

unsafe extern "C" fn x_unlock(f: *mut sq::sqlite3_file, level: c_int) -> c_int {
    guard(sq::SQLITE_IOERR_UNLOCK, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::Unlock, None, Some(level.into()));
        let v = begin(ctx, &op);
        // The lock is always released (a held lock would wedge other connections); an
        // injected error only changes what SQLite is told.
        // SAFETY: forwarding SQLite's arguments to the base file.
        let real_rc = unsafe { real!(m, xUnlock)(real, level) };
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            _ => real_rc,
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_file_control(
    f: *mut sq::sqlite3_file,
    op_code: c_int,
    arg: *mut c_void,
) -> c_int {
    guard(sq::SQLITE_IOERR, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::FileControl, None, Some(op_code.into()));
        let v = begin(ctx, &op);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            _ if op_code == sq::SQLITE_FCNTL_VFSNAME => {
                let name = ctx.shared.name.as_bytes();
                // SAFETY: sqlite3_malloc64 returns NULL or name.len()+1 writable bytes; SQLite
                // frees the answer with sqlite3_free; arg points to a `char *` for this opcode.
                unsafe {
                    let p = sq::sqlite3_malloc64(name.len() as u64 + 1).cast::<u8>();
                    if p.is_null() {
                        sq::SQLITE_NOMEM
                    } else {
                        ptr::copy_nonoverlapping(name.as_ptr(), p, name.len());
                        *p.add(name.len()) = 0;
                        *(arg as *mut *mut c_char) = p.cast();
                        OK
                    }
                }
            }
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { real!(m, xFileControl)(real, op_code, arg) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

/// Sector size / device characteristics: counted and traced, never failed.
fn info(f: *mut sq::sqlite3_file, op: OpKind) -> c_int {
    guard(4096, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let o = file_op(ctx, op, None, None);
        let v = begin(ctx, &o);
        let x = if op == OpKind::SectorSize {
            m.xSectorSize
        } else {
            m.xDeviceCharacteristics
        };
        // SAFETY: forwarding to the base file.
        let r = x.map_or(
            if op == OpKind::SectorSize { 4096 } else { 0 },
            |x| unsafe { x(real) },
        );
        if let Some(v) = v {
            ctx.shared.finish(&o, v, r);
        }
        r
    })
}
unsafe extern "C" fn x_sector_size(f: *mut sq::sqlite3_file) -> c_int {
    info(f, OpKind::SectorSize)
}
unsafe extern "C" fn x_device_characteristics(f: *mut sq::sqlite3_file) -> c_int {
    info(f, OpKind::DeviceCharacteristics)
}

unsafe extern "C" fn x_shm_map(
    f: *mut sq::sqlite3_file,
    pg: c_int,
    pgsz: c_int,
    extend: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    guard(sq::SQLITE_IOERR_SHMMAP, || {
        // SAFETY: f is one of our open files (iVersion >= 2, so the base has xShmMap).
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::ShmMap, Some(pg.into()), Some(pgsz.into()));
        let v = begin(ctx, &op);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => {
                // SAFETY: pp is SQLite's out-pointer.
                unsafe { *pp = ptr::null_mut() };
                *c
            }
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { real!(m, xShmMap)(real, pg, pgsz, extend, pp) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_shm_lock(
    f: *mut sq::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    guard(sq::SQLITE_IOERR_SHMLOCK, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::ShmLock, Some(offset.into()), Some(n.into()));
        let v = begin(ctx, &op);
        let unlock = flags & sq::SQLITE_SHM_UNLOCK != 0;
        let rc = match v.as_ref().map(|v| (&v.act, v.dead)) {
            Some((Act::Fail(c), dead)) if !(dead && unlock) => *c,
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { real!(m, xShmLock)(real, offset, n, flags) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_shm_barrier(f: *mut sq::sqlite3_file) {
    guard((), || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::ShmBarrier, None, None);
        let v = begin(ctx, &op);
        if let Some(b) = m.xShmBarrier {
            // SAFETY: forwarding to the base file.
            unsafe { b(real) };
        }
        if let Some(v) = v {
            ctx.shared.finish(&op, v, OK);
        }
    })
}

unsafe extern "C" fn x_shm_unmap(f: *mut sq::sqlite3_file, delete: c_int) -> c_int {
    guard(sq::SQLITE_IOERR, || {
        // SAFETY: f is one of our open files.
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::ShmUnmap, None, Some(delete.into()));
        let v = begin(ctx, &op);
        let dead = v.as_ref().is_some_and(|v| v.dead);
        let del = if dead { 0 } else { delete };
        // SAFETY: forwarding to the base file; the mapping is always released.
        let real_rc = unsafe { real!(m, xShmUnmap)(real, del) };
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => *c,
            _ => real_rc,
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_fetch(
    f: *mut sq::sqlite3_file,
    off: sq::sqlite3_int64,
    amt: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    guard(sq::SQLITE_IOERR_READ, || {
        // SAFETY: f is one of our open files (iVersion 3).
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::Fetch, Some(off), Some(amt.into()));
        let v = begin(ctx, &op);
        let rc = match v.as_ref().map(|v| &v.act) {
            Some(Act::Fail(c)) => {
                // SAFETY: pp is SQLite's out-pointer.
                unsafe { *pp = ptr::null_mut() };
                *c
            }
            // SAFETY: forwarding SQLite's arguments to the base file.
            _ => unsafe { real!(m, xFetch)(real, off, amt, pp) },
        };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}

unsafe extern "C" fn x_unfetch(
    f: *mut sq::sqlite3_file,
    off: sq::sqlite3_int64,
    p: *mut c_void,
) -> c_int {
    guard(sq::SQLITE_IOERR, || {
        // SAFETY: f is one of our open files (iVersion 3).
        let (ctx, real, m) = unsafe { parts(f) };
        let op = file_op(ctx, OpKind::Unfetch, Some(off), None);
        let v = begin(ctx, &op);
        // SAFETY: forwarding; a fetched page must always be released.
        let rc = unsafe { real!(m, xUnfetch)(real, off, p) };
        if let Some(v) = v {
            ctx.shared.finish(&op, v, rc);
        }
        rc
    })
}
