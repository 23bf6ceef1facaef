//! The oracle: decides, on real files after real faults, whether a destination is untouched,
//! a consistent snapshot of the source within the strategy's window, or a violation.
//!
//! It always runs in the supervisor with no fault VFS, and opens the destination the way a
//! user's next open would, so hot journals and WAL files are recovered first.

pub use crate::digest;
mod diff;
pub use diff::Profile;
mod inspect;
pub use inspect::{file_facts, FileFacts};
pub mod invariants;
pub use invariants::Invariant;
mod verdict;

use crate::event::Claim;
use crate::workload::Model;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("oracle on {path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Workload(#[from] crate::workload::WorkloadError),
}

/// The destination before the strategy ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreImage {
    /// No file (or an empty one): equivalent to an empty database.
    Absent,
    /// Its digest, and its profile to say what a torn destination differs in.
    Present(digest::Digest, Profile),
}

/// What the destination holds after recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestState {
    Untouched,
    /// Equal to its pre-image, which is also the allowed state `S(k)` (a replica that was
    /// already up to date): the two readings coincide, and only the claim tells which one
    /// applies. A claim of success is judged as the snapshot `S(k)` (in the window or not), any
    /// other claim as untouched.
    UntouchedSnapshot {
        k: u64,
    },
    Snapshot {
        k: u64,
    },
    Corrupt {
        reason: String,
    },
    Torn {
        reason: String,
    },
}

/// The source after the iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCheck {
    pub k: u64,
    /// `None` when it passes integrity, matches `S(k)` and kept every acknowledged commit.
    pub damage: Option<String>,
}

/// Source sequence numbers when the strategy started and returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub k_start: u64,
    pub k_end: u64,
}

/// What the supervisor saw of the strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The strategy's claim; `None` when the worker died before making one.
    pub claim: Option<Claim>,
    pub window: Window,
    /// Set when the watchdog fired: what the worker was last doing.
    pub stall: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    Untouched,
    Snapshot,
    Corrupt,
    Torn,
    FalseSuccess,
    OutOfWindow,
    SourceDamaged,
    /// An application invariant (`[app] invariants`) fails on the recovered source or on a
    /// snapshot destination.
    Invariant,
    Stall,
    Error,
}

impl VerdictKind {
    pub const ALL: [VerdictKind; 10] = [
        VerdictKind::Untouched,
        VerdictKind::Snapshot,
        VerdictKind::Corrupt,
        VerdictKind::Torn,
        VerdictKind::FalseSuccess,
        VerdictKind::OutOfWindow,
        VerdictKind::SourceDamaged,
        VerdictKind::Invariant,
        VerdictKind::Stall,
        VerdictKind::Error,
    ];
    /// Violations break the invariant; `stall` and `error` are reported but allowed.
    pub fn is_violation(self) -> bool {
        matches!(
            self,
            VerdictKind::Corrupt
                | VerdictKind::Torn
                | VerdictKind::FalseSuccess
                | VerdictKind::OutOfWindow
                | VerdictKind::SourceDamaged
                | VerdictKind::Invariant
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Untouched => "untouched",
            VerdictKind::Snapshot => "snapshot",
            VerdictKind::Corrupt => "corrupt",
            VerdictKind::Torn => "torn",
            VerdictKind::FalseSuccess => "false-success",
            VerdictKind::OutOfWindow => "out-of-window",
            VerdictKind::SourceDamaged => "source-damaged",
            VerdictKind::Invariant => "invariant",
            VerdictKind::Stall => "stall",
            VerdictKind::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// The snapshot's sequence number, when the destination is a snapshot.
    pub k: Option<u64>,
    /// `k_end - k` for snapshots.
    pub lag: Option<u64>,
    pub detail: String,
}

/// Records the destination's pre-image before the strategy runs.
pub fn take_pre_image(dest: &Path) -> Result<PreImage, OracleError> {
    take_pre_image_ignoring(dest, &[])
}

/// [`take_pre_image`] without the tables matching `ignore` (the workload's `ignore_tables`,
/// as [`inspect_destination`] leaves them out).
pub fn take_pre_image_ignoring(dest: &Path, ignore: &[String]) -> Result<PreImage, OracleError> {
    let len = match std::fs::metadata(dest) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PreImage::Absent),
        Err(e) => return Err(io_err(dest, format!("stat: {e}"))),
    };
    if len == 0 {
        return Ok(PreImage::Absent);
    }
    match inspect::open_and_digest(dest, ignore) {
        Ok((conn, d)) => match diff::profile(&conn, ignore) {
            Ok(p) => Ok(PreImage::Present(d, p)),
            Err(e) => Err(io_err(dest, format!("pre-image profile: {e}"))),
        },
        Err(reason) => Err(io_err(dest, format!("pre-image: {reason}"))),
    }
}

/// Opens the destination (recovering it), checks integrity, digests it and compares.
///
/// A missing file is an empty database. The sequence number a destination claims is trusted
/// for replay only up to [`Model::max_k`] + [`crate::workload::REPLAY_MARGIN`]: beyond that no
/// source state can match (the supervisor advances the model to the source's final `k` first),
/// and a garbage `meta.seq` must not make the model replay forever.
pub fn inspect_destination(
    dest: &Path,
    pre: &PreImage,
    model: &mut Model,
) -> Result<DestState, OracleError> {
    inspect_destination_via(dest, None, dest.exists(), pre, model)
}

/// [`inspect_destination`] of a file that SQLite opens through `vfs` (`None`: the default;
/// nothing may be armed on it), and that `exists` or not.
pub fn inspect_destination_via(
    dest: &Path,
    vfs: Option<&str>,
    exists: bool,
    pre: &PreImage,
    model: &mut Model,
) -> Result<DestState, OracleError> {
    let pre_digest = match pre {
        PreImage::Absent => digest::Digest::EMPTY,
        PreImage::Present(d, _) => *d,
    };
    let (conn, d) = if exists {
        match inspect::open_and_digest_via(dest, vfs, &model.spec().ignore_tables) {
            Ok((c, d)) => (Some(c), d),
            Err(reason) => return Ok(DestState::Corrupt { reason }),
        }
    } else {
        (None, digest::Digest::EMPTY)
    };
    // Whether it is a snapshot is decided before whether it is untouched: a destination that
    // already held `S(k)` is both, and a backup that claims success onto it is correct.
    let as_snapshot = match &conn {
        Some(conn) => snapshot_of(conn, d, model)?,
        None => Err(format!(
            "the destination file is gone (pre-image digest {pre_digest})"
        )),
    };
    Ok(match (d == pre_digest, as_snapshot) {
        (true, Ok(k)) => DestState::UntouchedSnapshot { k },
        (true, Err(_)) => DestState::Untouched,
        (false, Ok(k)) => DestState::Snapshot { k },
        (false, Err(reason)) => DestState::Torn {
            reason: match &conn {
                Some(conn) => format!("{reason}{}", what_differs(conn, pre, model)),
                None => reason,
            },
        },
    })
}

/// What the torn database on `conn` differs in, against the closer of its pre-image `D0` and
/// the model's latest state (see [`diff`]).
fn what_differs(conn: &Connection, pre: &PreImage, model: &Model) -> String {
    let got = match diff::profile(conn, &model.spec().ignore_tables) {
        Ok(p) => p,
        Err(e) => return format!("; no comparison: {e}"),
    };
    let latest = match diff::profile(model.connection(), &[]) {
        Ok(p) => p,
        Err(e) => return format!("; no comparison with the model: {e}"),
    };
    let empty = Profile::default();
    let d0 = match pre {
        PreImage::Absent => ("D0 (no database)".to_string(), &empty),
        PreImage::Present(_, p) => ("D0".to_string(), p),
    };
    diff::describe(&got, &[d0, (format!("S({})", model.max_k()), &latest)])
}

/// `Ok(k)` when the database on `conn` (digest `d`) is exactly `S(k)` for its own `meta.seq`,
/// else why it is not (the reason of a torn destination).
fn snapshot_of(
    conn: &Connection,
    d: digest::Digest,
    model: &mut Model,
) -> Result<Result<u64, String>, OracleError> {
    let seq = match crate::workload::read_seq(conn) {
        Ok(seq) => seq,
        Err(e) => {
            return Ok(Err(format!(
                "digest {d} matches neither the pre-image nor a known state{}; no sequence \
                 number: {e}",
                matched(model.lookup(&d))
            )))
        }
    };
    if seq > model.max_k().saturating_add(crate::workload::REPLAY_MARGIN) {
        return Ok(Err(format!(
            "meta.seq = {seq} is beyond anything the source committed (model at {}){}",
            model.max_k(),
            matched(model.lookup(&d))
        )));
    }
    let expected = model.digest_at(seq)?;
    if d == expected {
        return Ok(Ok(seq));
    }
    Ok(Err(format!(
        "meta.seq = {seq} but the digest {d} differs from S({seq}) = {expected}{}",
        matched(model.lookup(&d))
    )))
}

fn matched(k: Option<u64>) -> String {
    match k {
        Some(j) => format!(" (it equals S({j}))"),
        None => " (it matches no computed S(j))".to_string(),
    }
}

fn io_err(path: &Path, message: String) -> OracleError {
    OracleError::Io {
        path: path.display().to_string(),
        message,
    }
}

/// Checks the source: integrity, digest equals `S(k)`, and `k >= max_acked`.
pub fn check_source(
    source: &Path,
    model: &mut Model,
    max_acked: u64,
) -> Result<SourceCheck, OracleError> {
    check_source_via(source, None, source.exists(), model, max_acked)
}

/// [`check_source`] of a file that SQLite opens through `vfs` (`None`: the default; nothing
/// may be armed on it), and that `exists` or not.
pub fn check_source_via(
    source: &Path,
    vfs: Option<&str>,
    exists: bool,
    model: &mut Model,
    max_acked: u64,
) -> Result<SourceCheck, OracleError> {
    if !exists {
        return Ok(SourceCheck {
            k: 0,
            damage: Some("the source file is gone".to_string()),
        });
    }
    let (conn, d) = match inspect::open_and_digest_via(source, vfs, &model.spec().ignore_tables) {
        Ok(x) => x,
        Err(reason) => {
            return Ok(SourceCheck {
                k: 0,
                damage: Some(reason),
            })
        }
    };
    let k = match crate::workload::read_seq(&conn) {
        Ok(k) => k,
        Err(e) => {
            return Ok(SourceCheck {
                k: 0,
                damage: Some(format!("no sequence number: {e}")),
            })
        }
    };
    if k > model.max_k().saturating_add(crate::workload::REPLAY_MARGIN) {
        return Ok(SourceCheck {
            k,
            damage: Some(format!(
                "meta.seq = {k} is far beyond the model ({}), not replaying",
                model.max_k()
            )),
        });
    }
    let expected = model.digest_at(k)?;
    let damage = if d != expected {
        Some(format!(
            "digest {d} differs from S({k}) = {expected}{}",
            matched(model.lookup(&d))
        ))
    } else if k < max_acked {
        Some(format!(
            "lost acknowledged commits: meta.seq = {k} < {max_acked} acknowledged"
        ))
    } else {
        None
    };
    Ok(SourceCheck { k, damage })
}

/// The verdict, from the destination's state, what the strategy claimed, and the source.
pub fn classify(dest: &DestState, obs: &Observation, source: &SourceCheck) -> Verdict {
    verdict::classify(dest, obs, source)
}
