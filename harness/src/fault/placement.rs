//! Where a fault happens, and the one function that turns an operation-placed fault into a
//! `vfs_faults` rule.

use super::action::{kebab, FaultAction};
use super::DEST_ROLE;
use serde::{Deserialize, Serialize};
use vfs_faults::{Action, FileKind, Occurrence, OpKind, PowerCutMode, Rule, Selector};

/// The `nth` operation of kind `op` on a file of kind `file` whose database has `role`
/// (`None`: any role), counted as the VFS counts a rule's matches (from 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpSite {
    pub op: OpKind,
    pub file: FileKind,
    pub role: Option<String>,
    pub nth: u64,
}

impl OpSite {
    /// The `nth` `op` on the destination's `file`.
    pub fn dest(op: OpKind, file: FileKind, nth: u64) -> OpSite {
        OpSite {
            op,
            file,
            role: Some(DEST_ROLE.to_string()),
            nth,
        }
    }

    /// `write main-db destination #3`.
    pub fn label(&self) -> String {
        format!(
            "{} {} {} #{}",
            kebab(&self.op),
            kebab(&self.file),
            self.role.as_deref().unwrap_or("-"),
            self.nth
        )
    }

    fn selector(&self) -> Selector {
        Selector {
            ops: vec![self.op],
            file: Some(self.file),
            role: self.role.clone(),
            when: Occurrence::Nth(self.nth),
            ..Selector::default()
        }
    }
}

/// A VFS action at one operation: what every mode hands the VFS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpFault {
    #[serde(flatten)]
    pub site: OpSite,
    pub action: Action,
}

impl OpFault {
    /// The rule that applies `action` at exactly `site`, named `name`. Every rule any mode
    /// gives the VFS is built here.
    pub fn rule(&self, name: String) -> Rule {
        Rule {
            name: Some(name),
            select: self.site.selector(),
            action: self.action.clone(),
        }
    }

    /// `write on destination main-db #2: {"kind":"error",...}`.
    pub fn describe(&self) -> String {
        let action = serde_json::to_string(&self.action).unwrap_or_default();
        format!(
            "{} on {} {} #{}: {action}",
            kebab(&self.site.op),
            self.site.role.as_deref().unwrap_or("-"),
            kebab(&self.site.file),
            self.site.nth
        )
    }
}

/// Where a fault happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Placement {
    /// At one operation of the fault VFS (crash-points places one at every operation, fuzz
    /// draws them).
    Op { site: OpSite },
    /// Right after the backup worker's n-th event (the worker kills itself).
    AfterEvent { n: u64 },
    /// `ms` after the backup worker started (the supervisor kills it).
    AfterDelay { ms: u64 },
    /// Inside the destination's final commit, the `remaining()==0` but not `SQLITE_DONE`
    /// window: the commit's sync of the WAL (the 2nd WAL sync; the 1st follows the WAL
    /// header) or, in the rollback modes, of the database file (only the commit syncs it).
    FinalCommit { wal: bool },
    /// Before the n-th `sqlite3_backup_step` call (an application abort).
    BeforeStep { n: u64 },
    /// Right after the strategy claimed its outcome (the claim is recorded first).
    AfterClaim,
    /// After byte `n` of the stream to the receiver (stream strategies' link faults).
    LinkByte { n: u64 },
    /// On the receiver's n-th frame.
    ReceiverFrame { n: u64 },
}

impl Placement {
    /// The operation this placement names, if it is one.
    pub fn site(&self) -> Option<OpSite> {
        match self {
            Placement::Op { site } => Some(site.clone()),
            Placement::FinalCommit { wal: true } => {
                Some(OpSite::dest(OpKind::Sync, FileKind::Wal, 2))
            }
            Placement::FinalCommit { wal: false } => {
                Some(OpSite::dest(OpKind::Sync, FileKind::MainDb, 1))
            }
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Placement::Op { site } => format!("at {}", site.label()),
            Placement::AfterEvent { n } => format!("after event #{n}"),
            Placement::AfterDelay { ms } => format!("after {ms} ms"),
            Placement::FinalCommit { wal } => format!(
                "in the final commit (dest {} sync)",
                if *wal { "wal" } else { "main-db" }
            ),
            Placement::BeforeStep { n } => format!("before step #{n}"),
            Placement::AfterClaim => "after the claim".into(),
            Placement::LinkByte { n } => format!("at link byte {n}"),
            Placement::ReceiverFrame { n } => format!("on receiver frame #{n}"),
        }
    }
}

/// One fault: an action at a placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub action: FaultAction,
    pub placement: Placement,
}

impl Fault {
    /// `kill-after at write main-db destination #12`.
    pub fn label(&self) -> String {
        format!("{} {}", self.action.label(), self.placement.label())
    }

    /// Whether a replay places the fault at the same point of the worker's own execution
    /// (a wall-clock delay does not).
    pub fn deterministic(&self) -> bool {
        !matches!(self.placement, Placement::AfterDelay { .. })
    }

    /// The operation-placed VFS fault, if the VFS carries this one out.
    pub fn op_fault(&self, power: PowerCutMode) -> Option<OpFault> {
        Some(OpFault {
            site: self.placement.site()?,
            action: self.action.to_vfs(power)?,
        })
    }

    /// The link fault the stream strategies carry out, if this is one.
    pub fn link_fault(&self) -> Option<crate::stream::link::LinkFault> {
        use crate::stream::link::LinkFault;
        Some(match (&self.action, &self.placement) {
            (FaultAction::LinkBreak, Placement::LinkByte { n }) => LinkFault::Break { at_byte: *n },
            (FaultAction::LinkDrop { len }, Placement::LinkByte { n }) => LinkFault::Drop {
                at_byte: *n,
                len: *len,
            },
            (FaultAction::LinkStall { ms }, Placement::LinkByte { n }) => LinkFault::Stall {
                at_byte: *n,
                ms: *ms,
            },
            (FaultAction::ReceiverKill, Placement::ReceiverFrame { n }) => {
                LinkFault::KillReceiver { frame: *n }
            }
            _ => return None,
        })
    }

    /// Whether the supervisor carries it out (a kill after a delay). A kill after an event is
    /// the worker's own: it SIGKILLs itself right after writing its n-th event, so the kill
    /// lands at the same point of its execution however loaded the machine is (a kill sent
    /// by the supervisor on reading the event raced the worker, which went on meanwhile).
    pub fn by_supervisor(&self) -> bool {
        matches!(self.placement, Placement::AfterDelay { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfs_faults::{ErrorCode, KillWhen};

    #[test]
    fn op_faults_become_one_rule_on_exactly_their_site() {
        let f = Fault {
            action: FaultAction::Kill {
                when: KillWhen::After,
            },
            placement: Placement::Op {
                site: OpSite::dest(OpKind::Write, FileKind::MainDb, 7),
            },
        };
        let rule = f.op_fault(PowerCutMode::Exit).unwrap().rule(f.label());
        assert_eq!(rule.select.role.as_deref(), Some(DEST_ROLE));
        assert_eq!(rule.select.when, Occurrence::Nth(7));
        assert_eq!(rule.select.ops, vec![OpKind::Write]);
        assert_eq!(
            rule.action,
            Action::Kill {
                when: KillWhen::After
            }
        );
        assert_eq!(f.label(), "kill-after at write main-db destination #7");
    }

    #[test]
    fn the_final_commit_is_the_commit_sync_of_the_journal_mode() {
        let io = FaultAction::Ioerr {
            code: ErrorCode::IoerrFsync,
            persistent: false,
        };
        let wal = Fault {
            action: io.clone(),
            placement: Placement::FinalCommit { wal: true },
        };
        let site = wal.op_fault(PowerCutMode::Exit).unwrap().site;
        assert_eq!((site.file, site.nth), (FileKind::Wal, 2));
        let db = Fault {
            action: io,
            placement: Placement::FinalCommit { wal: false },
        };
        let site = db.op_fault(PowerCutMode::Exit).unwrap().site;
        assert_eq!(
            (site.op, site.file, site.nth),
            (OpKind::Sync, FileKind::MainDb, 1)
        );
    }

    #[test]
    fn supervisor_and_worker_placements_get_no_rule() {
        for placement in [
            Placement::AfterEvent { n: 2 },
            Placement::AfterDelay { ms: 5 },
            Placement::AfterClaim,
            Placement::BeforeStep { n: 1 },
        ] {
            let f = Fault {
                action: FaultAction::Kill {
                    when: KillWhen::Before,
                },
                placement,
            };
            assert!(f.op_fault(PowerCutMode::Exit).is_none(), "{f:?}");
        }
        let abort = Fault {
            action: FaultAction::Abort,
            placement: Placement::Op {
                site: OpSite::dest(OpKind::Write, FileKind::MainDb, 1),
            },
        };
        assert!(abort.op_fault(PowerCutMode::Exit).is_none());
    }

    #[test]
    fn op_faults_keep_the_bug_base_json_shape() {
        let json = r#"{"op":"write","file":"main-db","role":"destination","nth":2,
                       "action":{"kind":"error","code":"ioerr-read","persistent":false}}"#;
        let f: OpFault = serde_json::from_str(json).unwrap();
        assert_eq!(f.site, OpSite::dest(OpKind::Write, FileKind::MainDb, 2));
        let back = serde_json::to_value(&f).unwrap();
        assert_eq!(back["role"], "destination");
        assert_eq!(back["nth"], 2);
    }
}
