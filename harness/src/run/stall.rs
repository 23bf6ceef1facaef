//! What a stalled backup was waiting for, taken just before the watchdog kills it: its last
//! progress event, the last operation its fault VFS saw, and every SQLite lock each process of
//! the iteration holds on the iteration's files.
//!
//! Why its own module: "stuck" is only useful with "behind what". The locks are read from the
//! kernel (`/proc/locks`), not from the processes, so a blocker that says nothing is still
//! seen; the byte ranges are decoded with SQLite's lock layout (`os_unix.c`: PENDING_BYTE
//! 0x40000000, RESERVED_BYTE +1, the SHARED range +2..+511; the WAL-index locks at -shm
//! offsets 120..127 and the DMS byte at 128).

use crate::event::Event;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The diagnosis of one stall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StallReport {
    /// The watchdog's reason (no progress for T, or not done within the budget).
    pub reason: String,
    /// When the watchdog stopped the worker, from the worker's start.
    pub after_ms: u64,
    /// The worker's last progress event (a step: step, remaining, pagecount, rc, restarts),
    /// and when it came.
    pub last_progress: Option<Event>,
    pub last_progress_ms: Option<u64>,
    /// The last operation the worker's fault VFS saw, and how many it saw (`None`: the
    /// worker sent no sample).
    pub last_vfs_op: Option<String>,
    pub vfs_ops: Option<u64>,
    /// Every lock a process of the iteration held on its files:
    /// `blocker: dest.db RESERVED+SHARED`.
    pub locks: Vec<String>,
}

impl StallReport {
    /// One line for the verdict's detail and the violation lists.
    pub fn summary(&self) -> String {
        let progress = match (&self.last_progress, self.last_progress_ms) {
            (Some(ev), Some(ms)) => format!("last progress at {ms} ms: {}", ev.to_line()),
            _ => "no progress event".into(),
        };
        let vfs = match (&self.last_vfs_op, self.vfs_ops) {
            (Some(op), Some(n)) => format!("last VFS op: {op} (op {n})"),
            _ => "no VFS sample".into(),
        };
        let locks = if self.locks.is_empty() {
            "no locks held".to_string()
        } else {
            format!("locks: {}", self.locks.join("; "))
        };
        format!(
            "{} (stopped at {} ms); {progress}; {vfs}; {locks}",
            self.reason, self.after_ms
        )
    }
}

/// One POSIX lock from `/proc/locks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawLock {
    pid: u32,
    /// `maj:min` in hex, as the kernel prints it.
    dev: (u64, u64),
    inode: u64,
    start: u64,
    end: u64,
    write: bool,
}

/// Parses `/proc/locks` lines: `1: POSIX  ADVISORY  WRITE 17171 fe:00:10010741 120 120`.
/// Blocked requests (`->`) and other lock types are skipped.
fn parse_proc_locks(text: &str) -> Vec<RawLock> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || f[1] != "POSIX" {
                return None;
            }
            let mut id = f[5].split(':');
            let (maj, min, inode) = (id.next()?, id.next()?, id.next()?);
            let dev = (
                u64::from_str_radix(maj, 16).ok()?,
                u64::from_str_radix(min, 16).ok()?,
            );
            let inode = inode.parse().ok()?;
            let end = if f[7] == "EOF" {
                u64::MAX
            } else {
                f[7].parse().ok()?
            };
            Some(RawLock {
                pid: f[4].parse().ok()?,
                dev,
                inode,
                start: f[6].parse().ok()?,
                end,
                write: f[3] == "WRITE",
            })
        })
        .collect()
}

const PENDING_BYTE: u64 = 0x4000_0000;
const RESERVED_BYTE: u64 = PENDING_BYTE + 1;
const SHARED_FIRST: u64 = PENDING_BYTE + 2;

/// The SQLite names of a lock on a database file (`shm = false`) or a WAL-index. The kernel
/// merges adjacent locks of one type held by one process (RESERVED and EXCLUSIVE, WAL-WRITE
/// and CKPT), so one range can carry several: every SQLite lock byte it covers is named.
fn lock_names(l: &RawLock, shm: bool) -> Vec<String> {
    let mode = if l.write { "excl" } else { "shared" };
    let covers = |a: u64, b: u64| l.start <= b && l.end >= a;
    let mut out = Vec::new();
    if shm {
        let names = [
            "WAL-WRITE",
            "CKPT",
            "RECOVER",
            "READ0",
            "READ1",
            "READ2",
            "READ3",
            "READ4",
            "DMS",
        ];
        for (i, n) in names.iter().enumerate() {
            if covers(120 + i as u64, 120 + i as u64) {
                out.push(format!("{n}({mode})"));
            }
        }
    } else {
        if covers(PENDING_BYTE, PENDING_BYTE) {
            out.push("PENDING".into());
        }
        if covers(RESERVED_BYTE, RESERVED_BYTE) {
            out.push("RESERVED".into());
        }
        if covers(SHARED_FIRST, SHARED_FIRST + 509) {
            out.push(if l.write { "EXCLUSIVE" } else { "SHARED" }.into());
        }
    }
    if out.is_empty() {
        out.push(format!("bytes {}..{}({mode})", l.start, l.end));
    }
    out
}

/// The locks `procs` (pid, name) hold on `files` (the iteration's databases and their -shm),
/// decoded: `writer0: source.db-shm WAL-WRITE(excl)`. A pid not in `procs` that holds a lock
/// on one of the files is listed by its pid.
pub fn held_locks(procs: &[(u32, String)], files: &[&Path]) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    decode(&parse_proc_locks(&text), procs, files)
}

fn decode(locks: &[RawLock], procs: &[(u32, String)], files: &[&Path]) -> Vec<String> {
    let by_inode: BTreeMap<((u64, u64), u64), (String, bool)> = files
        .iter()
        .filter_map(|p| {
            let m = std::fs::metadata(p).ok()?;
            let dev = m.dev();
            let id = (
                (nix::sys::stat::major(dev), nix::sys::stat::minor(dev)),
                m.ino(),
            );
            let name = p.file_name()?.to_string_lossy().to_string();
            let shm = name.ends_with("-shm");
            Some((id, (name, shm)))
        })
        .collect();
    let mut held: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for l in locks {
        let Some((file, shm)) = by_inode.get(&(l.dev, l.inode)) else {
            continue;
        };
        let who = procs
            .iter()
            .find(|(pid, _)| *pid == l.pid)
            .map_or_else(|| format!("pid {}", l.pid), |(_, n)| n.clone());
        held.entry((who, file.clone()))
            .or_default()
            .extend(lock_names(l, *shm));
    }
    held.into_iter()
        .map(|((who, file), mut names)| {
            names.sort();
            names.dedup();
            format!("{who}: {file} {}", names.join("+"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines_decode_to_sqlite_lock_names() {
        let text = "1: POSIX  ADVISORY  WRITE 17171 fe:00:10010741 1073741825 1073741825\n\
                    2: POSIX  ADVISORY  READ 17171 fe:00:10010741 1073741826 1073742335\n\
                    3: POSIX  ADVISORY  WRITE 42 fe:00:77 120 120\n\
                    4: POSIX  ADVISORY  READ 42 fe:00:77 124 124\n\
                    5: FLOCK  ADVISORY  WRITE 9 fe:00:77 0 EOF\n\
                    6: -> POSIX  ADVISORY  WRITE 43 fe:00:77 120 120\n";
        let l = parse_proc_locks(text);
        assert_eq!(l.len(), 4, "{l:?}");
        assert_eq!(lock_names(&l[0], false), ["RESERVED"]);
        assert_eq!(lock_names(&l[1], false), ["SHARED"]);
        let excl = RawLock {
            write: true,
            ..l[1]
        };
        assert_eq!(lock_names(&excl, false), ["EXCLUSIVE"]);
        assert_eq!(lock_names(&l[2], true), ["WAL-WRITE(excl)"]);
        assert_eq!(lock_names(&l[3], true), ["READ1(shared)"]);
        // Merged by the kernel: RESERVED and EXCLUSIVE in one write range, WAL-WRITE and CKPT.
        let merged = RawLock {
            start: RESERVED_BYTE,
            end: SHARED_FIRST + 509,
            write: true,
            ..l[0]
        };
        assert_eq!(lock_names(&merged, false), ["RESERVED", "EXCLUSIVE"]);
        let merged = RawLock {
            start: 120,
            end: 121,
            ..l[2]
        };
        assert_eq!(lock_names(&merged, true), ["WAL-WRITE(excl)", "CKPT(excl)"]);
    }

    #[test]
    fn a_real_sqlite_write_transaction_is_seen_as_reserved_and_shared() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("dest.db");
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA journal_mode=DELETE; CREATE TABLE t(x); BEGIN IMMEDIATE;")
            .unwrap();
        let me = std::process::id();
        // In about 1 of 10 runs of the unit tests one sample showed SHARED without RESERVED
        // (suspected: /proc/locks is printed in chunks, and a line can be skipped while locks
        // of tests in other threads come and go; not pinned down). The stall monitor samples
        // every 100 ms and lives with a short sample; here the sample is taken again, at most
        // 50 times, until it shows both locks.
        let want = vec!["blocker: dest.db RESERVED+SHARED".to_string()];
        let mut locks = Vec::new();
        for _ in 0..50 {
            locks = held_locks(&[(me, "blocker".into())], &[&db]);
            if locks == want {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(locks, want);
        c.execute_batch("COMMIT").unwrap();
        assert!(held_locks(&[(me, "blocker".into())], &[&db]).is_empty());
    }
}
