//! What goes wrong: the actions of the fault model, and how each becomes a VFS action.

use serde::{Deserialize, Serialize};
use vfs_faults::{Action, ErrorCode, KillWhen, MetadataOrder, PowerCutMode, Unsynced};

/// One thing that goes wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultAction {
    /// SIGKILL the backup process, before or after the operation (placed by the supervisor:
    /// when it sends the signal).
    Kill { when: KillWhen },
    /// Power loss: unsynced writes kept, dropped or garbled per sector, unsynced metadata
    /// changes reverted as `metadata` says; the process ends at once.
    PowerCut {
        unsynced: Unsynced,
        metadata: MetadataOrder,
    },
    /// An I/O error with its code, once (transient) or from then on (persistent).
    Ioerr { code: ErrorCode, persistent: bool },
    /// `SQLITE_FULL`, once.
    Full,
    /// `SQLITE_BUSY`, once.
    Busy,
    /// The first `keep_bytes` bytes are written, then `SQLITE_IOERR_WRITE` is reported (a torn
    /// write that reported success would be silent corruption no strategy can survive).
    Torn { keep_bytes: u64 },
    /// The write (or sync, truncate) reports success and does nothing.
    LostWrite,
    /// `SQLITE_IOERR_SHORT_READ` with `keep_bytes` read and the rest zero-filled.
    ShortRead { keep_bytes: u64 },
    /// Sleep, then perform the operation.
    Delay { ms: u64 },
    /// The application calls `sqlite3_backup_finish()` before `SQLITE_DONE` (no crash).
    Abort,
    /// The stream link breaks (placed at a byte of the stream).
    LinkBreak,
    /// `len` bytes of the stream are lost (placed at a byte of the stream).
    LinkDrop { len: u64 },
    /// The stream link stalls for `ms`, then carries on.
    LinkStall { ms: u64 },
    /// The receiver SIGKILLs itself (placed at one of its frames).
    ReceiverKill,
}

impl FaultAction {
    /// The VFS action, `None` for actions the VFS does not carry out (`abort`). `power` says
    /// whether a power cut ends the process (`Exit`, a worker) or leaves it alive to inspect
    /// the files (`InProcess`, the sweep's fast path).
    pub fn to_vfs(&self, power: PowerCutMode) -> Option<Action> {
        Some(match *self {
            FaultAction::Kill { when } => Action::Kill { when },
            FaultAction::PowerCut { unsynced, metadata } => Action::PowerCut {
                mode: power,
                unsynced,
                metadata,
            },
            FaultAction::Ioerr { code, persistent } => Action::Error { code, persistent },
            FaultAction::Full => Action::Error {
                code: ErrorCode::Full,
                persistent: false,
            },
            FaultAction::Busy => Action::Error {
                code: ErrorCode::Busy,
                persistent: false,
            },
            FaultAction::Torn { keep_bytes } => Action::TornWrite {
                keep_sectors: 0,
                keep_bytes: Some(keep_bytes),
                then: Some(ErrorCode::IoerrWrite),
            },
            FaultAction::LostWrite => Action::LostWrite,
            FaultAction::ShortRead { keep_bytes } => Action::ShortRead { keep_bytes },
            FaultAction::Delay { ms } => Action::Delay { ms },
            FaultAction::Abort
            | FaultAction::LinkBreak
            | FaultAction::LinkDrop { .. }
            | FaultAction::LinkStall { .. }
            | FaultAction::ReceiverKill => return None,
        })
    }

    /// A short name: `kill-before`, `power-cut`, `ioerr-fsync`, `busy`, ...
    pub fn label(&self) -> String {
        match self {
            FaultAction::Kill { when } => match when {
                KillWhen::Before => "kill-before".into(),
                KillWhen::After => "kill-after".into(),
            },
            FaultAction::PowerCut { metadata, .. } => match metadata {
                MetadataOrder::Ordered => "power-cut".into(),
                MetadataOrder::Independent => "power-cut (independent metadata)".into(),
            },
            FaultAction::Ioerr { code, persistent } => format!(
                "{}{}",
                kebab(code),
                if *persistent { " (persistent)" } else { "" }
            ),
            FaultAction::Full => "full".into(),
            FaultAction::Busy => "busy".into(),
            FaultAction::Torn { keep_bytes } => format!("torn (first {keep_bytes} bytes)"),
            FaultAction::LostWrite => "lost-write".into(),
            FaultAction::ShortRead { keep_bytes } => format!("short-read ({keep_bytes} bytes)"),
            FaultAction::Delay { ms } => format!("delay {ms} ms"),
            FaultAction::Abort => "abort".into(),
            FaultAction::LinkBreak => "link-break".into(),
            FaultAction::LinkDrop { len } => format!("link-drop ({len} bytes)"),
            FaultAction::LinkStall { ms } => format!("link-stall {ms} ms"),
            FaultAction::ReceiverKill => "receiver-kill".into(),
        }
    }
}

/// Kebab-case name of a serde enum value (`main-db`, `ioerr-fsync`).
pub fn kebab<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_but_abort_reaches_the_vfs() {
        let cut = FaultAction::PowerCut {
            unsynced: Unsynced::Random,
            metadata: MetadataOrder::Independent,
        };
        assert_eq!(
            cut.to_vfs(PowerCutMode::Exit),
            Some(Action::PowerCut {
                mode: PowerCutMode::Exit,
                unsynced: Unsynced::Random,
                metadata: MetadataOrder::Independent
            })
        );
        assert_eq!(
            FaultAction::Busy.to_vfs(PowerCutMode::Exit),
            Some(Action::Error {
                code: ErrorCode::Busy,
                persistent: false
            })
        );
        assert_eq!(
            FaultAction::Torn { keep_bytes: 7 }.to_vfs(PowerCutMode::Exit),
            Some(Action::TornWrite {
                keep_sectors: 0,
                keep_bytes: Some(7),
                then: Some(ErrorCode::IoerrWrite)
            })
        );
        assert_eq!(FaultAction::Abort.to_vfs(PowerCutMode::Exit), None);
        assert_eq!(
            FaultAction::Ioerr {
                code: ErrorCode::IoerrFsync,
                persistent: true
            }
            .label(),
            "ioerr-fsync (persistent)"
        );
    }
}
