//! The `sqlite3_vfs` / `sqlite3_io_methods` callbacks of [`crate::storage`]: a VFS whose files
//! are `Box<dyn StoredFile>`s. Each file is a small `#[repr(C)]` header (`sqlite3_file` first,
//! then the boxed [`Open`] file and the lock level); `pAppData` holds the [`Storage`]. Every
//! callback catches panics and turns errors into the SQLite code of its operation.
//!
//! Shared memory, for a storage that offers it ([`Storage::shared_memory`]), is in
//! [`super::shm`].

use super::guard;
use super::shm::{shm_detach, x_shm_barrier, x_shm_lock, x_shm_map, x_shm_unmap, ShmConn};
use crate::classify;
use crate::storage::{OpenRequest, Storage, StorageError, StoredFile};
use rusqlite::ffi as sq;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::{Arc, Mutex};

/// What `pAppData` points to (leaked: a registered VFS lives as long as the process).
struct StorageVfs {
    /// `None` once retired: opens fail, nothing is kept alive.
    storage: Mutex<Option<Arc<dyn Storage>>>,
    /// The default VFS at registration: randomness, sleep and time come from it.
    default: *mut sq::sqlite3_vfs,
}

/// One open file.
#[repr(C)]
struct Handle {
    base: sq::sqlite3_file,
    file: *mut Open,
    lock: c_int,
}

/// What an open file holds.
pub(super) struct Open {
    pub(super) file: Box<dyn StoredFile>,
    /// (VFS, path) of its shared memory, when the storage offers shared memory.
    pub(super) shm_key: Option<(usize, String)>,
    /// Its connection to that shared memory once mapped.
    pub(super) shm: Option<ShmConn>,
    /// `SQLITE_FCNTL_PERSIST_WAL`.
    persist_wal: bool,
}

const OPEN_DELETEONCLOSE: c_int = 0x0000_0008;
const MAX_PATH: c_int = 1024;

static METHODS: sq::sqlite3_io_methods = sq::sqlite3_io_methods {
    iVersion: 1,
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
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// [`METHODS`] for a storage with shared memory, laid out as the unix VFS's (version 3): the
/// pager then asks these files what it asks real ones. Memory mapping is never on (`xFetch`
/// hands out no page, as the unix VFS does with `mmap_size` 0), and the two file controls the
/// pager sends every file are answered as the unix VFS answers them.
static METHODS_SHM: sq::sqlite3_io_methods = sq::sqlite3_io_methods {
    iVersion: 3,
    xFileControl: Some(x_file_control_unix),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch_none),
    xUnfetch: Some(x_unfetch_none),
    ..METHODS
};

/// Registers the VFS `name` over `storage`.
pub(crate) fn register(name: &str, storage: Arc<dyn Storage>) -> Result<(), String> {
    let cname = CString::new(name).map_err(|_| "name contains NUL".to_string())?;
    // SAFETY: sqlite3_vfs_find takes NULL or a NUL-terminated string that outlives the call.
    if !unsafe { sq::sqlite3_vfs_find(cname.as_ptr()) }.is_null() {
        return Err(format!("a VFS named `{name}` is already registered"));
    }
    // SAFETY: as above; NULL asks for the default VFS.
    let default = unsafe { sq::sqlite3_vfs_find(ptr::null()) };
    if default.is_null() {
        return Err("no default VFS".to_string());
    }
    let data = Box::new(StorageVfs {
        storage: Mutex::new(Some(storage)),
        default,
    });
    let vfs = Box::new(sq::sqlite3_vfs {
        iVersion: 2,
        szOsFile: std::mem::size_of::<Handle>() as c_int,
        mxPathname: MAX_PATH,
        pNext: ptr::null_mut(),
        zName: cname.into_raw(),
        pAppData: Box::into_raw(data).cast(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: None,
        xDlError: None,
        xDlSym: None,
        xDlClose: None,
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    });
    // SAFETY: the VFS struct is fully initialised and leaked (never freed).
    let rc = unsafe { sq::sqlite3_vfs_register(Box::into_raw(vfs), 0) };
    if rc != sq::SQLITE_OK {
        return Err(format!("sqlite3_vfs_register failed: {rc}"));
    }
    Ok(())
}

/// Takes the VFS `name` out of SQLite's list and drops its storage. The small registration
/// record stays allocated (a connection still open on it may hold its pointer); files still open
/// keep working on what they hold.
pub(crate) fn retire(name: &str) -> Result<(), String> {
    let cname = CString::new(name).map_err(|_| "name contains NUL".to_string())?;
    // SAFETY: sqlite3_vfs_find takes a NUL-terminated string that outlives the call.
    let vfs = unsafe { sq::sqlite3_vfs_find(cname.as_ptr()) };
    if vfs.is_null() {
        return Err(format!("no VFS named `{name}`"));
    }
    // SAFETY: a registered VFS is a valid sqlite3_vfs; ours are recognised by their xOpen.
    let ours = unsafe { (*vfs).xOpen }.is_some_and(|f| std::ptr::fn_addr_eq(f, x_open as OpenFn));
    if !ours {
        return Err(format!("`{name}` is not a storage VFS"));
    }
    // SAFETY: vfs is registered; unregistering leaves the struct itself alone.
    unsafe { sq::sqlite3_vfs_unregister(vfs) };
    // SAFETY: ours, so pAppData is a leaked Box<StorageVfs>.
    let d = unsafe { data(vfs) };
    d.storage.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok(())
}

type OpenFn = unsafe extern "C" fn(
    *mut sq::sqlite3_vfs,
    sq::sqlite3_filename,
    *mut sq::sqlite3_file,
    c_int,
    *mut c_int,
) -> c_int;

impl StorageVfs {
    fn storage(&self) -> Option<Arc<dyn Storage>> {
        self.storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// SAFETY (for callers): `vfs` must be a VFS registered by [`register`].
unsafe fn data<'a>(vfs: *mut sq::sqlite3_vfs) -> &'a StorageVfs {
    // SAFETY: pAppData of our VFS is a leaked Box<StorageVfs>.
    unsafe { &*((*vfs).pAppData as *const StorageVfs) }
}

/// SAFETY (for callers): `f` must be a file opened by [`x_open`] and not yet closed.
unsafe fn handle<'a>(f: *mut sq::sqlite3_file) -> &'a mut Handle {
    // SAFETY: our files are Handles (szOsFile bytes) with a live boxed file.
    unsafe { &mut *(f as *mut Handle) }
}

/// SAFETY (for callers): as for [`handle`].
pub(super) unsafe fn open_of<'a>(f: *mut sq::sqlite3_file) -> &'a mut Open {
    // SAFETY: Handle::file is the Box leaked by x_open, freed only by x_close.
    unsafe { &mut *handle(f).file }
}

/// SAFETY (for callers): as for [`handle`].
unsafe fn stored<'a>(f: *mut sq::sqlite3_file) -> &'a mut Box<dyn StoredFile> {
    // SAFETY: as for open_of.
    unsafe { &mut open_of(f).file }
}

fn path_of(z: *const c_char) -> Option<String> {
    if z.is_null() {
        None
    } else {
        // SAFETY: SQLite passes NUL-terminated file names that outlive the call.
        Some(unsafe { CStr::from_ptr(z) }.to_string_lossy().into_owned())
    }
}

fn code(e: &StorageError, io: c_int) -> c_int {
    match e {
        StorageError::Io(_) => io,
        StorageError::Full => sq::SQLITE_FULL,
        StorageError::CantOpen(_) => sq::SQLITE_CANTOPEN,
    }
}

fn rc_of(r: Result<(), StorageError>, io: c_int) -> c_int {
    match r {
        Ok(()) => sq::SQLITE_OK,
        Err(e) => code(&e, io),
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut sq::sqlite3_vfs,
    z_name: sq::sqlite3_filename,
    file: *mut sq::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    guard(sq::SQLITE_CANTOPEN, || {
        // SAFETY: SQLite passes our VFS and a buffer of szOsFile bytes for the file.
        let d = unsafe { data(vfs) };
        let h = file as *mut Handle;
        // SAFETY: the buffer holds a Handle; no methods until the open succeeded.
        unsafe { (*h).base.pMethods = ptr::null() };
        let req = OpenRequest {
            path: path_of(z_name),
            kind: classify::kind_from_flags(flags),
            create: flags & classify::OPEN_CREATE != 0,
            delete_on_close: flags & OPEN_DELETEONCLOSE != 0,
        };
        let Some(storage) = d.storage() else {
            return sq::SQLITE_CANTOPEN;
        };
        let shm_key = match &req.path {
            Some(p) if storage.shared_memory() => Some((vfs as usize, p.clone())),
            _ => None,
        };
        let methods = if shm_key.is_some() {
            &METHODS_SHM
        } else {
            &METHODS
        };
        match storage.open(&req) {
            Ok(file) => {
                let open = Open {
                    file,
                    shm_key,
                    shm: None,
                    persist_wal: false,
                };
                // SAFETY: as above; the boxed file is freed in x_close.
                unsafe {
                    (*h).file = Box::into_raw(Box::new(open));
                    (*h).lock = sq::SQLITE_LOCK_NONE;
                    (*h).base.pMethods = methods;
                    if !out_flags.is_null() {
                        *out_flags = flags;
                    }
                }
                sq::SQLITE_OK
            }
            Err(e) => code(&e, sq::SQLITE_CANTOPEN),
        }
    })
}

unsafe extern "C" fn x_delete(vfs: *mut sq::sqlite3_vfs, z: *const c_char, _sync: c_int) -> c_int {
    guard(sq::SQLITE_IOERR_DELETE, || {
        // SAFETY: SQLite passes our VFS.
        let d = unsafe { data(vfs) };
        let Some(storage) = d.storage() else {
            return sq::SQLITE_IOERR_DELETE;
        };
        match path_of(z) {
            Some(p) => match storage.delete(&p) {
                Ok(()) => sq::SQLITE_OK,
                Err(_) if !storage.exists(&p) => sq::SQLITE_IOERR_DELETE_NOENT,
                Err(e) => code(&e, sq::SQLITE_IOERR_DELETE),
            },
            None => sq::SQLITE_IOERR_DELETE,
        }
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
    _flags: c_int,
    out: *mut c_int,
) -> c_int {
    guard(sq::SQLITE_IOERR_ACCESS, || {
        // SAFETY: SQLite passes our VFS and a valid out pointer.
        let d = unsafe { data(vfs) };
        let exists = match (d.storage(), path_of(z)) {
            (Some(s), Some(p)) => s.exists(&p),
            _ => false,
        };
        // SAFETY: as above.
        unsafe { *out = c_int::from(exists) };
        sq::SQLITE_OK
    })
}

unsafe extern "C" fn x_full_pathname(
    _vfs: *mut sq::sqlite3_vfs,
    z: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    guard(sq::SQLITE_CANTOPEN, || {
        let Some(path) = path_of(z) else {
            return sq::SQLITE_CANTOPEN;
        };
        let full = if path.starts_with('/') {
            path
        } else {
            match std::env::current_dir() {
                Ok(cwd) => cwd.join(&path).to_string_lossy().into_owned(),
                Err(_) => return sq::SQLITE_CANTOPEN,
            }
        };
        let bytes = full.as_bytes();
        if bytes.len() + 1 > usize::try_from(n).unwrap_or(0) || bytes.contains(&0) {
            return sq::SQLITE_CANTOPEN;
        }
        // SAFETY: `out` has room for n bytes, and bytes.len() + 1 <= n.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), bytes.len());
            *out.add(bytes.len()) = 0;
        }
        sq::SQLITE_OK
    })
}

// Randomness, sleep and time: the default VFS's.
macro_rules! from_default {
    ($vfs:expr, $x:ident, $fallback:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite passes our VFS; the default VFS gets SQLite's own arguments.
        unsafe {
            let d = data($vfs);
            match (*d.default).$x {
                Some(f) => f(d.default $(, $arg)*),
                None => $fallback,
            }
        }
    }};
}

unsafe extern "C" fn x_randomness(vfs: *mut sq::sqlite3_vfs, n: c_int, z: *mut c_char) -> c_int {
    from_default!(vfs, xRandomness, 0, n, z)
}
unsafe extern "C" fn x_sleep(vfs: *mut sq::sqlite3_vfs, us: c_int) -> c_int {
    from_default!(vfs, xSleep, 0, us)
}
unsafe extern "C" fn x_current_time(vfs: *mut sq::sqlite3_vfs, t: *mut f64) -> c_int {
    from_default!(vfs, xCurrentTime, sq::SQLITE_ERROR, t)
}
unsafe extern "C" fn x_get_last_error(
    vfs: *mut sq::sqlite3_vfs,
    n: c_int,
    z: *mut c_char,
) -> c_int {
    from_default!(vfs, xGetLastError, 0, n, z)
}
unsafe extern "C" fn x_current_time_int64(vfs: *mut sq::sqlite3_vfs, t: *mut i64) -> c_int {
    from_default!(vfs, xCurrentTimeInt64, sq::SQLITE_ERROR, t)
}

// ---------- file methods ----------

unsafe extern "C" fn x_close(f: *mut sq::sqlite3_file) -> c_int {
    guard(sq::SQLITE_IOERR_CLOSE, || {
        // SAFETY: SQLite closes each file it opened through us once.
        let h = unsafe { handle(f) };
        if h.file.is_null() {
            return sq::SQLITE_OK;
        }
        // SAFETY: the Box leaked by x_open; nulled so it is freed once.
        let mut open = unsafe { Box::from_raw(h.file) };
        h.file = ptr::null_mut();
        shm_detach(&mut open);
        rc_of(open.file.close(), sq::SQLITE_IOERR_CLOSE)
    })
}

unsafe extern "C" fn x_read(
    f: *mut sq::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    off: i64,
) -> c_int {
    guard(sq::SQLITE_IOERR_READ, || {
        let len = usize::try_from(amt).unwrap_or(0);
        // SAFETY: SQLite passes a buffer of `amt` bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        // SAFETY: `f` is one of our open files.
        let file = unsafe { stored(f) };
        match file.read(buf, u64::try_from(off).unwrap_or(0)) {
            Ok(n) if n >= len => sq::SQLITE_OK,
            Ok(n) => {
                buf[n..].fill(0);
                sq::SQLITE_IOERR_SHORT_READ
            }
            Err(e) => code(&e, sq::SQLITE_IOERR_READ),
        }
    })
}

unsafe extern "C" fn x_write(
    f: *mut sq::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    off: i64,
) -> c_int {
    guard(sq::SQLITE_IOERR_WRITE, || {
        let len = usize::try_from(amt).unwrap_or(0);
        // SAFETY: SQLite passes a buffer of `amt` bytes.
        let buf = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        // SAFETY: `f` is one of our open files.
        let file = unsafe { stored(f) };
        rc_of(
            file.write(buf, u64::try_from(off).unwrap_or(0)),
            sq::SQLITE_IOERR_WRITE,
        )
    })
}

unsafe extern "C" fn x_truncate(f: *mut sq::sqlite3_file, size: i64) -> c_int {
    guard(sq::SQLITE_IOERR_TRUNCATE, || {
        // SAFETY: `f` is one of our open files.
        let file = unsafe { stored(f) };
        rc_of(
            file.truncate(u64::try_from(size).unwrap_or(0)),
            sq::SQLITE_IOERR_TRUNCATE,
        )
    })
}

unsafe extern "C" fn x_sync(f: *mut sq::sqlite3_file, _flags: c_int) -> c_int {
    guard(sq::SQLITE_IOERR_FSYNC, || {
        // SAFETY: `f` is one of our open files.
        let file = unsafe { stored(f) };
        rc_of(file.sync(), sq::SQLITE_IOERR_FSYNC)
    })
}

unsafe extern "C" fn x_file_size(f: *mut sq::sqlite3_file, out: *mut i64) -> c_int {
    guard(sq::SQLITE_IOERR_FSTAT, || {
        // SAFETY: `f` is one of our open files.
        let file = unsafe { stored(f) };
        match file.size() {
            Ok(n) => {
                // SAFETY: SQLite passes a valid out pointer.
                unsafe { *out = i64::try_from(n).unwrap_or(i64::MAX) };
                sq::SQLITE_OK
            }
            Err(e) => code(&e, sq::SQLITE_IOERR_FSTAT),
        }
    })
}

unsafe extern "C" fn x_lock(f: *mut sq::sqlite3_file, level: c_int) -> c_int {
    guard(sq::SQLITE_IOERR_LOCK, || {
        // SAFETY: `f` is one of our open files.
        let h = unsafe { handle(f) };
        h.lock = h.lock.max(level);
        sq::SQLITE_OK
    })
}

unsafe extern "C" fn x_unlock(f: *mut sq::sqlite3_file, level: c_int) -> c_int {
    guard(sq::SQLITE_IOERR_UNLOCK, || {
        // SAFETY: `f` is one of our open files.
        let h = unsafe { handle(f) };
        h.lock = h.lock.min(level);
        sq::SQLITE_OK
    })
}

unsafe extern "C" fn x_check_reserved_lock(_f: *mut sq::sqlite3_file, out: *mut c_int) -> c_int {
    // One connection per database: nobody else can hold RESERVED.
    // SAFETY: SQLite passes a valid out pointer.
    unsafe { *out = 0 };
    sq::SQLITE_OK
}

unsafe extern "C" fn x_file_control(
    _f: *mut sq::sqlite3_file,
    _op: c_int,
    _arg: *mut c_void,
) -> c_int {
    sq::SQLITE_NOTFOUND
}

unsafe extern "C" fn x_file_control_unix(
    f: *mut sq::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    guard(sq::SQLITE_IOERR, || match op {
        // No preallocation (the unix VFS's without a chunk size): nothing to do.
        sq::SQLITE_FCNTL_SIZE_HINT => sq::SQLITE_OK,
        // Keep the WAL at close or not: negative asks, otherwise sets.
        sq::SQLITE_FCNTL_PERSIST_WAL if !arg.is_null() => {
            // SAFETY: `f` is one of our open files.
            let open = unsafe { open_of(f) };
            // SAFETY: for this op SQLite passes a pointer to an int.
            let v = unsafe { &mut *arg.cast::<c_int>() };
            if *v < 0 {
                *v = c_int::from(open.persist_wal);
            } else {
                open.persist_wal = *v != 0;
            }
            sq::SQLITE_OK
        }
        // The current mmap limit, which stays 0: no file is ever mapped.
        sq::SQLITE_FCNTL_MMAP_SIZE if !arg.is_null() => {
            // SAFETY: for this op SQLite passes a pointer to an i64.
            unsafe { *arg.cast::<i64>() = 0 };
            sq::SQLITE_OK
        }
        // A file in memory is never renamed or unlinked under an open handle.
        sq::SQLITE_FCNTL_HAS_MOVED if !arg.is_null() => {
            // SAFETY: for this op SQLite passes a pointer to an int.
            unsafe { *arg.cast::<c_int>() = 0 };
            sq::SQLITE_OK
        }
        _ => sq::SQLITE_NOTFOUND,
    })
}

unsafe extern "C" fn x_fetch_none(
    _f: *mut sq::sqlite3_file,
    _off: sq::sqlite3_int64,
    _amt: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes its out-pointer: no page, read it instead.
    unsafe { *pp = ptr::null_mut() };
    sq::SQLITE_OK
}

unsafe extern "C" fn x_unfetch_none(
    _f: *mut sq::sqlite3_file,
    _off: sq::sqlite3_int64,
    _p: *mut c_void,
) -> c_int {
    sq::SQLITE_OK
}

unsafe extern "C" fn x_sector_size(_f: *mut sq::sqlite3_file) -> c_int {
    4096
}

unsafe extern "C" fn x_device_characteristics(f: *mut sq::sqlite3_file) -> c_int {
    guard(0, || {
        // SAFETY: `f` is one of our open files.
        unsafe { stored(f) }.device_characteristics()
    })
}
