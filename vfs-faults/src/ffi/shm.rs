//! Shared memory of the storage VFS ([`crate::Storage::shared_memory`]): the WAL index of a
//! database kept in this process. One [`ShmFile`] per (VFS, database path) in [`SHM`], whose
//! regions are heap blocks at fixed addresses that every connection of this process maps, and
//! the eight WAL locks kept exactly as the unix VFS keeps them within one process
//! (`unixShmLock`: per slot a count of shared holders or -1 for an exclusive one, whoever
//! holds it, the caller included; unmapping leaves the counts alone). A fault VFS above that
//! fails an unlock without passing it on then sees the same later `SQLITE_BUSY` as on disk.
//!
//! Why its own module: the storage VFS's file methods do not need it, and a WAL database on an
//! in-memory disk does ([`crate::MemDisk`]).

use super::guard;
use super::storage::{open_of, Open};
use rusqlite::ffi as sq;
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Number of WAL locks (`SQLITE_SHM_NLOCK`).
const SHM_NLOCK: usize = 8;

/// The shared memory of one database: regions and lock counts.
struct ShmFile {
    /// Heap blocks of `region_size` bytes each (`Box<[u8]>` turned into raw pointers: SQLite
    /// writes them through the pointers it was given, so Rust keeps no reference to them).
    regions: Vec<*mut u8>,
    region_size: usize,
    /// Per slot: shared holders, or -1 when one connection holds it exclusively.
    lock: [i32; SHM_NLOCK],
    /// Connections that mapped it and have not unmapped it.
    maps: usize,
}

// SAFETY: the region pointers are owned by the ShmFile (freed in Drop) and only handed to
// SQLite; every access to the struct itself goes through its Mutex.
unsafe impl Send for ShmFile {}

impl Drop for ShmFile {
    fn drop(&mut self) {
        for &p in &self.regions {
            // SAFETY: each region came from Box::<[u8]>::into_raw with region_size bytes and is
            // freed once, here; no connection maps it any more (maps == 0).
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(p, self.region_size)) });
        }
    }
}

/// One connection's hold on a [`ShmFile`]: the locks it holds, as bit masks.
pub(super) struct ShmConn {
    file: Arc<Mutex<ShmFile>>,
    shared: u8,
    exclusive: u8,
}

type ShmTable = HashMap<(usize, String), Arc<Mutex<ShmFile>>>;

/// Every mapped shared memory of this process's storage VFSes.
static SHM: Mutex<Option<ShmTable>> = Mutex::new(None);

/// Drops `open`'s mapping; the last connection to unmap frees the memory. Its locks are left
/// as they are, as `unixShmUnmap` leaves them.
pub(super) fn shm_detach(open: &mut Open) {
    let Some(conn) = open.shm.take() else {
        return;
    };
    // The table's lock is held across the count and the removal, as in x_shm_map across the
    // lookup and the count: a connection attaching meanwhile cannot get a file being dropped.
    let mut table = locked(&SHM);
    let last = {
        let mut sf = locked(&conn.file);
        sf.maps = sf.maps.saturating_sub(1);
        sf.maps == 0
    };
    if let (true, Some(key), Some(t)) = (last, &open.shm_key, table.as_mut()) {
        t.remove(key);
    }
}

pub(super) unsafe extern "C" fn x_shm_map(
    f: *mut sq::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    guard(sq::SQLITE_IOERR_SHMMAP, || {
        // SAFETY: `f` is one of our open files.
        let open = unsafe { open_of(f) };
        // SAFETY: `pp` is SQLite's out-pointer.
        unsafe { *pp = ptr::null_mut() };
        let Some(key) = open.shm_key.clone() else {
            return sq::SQLITE_IOERR_SHMOPEN;
        };
        let (Ok(region), Ok(size)) = (usize::try_from(region), usize::try_from(size)) else {
            return sq::SQLITE_IOERR_SHMMAP;
        };
        if open.shm.is_none() {
            // Lookup and count under the table's lock (see shm_detach).
            let mut table = locked(&SHM);
            let file = Arc::clone(
                table
                    .get_or_insert_with(HashMap::new)
                    .entry(key)
                    .or_insert_with(|| {
                        Arc::new(Mutex::new(ShmFile {
                            regions: Vec::new(),
                            region_size: size,
                            lock: [0; SHM_NLOCK],
                            maps: 0,
                        }))
                    }),
            );
            locked(&file).maps += 1;
            drop(table);
            open.shm = Some(ShmConn {
                file,
                shared: 0,
                exclusive: 0,
            });
        }
        let Some(conn) = &open.shm else {
            return sq::SQLITE_IOERR_SHMMAP;
        };
        let mut sf = locked(&conn.file);
        if sf.region_size != size {
            return sq::SQLITE_IOERR_SHMMAP;
        }
        if region >= sf.regions.len() {
            if extend == 0 {
                return sq::SQLITE_OK;
            }
            while sf.regions.len() <= region {
                let block = vec![0u8; size].into_boxed_slice();
                sf.regions.push(Box::into_raw(block).cast::<u8>());
            }
        }
        // SAFETY: as above.
        unsafe { *pp = sf.regions[region].cast() };
        sq::SQLITE_OK
    })
}

pub(super) unsafe extern "C" fn x_shm_lock(
    f: *mut sq::sqlite3_file,
    ofst: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    guard(sq::SQLITE_IOERR_SHMLOCK, || {
        // SAFETY: `f` is one of our open files.
        let open = unsafe { open_of(f) };
        let Some(conn) = open.shm.as_mut() else {
            return sq::SQLITE_IOERR_SHMLOCK;
        };
        let (Ok(ofst), Ok(n)) = (usize::try_from(ofst), usize::try_from(n)) else {
            return sq::SQLITE_IOERR_SHMLOCK;
        };
        if n == 0 || ofst + n > SHM_NLOCK {
            return sq::SQLITE_IOERR_SHMLOCK;
        }
        let slots = ofst..ofst + n;
        let mask = slots.clone().fold(0u8, |m, i| m | (1 << i));
        let unlock = flags & sq::SQLITE_SHM_UNLOCK != 0;
        let shared = flags & sq::SQLITE_SHM_SHARED != 0;
        // What unixShmLock acts on; anything else is a no-op that succeeds.
        let acts = if unlock {
            (conn.shared | conn.exclusive) & mask != 0
        } else {
            !shared || conn.shared & mask == 0
        };
        if !acts {
            return sq::SQLITE_OK;
        }
        let mut sf = locked(&conn.file);
        if unlock {
            // Another holder of the same shared lock keeps it.
            if shared && sf.lock[ofst] > 1 {
                sf.lock[ofst] -= 1;
                conn.shared &= !mask;
            } else {
                for i in slots {
                    sf.lock[i] = 0;
                }
                conn.shared &= !mask;
                conn.exclusive &= !mask;
            }
        } else if shared {
            // An exclusive holder, whoever it is, blocks.
            if sf.lock[ofst] < 0 {
                return sq::SQLITE_BUSY;
            }
            conn.shared |= mask;
            sf.lock[ofst] += 1;
        } else {
            // Any holder, the caller included, blocks.
            if slots.clone().any(|i| sf.lock[i] != 0) {
                return sq::SQLITE_BUSY;
            }
            for i in slots {
                sf.lock[i] = -1;
            }
            conn.exclusive |= mask;
        }
        sq::SQLITE_OK
    })
}

pub(super) unsafe extern "C" fn x_shm_barrier(_f: *mut sq::sqlite3_file) {
    guard((), || {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst)
    })
}

pub(super) unsafe extern "C" fn x_shm_unmap(f: *mut sq::sqlite3_file, _delete: c_int) -> c_int {
    guard(sq::SQLITE_IOERR, || {
        // SAFETY: `f` is one of our open files.
        shm_detach(unsafe { open_of(f) });
        sq::SQLITE_OK
    })
}
