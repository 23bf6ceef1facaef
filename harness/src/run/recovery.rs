//! The next attempt: after an iteration (the writers and any blocker stopped), the same
//! strategy backs up again onto the same destination, with no fault. It must claim success
//! and leave a snapshot of the source.
//!
//! Why its own module: "recovering from aborted or stuck runs is the question that started
//! this project". A destination that is untouched is not enough if the *next* backup then
//! fails on a stale lock, a hot journal or a WAL the last one left behind; this is where that
//! is checked, and where what was left behind is recorded.

use super::child::{describe_status, Child, Message, Tag};
use super::load::read_seq;
use super::{RunContext, RunError};
use crate::event::{Claim, Event};
use crate::oracle::{self, Observation, PreImage, Verdict, VerdictKind, Window};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the next backup onto the destination did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Files the iteration left beside the destination (`dest.db-journal (8720 bytes)`: a
    /// hot journal the next open must roll back; `dest.db-wal`).
    pub leftovers: Vec<String>,
    pub claim: Option<Claim>,
    pub exit: String,
    pub verdict: Verdict,
    pub ms: u64,
    /// Claimed success and left a snapshot.
    pub ok: bool,
}

impl Recovery {
    pub fn summary(&self) -> String {
        let left = if self.leftovers.is_empty() {
            "nothing left beside the destination".to_string()
        } else {
            format!("left: {}", self.leftovers.join(", "))
        };
        format!("{left}; next backup: {}", self.outcome())
    }

    /// What the next backup claimed, its verdict and its time: `success, snapshot in 57 ms`.
    pub fn outcome(&self) -> String {
        let claim = match &self.claim {
            Some(Claim::Success) => "success".to_string(),
            Some(Claim::Error { message }) => format!("error: {message}"),
            Some(Claim::Aborted { message }) => format!("aborted: {message}"),
            None => format!("no claim ({})", self.exit),
        };
        format!("{claim}, {} in {} ms", self.verdict.kind.as_str(), self.ms)
    }
}

/// The destination's files exactly as the iteration left them (the database and every file
/// beside it that shares its name: a hot journal, a WAL, its -shm), saved before the oracle
/// opens the destination. The oracle's own open would roll a hot journal back, and the next
/// backup must meet what the iteration left, not what the oracle tidied.
pub struct LeftBehind {
    saved: PathBuf,
    files: Vec<String>,
    listed: Vec<String>,
}

impl LeftBehind {
    pub fn save(dst: &Path, dir: &Path) -> Result<LeftBehind, RunError> {
        let saved = dir.join("left-behind");
        let files = copy_family(dst, &saved)?;
        Ok(LeftBehind {
            saved,
            listed: leftovers(dst),
            files,
        })
    }

    /// Puts the saved files back in place of whatever is there now.
    fn restore(&self, dst: &Path) -> Result<(), RunError> {
        for f in family(dst) {
            let p = dst.with_file_name(&f);
            std::fs::remove_file(&p)
                .map_err(|e| RunError::io(format!("removing {}", p.display()), e))?;
        }
        for f in &self.files {
            let to = dst.with_file_name(f);
            std::fs::copy(self.saved.join(f), &to)
                .map_err(|e| RunError::io(format!("restoring {}", to.display()), e))?;
        }
        Ok(())
    }
}

/// Runs the backup worker `args` (no fault) once more from `src` onto `dst`, as the
/// iteration `left` it, and judges it. The source is quiet (its writers are stopped), so the
/// window is one state.
pub fn recover(
    ctx: &mut RunContext,
    args: &[String],
    src: &Path,
    dst: &Path,
    dir: &Path,
    pre: &PreImage,
    left: &LeftBehind,
) -> Result<Recovery, RunError> {
    left.restore(dst)?;
    let leftovers = left.listed.clone();
    let (tx, rx) = mpsc::channel::<Message>();
    let started = Instant::now();
    let mut worker = Child::spawn(Tag::Backup, args, &[], &dir.join("recovery.stderr"), tx)
        .map_err(|e| RunError::io("spawning the recovery backup".into(), e))?;
    let limit = Duration::from_millis(ctx.scenario.budget_ms + ctx.scenario.watchdog_ms);
    let (mut claim, mut k_start, mut k_end) = (None, None, None);
    let mut stall = None;
    loop {
        ctx.check_interrupt()?;
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(Message::Event(_, Event::Claim { claim: c })) => claim = Some(c),
            Ok(Message::Event(_, Event::Start { k_start: k })) => k_start = Some(k),
            Ok(Message::Event(_, Event::End { k_end: k })) => k_end = Some(k),
            Ok(Message::Closed(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            _ => {}
        }
        if started.elapsed() >= limit && claim.is_none() {
            worker.kill();
            stall = Some(format!(
                "the next backup did not finish within {} ms",
                limit.as_millis()
            ));
            break;
        }
    }
    let exit = describe_status(worker.wait());
    let ms = started.elapsed().as_millis() as u64;
    // An unreadable source is the oracle's business (source-damaged), not a harness error.
    let k = read_seq(src).unwrap_or(0);
    ctx.model_advance(k)?;
    let source = oracle::check_source(src, &mut ctx.model, k)
        .map_err(|e| RunError::Oracle(e.to_string()))?;
    let state = oracle::inspect_destination(dst, pre, &mut ctx.model)
        .map_err(|e| RunError::Oracle(e.to_string()))?;
    let obs = Observation {
        claim: claim.clone(),
        window: Window {
            k_start: k_start.unwrap_or(k),
            k_end: k_end.unwrap_or(k),
        },
        stall,
    };
    let verdict = oracle::classify(&state, &obs, &source);
    let ok = claim == Some(Claim::Success) && verdict.kind == VerdictKind::Snapshot;
    Ok(Recovery {
        leftovers,
        claim,
        exit,
        verdict,
        ms,
        ok,
    })
}

/// Copies `dst` and the files beside it that share its name into `to` (created); returns
/// their names.
pub fn copy_family(dst: &Path, to: &Path) -> Result<Vec<String>, RunError> {
    std::fs::create_dir_all(to)
        .map_err(|e| RunError::io(format!("creating {}", to.display()), e))?;
    let mut files = Vec::new();
    for f in family(dst) {
        let from = dst.with_file_name(&f);
        std::fs::copy(&from, to.join(&f))
            .map_err(|e| RunError::io(format!("saving {}", from.display()), e))?;
        files.push(f);
    }
    Ok(files)
}

/// The names of `dst` and of the files beside it that share its name.
fn family(dst: &Path) -> Vec<String> {
    let (Some(dir), Some(name)) = (dst.parent(), dst.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy().to_string();
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|f| f.starts_with(&name) && is_family(f, &name))
                .collect()
        })
        .unwrap_or_default()
}

/// `dest.db` itself, or a file SQLite names after it (`-journal`, `-wal`, `-shm`).
fn is_family(f: &str, name: &str) -> bool {
    f == name
        || f.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// The files beside `dst` that share its name (`dest.db-journal`, `dest.db-wal`, ...), with
/// their sizes.
fn leftovers(dst: &Path) -> Vec<String> {
    let (Some(dir), Some(name)) = (dst.parent(), dst.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy().to_string();
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let f = e.file_name().to_string_lossy().to_string();
                    let len = e.metadata().ok()?.len();
                    (f != name && is_family(&f, &name)).then(|| format!("{f} ({len} bytes)"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_left_behind_is_put_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dest.db");
        std::fs::write(&dst, b"db").unwrap();
        std::fs::write(dir.path().join("dest.db-journal"), b"hot").unwrap();
        std::fs::write(dir.path().join("dest.dbx"), b"not ours").unwrap();
        let left = LeftBehind::save(&dst, dir.path()).unwrap();
        assert_eq!(left.listed, vec!["dest.db-journal (3 bytes)".to_string()]);
        // The oracle's open rolls the journal back and rewrites the database.
        std::fs::remove_file(dir.path().join("dest.db-journal")).unwrap();
        std::fs::write(&dst, b"rolled back").unwrap();
        std::fs::write(dir.path().join("dest.db-wal"), b"new").unwrap();
        left.restore(&dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"db");
        assert_eq!(
            std::fs::read(dir.path().join("dest.db-journal")).unwrap(),
            b"hot"
        );
        assert!(!dir.path().join("dest.db-wal").exists());
        assert_eq!(
            std::fs::read(dir.path().join("dest.dbx")).unwrap(),
            b"not ours"
        );
    }
}
