//! The fault kinds of a crash-point sweep, and which of them apply to one traced operation.
//!
//! Which faults apply:
//! * `kill-before`, `kill-after`: every operation (process death; a child process).
//! * `power-cut`: every operation that returns a result code.
//! * `ioerr-transient`, `ioerr-persistent`, with the fitting code: read → `IOERR_READ`,
//!   write → `IOERR_WRITE`, sync → `IOERR_FSYNC`, truncate → `IOERR_TRUNCATE`,
//!   delete → `IOERR_DELETE`, unlock → `IOERR_UNLOCK`, open → `CANTOPEN`. Locks (file and shm)
//!   get `BUSY` instead (below); file size, access, shm-map, file-control, fetch and the
//!   informational calls have no fitting code in the VFS's plan language and get no I/O error.
//! * `full` (`SQLITE_FULL`) and `torn` (half the bytes written, then `IOERR_WRITE`) on writes.
//! * `busy` (`SQLITE_BUSY`) on the destination's syncs, locks and shm locks.

use super::action::FaultAction;
use super::DEST_ROLE;
use serde::{Deserialize, Serialize};
use vfs_faults::{ErrorCode, KillWhen, MetadataOrder, OpKind, Unsynced};

/// Which operations of the fault-free trace a sweep places its faults at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashWindow {
    /// Every operation.
    #[default]
    All,
    /// The final commit: every operation after the backup's last read of source content
    /// (the source's database file or WAL). Everything has been copied by then, so
    /// `sqlite3_backup_remaining()` is 0, and what remains is the destination's commit (and
    /// the unlocks, closes and truncation around it): the `remaining()==0` but not
    /// `SQLITE_DONE` window, swept operation by operation.
    FinalCommit,
}

impl CrashWindow {
    pub fn as_str(self) -> &'static str {
        match self {
            CrashWindow::All => "all",
            CrashWindow::FinalCommit => "final-commit",
        }
    }

    /// The trace index the window starts at (points at lower indexes are left out). The
    /// occurrence numbers of the points inside still count from the start of the trace.
    pub fn start(self, trace: &[vfs_faults::TraceEntry]) -> u64 {
        match self {
            CrashWindow::All => 0,
            CrashWindow::FinalCommit => trace
                .iter()
                .filter(|e| {
                    e.op == OpKind::Read
                        && e.role.as_deref() == Some(super::SOURCE_ROLE)
                        && matches!(
                            e.file,
                            vfs_faults::FileKind::MainDb | vfs_faults::FileKind::Wal
                        )
                })
                .map(|e| e.index + 1)
                .max()
                .unwrap_or(0),
        }
    }
}

/// A fault kind of the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointKind {
    KillBefore,
    KillAfter,
    PowerCut,
    IoerrTransient,
    IoerrPersistent,
    Full,
    Torn,
    Busy,
    /// A power cut with each unsynced metadata change kept or reverted on its own (the POSIX
    /// worst case), where `power-cut` keeps them in order (ext4 data=ordered, XFS).
    PowerCutIndependent,
    /// A power cut right after the strategy claimed (one point per trace, at its last
    /// operation), undoing everything not durable: a claimed success must be durable.
    PowerCutAfterClaim,
}

impl PointKind {
    /// The kinds a sweep places by default (the power-cut variants are asked for by name):
    /// the first eight of [`PointKind::EVERY`].
    pub const ALL: [PointKind; 8] = {
        let mut out = [PointKind::KillBefore; 8];
        let mut i = 0;
        while i < out.len() {
            out[i] = PointKind::EVERY[i];
            i += 1;
        }
        out
    };

    pub fn as_str(self) -> &'static str {
        match self {
            PointKind::KillBefore => "kill-before",
            PointKind::KillAfter => "kill-after",
            PointKind::PowerCut => "power-cut",
            PointKind::IoerrTransient => "ioerr-transient",
            PointKind::IoerrPersistent => "ioerr-persistent",
            PointKind::Full => "full",
            PointKind::Torn => "torn",
            PointKind::Busy => "busy",
            PointKind::PowerCutIndependent => "power-cut-independent",
            PointKind::PowerCutAfterClaim => "power-cut-after-claim",
        }
    }

    /// Every kind, the power-cut variants included.
    pub const EVERY: [PointKind; 10] = [
        PointKind::KillBefore,
        PointKind::KillAfter,
        PointKind::PowerCut,
        PointKind::IoerrTransient,
        PointKind::IoerrPersistent,
        PointKind::Full,
        PointKind::Torn,
        PointKind::Busy,
        PointKind::PowerCutIndependent,
        PointKind::PowerCutAfterClaim,
    ];

    pub fn parse(s: &str) -> Option<PointKind> {
        PointKind::EVERY.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the kind is a power cut (its state is judged as a dead process; it is not
    /// modelled for strategies whose writes bypass the VFS).
    pub fn is_power_cut(self) -> bool {
        matches!(
            self,
            PointKind::PowerCut | PointKind::PowerCutIndependent | PointKind::PowerCutAfterClaim
        )
    }

    /// The `faults_hit` key: `kill`, `power-cut`, `ioerr-transient`, ...
    pub fn hit_key(self) -> &'static str {
        match self {
            PointKind::KillBefore | PointKind::KillAfter => "kill",
            k => k.as_str(),
        }
    }

    /// Only process death needs a child process; everything else runs in-process.
    pub fn needs_child(self) -> bool {
        matches!(self, PointKind::KillBefore | PointKind::KillAfter)
    }

    /// The action of this kind at an operation `op` of `len` bytes. Power cuts keep their
    /// metadata in order (ext4 data=ordered, XFS): the sweep models the common Linux
    /// filesystems; fuzz can ask for the POSIX worst case.
    pub fn action(self, op: OpKind, len: Option<i64>) -> FaultAction {
        match self {
            PointKind::KillBefore => FaultAction::Kill {
                when: KillWhen::Before,
            },
            PointKind::KillAfter => FaultAction::Kill {
                when: KillWhen::After,
            },
            PointKind::PowerCut => FaultAction::PowerCut {
                unsynced: Unsynced::Random,
                metadata: MetadataOrder::Ordered,
            },
            PointKind::IoerrTransient | PointKind::IoerrPersistent => FaultAction::Ioerr {
                code: ioerr_code(op).unwrap_or(ErrorCode::IoerrRead),
                persistent: self == PointKind::IoerrPersistent,
            },
            PointKind::Full => FaultAction::Full,
            PointKind::Torn => FaultAction::Torn {
                keep_bytes: (len.unwrap_or(0).max(0) / 2) as u64,
            },
            PointKind::Busy => FaultAction::Busy,
            PointKind::PowerCutIndependent | PointKind::PowerCutAfterClaim => {
                FaultAction::PowerCut {
                    unsynced: Unsynced::Random,
                    metadata: if self == PointKind::PowerCutIndependent {
                        MetadataOrder::Independent
                    } else {
                        MetadataOrder::Ordered
                    },
                }
            }
        }
    }
}

/// Operations whose callback returns a result code (an error or a power cut can be injected).
fn returns_code(op: OpKind) -> bool {
    !matches!(
        op,
        OpKind::SectorSize | OpKind::DeviceCharacteristics | OpKind::ShmBarrier
    )
}

/// The fitting I/O error code of an operation, if there is one.
pub fn ioerr_code(op: OpKind) -> Option<ErrorCode> {
    Some(match op {
        OpKind::Read => ErrorCode::IoerrRead,
        OpKind::Write => ErrorCode::IoerrWrite,
        OpKind::Sync => ErrorCode::IoerrFsync,
        OpKind::Truncate => ErrorCode::IoerrTruncate,
        OpKind::Delete => ErrorCode::IoerrDelete,
        OpKind::Unlock => ErrorCode::IoerrUnlock,
        OpKind::Open => ErrorCode::Cantopen,
        _ => return None,
    })
}

/// The fault kinds that apply to one traced operation, in [`PointKind::ALL`] order.
pub fn applicable(op: OpKind, role: Option<&str>) -> Vec<PointKind> {
    let mut out = vec![PointKind::KillBefore, PointKind::KillAfter];
    if returns_code(op) {
        out.extend([PointKind::PowerCut, PointKind::PowerCutIndependent]);
    }
    if ioerr_code(op).is_some() {
        out.extend([PointKind::IoerrTransient, PointKind::IoerrPersistent]);
    }
    if op == OpKind::Write {
        out.extend([PointKind::Full, PointKind::Torn]);
    }
    if role == Some(DEST_ROLE) && matches!(op, OpKind::Sync | OpKind::Lock | OpKind::ShmLock) {
        out.push(PointKind::Busy);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfs_faults::{FileKind, TraceEntry};

    #[test]
    fn the_final_commit_window_starts_after_the_last_source_content_read() {
        let e = |index, op, file, role: &str| TraceEntry {
            index,
            op,
            file,
            role: Some(role.to_string()),
            path: None,
            offset: None,
            len: None,
            rc: 0,
        };
        let t = vec![
            e(0, OpKind::Read, FileKind::MainDb, "source"),
            e(1, OpKind::Write, FileKind::MainJournal, DEST_ROLE),
            e(2, OpKind::Read, FileKind::Wal, "source"),
            e(3, OpKind::Read, FileKind::MainDb, DEST_ROLE),
            e(4, OpKind::Unlock, FileKind::MainDb, "source"),
            e(5, OpKind::Sync, FileKind::MainJournal, DEST_ROLE),
        ];
        assert_eq!(CrashWindow::FinalCommit.start(&t), 3);
        assert_eq!(CrashWindow::All.start(&t), 0);
        // No source read at all (a copy through std::fs): the whole trace.
        assert_eq!(CrashWindow::FinalCommit.start(&t[3..]), 0);
    }

    #[test]
    fn busy_only_on_destination_syncs_and_locks() {
        assert!(applicable(OpKind::Sync, Some(DEST_ROLE)).contains(&PointKind::Busy));
        assert!(!applicable(OpKind::Sync, Some("source")).contains(&PointKind::Busy));
        assert!(!applicable(OpKind::SectorSize, None).contains(&PointKind::PowerCut));
    }

    #[test]
    fn kinds_map_to_their_actions() {
        assert_eq!(
            PointKind::IoerrPersistent.action(OpKind::Sync, None),
            FaultAction::Ioerr {
                code: ErrorCode::IoerrFsync,
                persistent: true
            }
        );
        assert_eq!(
            PointKind::Torn.action(OpKind::Write, Some(4096)),
            FaultAction::Torn { keep_bytes: 2048 }
        );
        for k in PointKind::ALL {
            assert_eq!(PointKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(PointKind::ALL[..], PointKind::EVERY[..8]);
        assert!(!PointKind::ALL.iter().any(|k| matches!(
            k,
            PointKind::PowerCutIndependent | PointKind::PowerCutAfterClaim
        )));
    }
}
