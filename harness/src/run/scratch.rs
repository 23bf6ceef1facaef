//! Scratch directories: every temp dir of a run is named after the process that owns it,
//! `sqlite-backup-harness-<pid>-<purpose>-XXXXXX`, and the first one a process creates first
//! removes the dirs whose owner is dead.
//!
//! Why: a dir is removed when its owner drops it, but a supervisor killed with SIGKILL (or by
//! the OOM killer, or a power cut of the machine) never gets to. Naming the owner lets the next
//! run tell a leftover from the dir of a run that is still going, and remove only leftovers.

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Every scratch dir's name starts with this, then the owner's pid and `-`.
pub const PREFIX: &str = "sqlite-backup-harness-";

/// A temp dir `sqlite-backup-harness-<our pid>-<purpose>XXXXXX` under `$HARNESS_TMPDIR`, else
/// RAM (`/dev/shm`) when there is one, since iterations are I/O heavy, else the system temp
/// dir; removed when dropped. Every part of the harness that needs scratch space uses this.
/// The first call of a process removes the leftovers of dead processes (see
/// [`remove_stale`]) from every root it might use.
pub fn scratch_dir(purpose: &str) -> std::io::Result<tempfile::TempDir> {
    let root = root();
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let system = std::env::temp_dir();
        for r in root.iter().chain(std::iter::once(&system)) {
            for gone in remove_stale(r) {
                tracing::info!("removed {} (its owner is gone)", gone.display());
            }
        }
    });
    let prefix = format!("{PREFIX}{}-{purpose}", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    match (root, std::env::var_os("HARNESS_TMPDIR")) {
        // Asked for by name: use it or say why not (a silent fallback would put gigabytes of
        // scratch files where the user did not want them).
        (Some(root), Some(_)) => builder.tempdir_in(&root).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "HARNESS_TMPDIR={}: cannot create a scratch dir there: {e}",
                    root.display()
                ),
            )
        }),
        // RAM by default, unless it is small (Docker's /dev/shm is 64 MiB).
        (Some(root), None) if free_bytes(&root).is_none_or(|b| b >= SHM_MIN_FREE) => {
            builder.tempdir_in(root).or_else(|_| builder.tempdir())
        }
        (Some(_), None) => builder.tempdir(),
        (None, _) => builder.tempdir(),
    }
}

/// Below this much free space, `/dev/shm` is not used by default.
const SHM_MIN_FREE: u64 = 512 << 20;

/// The free space of the file system `dir` is on (`None`: unknown).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(st.blocks_available() * st.fragment_size())
}

/// `$HARNESS_TMPDIR`, else `/dev/shm` when it is a directory.
fn root() -> Option<PathBuf> {
    std::env::var_os("HARNESS_TMPDIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
}

/// The owner pid in a scratch dir's name, if `name` is one (`<PREFIX><pid>-...`).
fn owner(name: &str) -> Option<i32> {
    let (pid, _) = name.strip_prefix(PREFIX)?.split_once('-')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0)
}

/// Whether process `pid` is alive: it exists and is not a zombie. A zombie has exited (its
/// parent has not reaped it yet, or it waits for init): its dirs are leftovers like any dead
/// owner's, and skipping them would leave them to a later run.
fn alive(pid: i32) -> bool {
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH)) && !is_zombie(pid)
}

/// Whether `/proc/<pid>/stat` says state `Z` (false where there is no `/proc`).
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .is_some_and(|stat| stat_state(&stat) == Some('Z'))
}

/// The state field of a `/proc/<pid>/stat` line: the first character after the command
/// name's closing parenthesis (the name itself may hold spaces and parentheses).
fn stat_state(stat: &str) -> Option<char> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

/// Removes the scratch dirs directly under `root` whose owner process is gone; never a dir of
/// a live process, of another user, a symlink, or anything not named like a scratch dir.
/// Returns what it removed.
pub fn remove_stale(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(owner) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me || alive(pid) {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_the_name() {
        assert_eq!(owner("sqlite-backup-harness-4242-run-AbC123"), Some(4242));
        assert_eq!(owner("sqlite-backup-harness-7-"), Some(7));
        assert_eq!(
            owner("sqlite-backup-harness-AbC123"),
            None,
            "old style, no pid"
        );
        assert_eq!(
            owner("sqlite-backup-harness-123456"),
            None,
            "no `-` after it"
        );
        assert_eq!(owner("sqlite-backup-harness--run-x"), None);
        assert_eq!(owner("sqlite-backup-harness-0-run-x"), None);
        assert_eq!(owner("sqlite-backup-harness-+5-run-x"), None);
        assert_eq!(owner("harness-reference-4242-x"), None);
    }

    /// A pid that was just used and is free again.
    fn dead_pid() -> i32 {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id() as i32;
        c.wait().unwrap();
        assert!(!alive(pid));
        pid
    }

    #[test]
    fn only_dirs_of_dead_owners_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let mk = |name: String| {
            let p = root.path().join(name);
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("source.db"), b"x").unwrap();
            p
        };
        let stale = mk(format!("{PREFIX}{dead}-run-AbC123"));
        let mine = mk(format!("{PREFIX}{}-run-AbC123", std::process::id()));
        let init = mk(format!("{PREFIX}1-kill-x"));
        let old = mk(format!("{PREFIX}AbC123"));
        let other = mk(format!("unrelated-{dead}-x"));
        let file = root.path().join(format!("{PREFIX}{dead}-file"));
        std::fs::write(&file, b"not a dir").unwrap();
        let link = root.path().join(format!("{PREFIX}{dead}-link"));
        std::os::unix::fs::symlink(&mine, &link).unwrap();

        assert_eq!(remove_stale(root.path()), vec![stale.clone()]);
        assert!(!stale.exists());
        for kept in [&mine, &init, &old, &other, &file, &link] {
            assert!(
                kept.symlink_metadata().is_ok(),
                "{} removed",
                kept.display()
            );
        }
        assert!(mine.join("source.db").exists(), "followed the symlink");
        assert!(remove_stale(&root.path().join("missing")).is_empty());
    }

    #[test]
    fn the_state_is_read_after_the_command_name() {
        assert_eq!(stat_state("42 (sqlite-backup-h) Z 1 42"), Some('Z'));
        assert_eq!(stat_state("42 (a) b) (c) S 1 42"), Some('S'));
        assert_eq!(stat_state("42 (x"), None);
    }

    /// A dead owner that is still a zombie (exited, not reaped yet) is dead: its dir goes.
    #[test]
    fn a_zombie_owner_counts_as_dead() {
        let root = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !is_zombie(pid) {
            assert!(std::time::Instant::now() < deadline, "{pid} never exited");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH)),
            "the pid is still taken"
        );
        let stale = root.path().join(format!("{PREFIX}{pid}-run-AbC123"));
        std::fs::create_dir(&stale).unwrap();
        let removed = remove_stale(root.path());
        child.wait().unwrap();
        assert_eq!(removed, vec![stale.clone()]);
        assert!(!stale.exists());
    }

    #[test]
    fn scratch_dirs_carry_the_owner_pid() {
        let d = scratch_dir("test-").unwrap();
        let name = d.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("{PREFIX}{}-test-", std::process::id())),
            "{name}"
        );
        assert_eq!(owner(&name), Some(std::process::id() as i32));
    }
}
