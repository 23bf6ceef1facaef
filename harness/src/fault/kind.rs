//! The named fault kinds of storm mode (`[faults] kinds`), what each needs from a strategy,
//! and how each draws its one [`Fault`] from the iteration's generator.

use super::action::FaultAction;
use super::placement::{Fault, OpSite, Placement};
use crate::strategy::Facts;
use crate::workload::JournalMode;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use vfs_faults::{ErrorCode, FileKind, KillWhen, MetadataOrder, OpKind, Unsynced};

/// A fault kind a storm scenario can name. Every kind is placed at a seeded point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL right after the backup worker's n-th event (n in 1..=4), by the worker itself.
    KillAfterEvent,
    /// The worker's own VFS SIGKILLs it at the n-th destination operation: mostly database
    /// writes, sometimes the commit's journal sync, database sync or journal delete.
    KillDestOp,
    /// Like `kill-dest-op`, always after the n-th write of the destination database file.
    KillDestWrite,
    /// SIGKILL from the supervisor after a seeded wall-clock delay (not deterministic).
    KillDelay,
    /// `SQLITE_IOERR_FSYNC` on the final commit's sync: `remaining()==0`, no `SQLITE_DONE`.
    FinalCommitIoerr,
    /// `SQLITE_BUSY` on the final commit's sync (a retrying strategy must still end DONE).
    FinalCommitBusy,
    /// A power cut at a seeded destination operation (as `kill-dest-op` places them).
    PowerCut,
    /// A power cut right after the strategy claimed: a claimed success must be durable.
    PowerCutAfterClaim,
    /// A torn write (half of it written, then `IOERR_WRITE`) at the n-th destination write.
    Torn,
    /// `SQLITE_FULL` at the n-th destination write.
    Full,
    /// A transient I/O error, with the fitting code, at a seeded destination operation.
    IoerrTransient,
    /// A persistent I/O error, with the fitting code, from a seeded destination operation on.
    IoerrPersistent,
    /// `SQLITE_BUSY` at the destination's first lock or a seeded sync.
    Busy,
    /// The application calls `sqlite3_backup_finish()` before a seeded step.
    Abort,
    /// The link to the receiver breaks after a seeded byte of the stream (mid-frame).
    LinkBreak,
    /// A seeded run of the link's bytes is lost: the receiver sees a damaged frame.
    LinkDrop,
    /// The link stalls for a seeded time (bounded by the delay range), then carries on intact.
    LinkStall,
    /// The receiver SIGKILLs itself on a seeded frame.
    ReceiverKill,
    /// A transient `SQLITE_IOERR_READ` on a seeded read of the source database file.
    SourceIoerr,
}

/// What a kind needs from a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing: a process kill reaches any program.
    Nothing,
    /// The destination is written through our fault VFS.
    DestThroughVfs,
    /// The strategy drives `sqlite3_backup_step` itself.
    BackupApi,
    /// The strategy ships the destination over the stream link.
    Link,
    /// The strategy reads the source through our fault VFS.
    SourceThroughVfs,
}

/// What a draw needs to know about the iteration.
#[derive(Debug, Clone, Copy)]
pub struct DrawContext {
    /// Pages of the source: bounds the n-th destination write.
    pub pages: u32,
    /// The source's page size: with `pages`, bounds the byte a link fault lands on.
    pub page_size: u32,
    /// The strategy's `npage`: bounds the step an abort comes before.
    pub npage: i32,
    /// Bounds of `kill-delay`, in milliseconds (`min <= max`).
    pub delay_min_ms: u64,
    pub delay_max_ms: u64,
    /// The strategy's `events_before_work` fact: `kill-after-event` draws n up to it.
    pub events_before_work: u64,
    /// The destination's journal mode (`None`: SQLite's default, DELETE): decides which
    /// files a commit syncs and deletes.
    pub dest_journal: Option<JournalMode>,
    /// The metadata policy of power cuts.
    pub metadata: MetadataOrder,
    /// What power cuts do to unsynced changes.
    pub unsynced: Unsynced,
}

impl DrawContext {
    fn wal(&self) -> bool {
        self.dest_journal == Some(JournalMode::Wal)
    }
}

impl FaultKind {
    pub const ALL: [FaultKind; 19] = [
        FaultKind::KillAfterEvent,
        FaultKind::KillDestOp,
        FaultKind::KillDestWrite,
        FaultKind::KillDelay,
        FaultKind::FinalCommitIoerr,
        FaultKind::FinalCommitBusy,
        FaultKind::PowerCut,
        FaultKind::PowerCutAfterClaim,
        FaultKind::Torn,
        FaultKind::Full,
        FaultKind::IoerrTransient,
        FaultKind::IoerrPersistent,
        FaultKind::Busy,
        FaultKind::Abort,
        FaultKind::LinkBreak,
        FaultKind::LinkDrop,
        FaultKind::LinkStall,
        FaultKind::ReceiverKill,
        FaultKind::SourceIoerr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::KillAfterEvent => "kill-after-event",
            FaultKind::KillDestOp => "kill-dest-op",
            FaultKind::KillDestWrite => "kill-dest-write",
            FaultKind::KillDelay => "kill-delay",
            FaultKind::FinalCommitIoerr => "final-commit-ioerr",
            FaultKind::FinalCommitBusy => "final-commit-busy",
            FaultKind::PowerCut => "power-cut",
            FaultKind::PowerCutAfterClaim => "power-cut-after-claim",
            FaultKind::Torn => "torn",
            FaultKind::Full => "full",
            FaultKind::IoerrTransient => "ioerr-transient",
            FaultKind::IoerrPersistent => "ioerr-persistent",
            FaultKind::Busy => "busy",
            FaultKind::Abort => "abort",
            FaultKind::LinkBreak => "link-break",
            FaultKind::LinkDrop => "link-drop",
            FaultKind::LinkStall => "link-stall",
            FaultKind::ReceiverKill => "receiver-kill",
            FaultKind::SourceIoerr => "source-ioerr",
        }
    }

    pub fn requires(self) -> Requirement {
        match self {
            FaultKind::KillAfterEvent | FaultKind::KillDelay => Requirement::Nothing,
            FaultKind::Abort => Requirement::BackupApi,
            FaultKind::LinkBreak
            | FaultKind::LinkDrop
            | FaultKind::LinkStall
            | FaultKind::ReceiverKill => Requirement::Link,
            FaultKind::SourceIoerr => Requirement::SourceThroughVfs,
            _ => Requirement::DestThroughVfs,
        }
    }

    /// `Err(why)` when this kind cannot reach a strategy with `facts`.
    pub fn check(self, facts: &Facts) -> Result<(), String> {
        if self.reaches(facts) {
            return Ok(());
        }
        let what = match self.requires() {
            Requirement::Nothing => unreachable!("a kill reaches every strategy"),
            Requirement::DestThroughVfs => {
                "the destination written through the harness's fault VFS, and this strategy \
                 writes it with its own file I/O, program or link"
            }
            Requirement::BackupApi => "a strategy that calls sqlite3_backup_step itself",
            Requirement::Link => {
                "a strategy that ships the destination over the stream link (stream-vfs, \
                 stream-vfs-same-conn)"
            }
            Requirement::SourceThroughVfs => {
                "a strategy that reads the source through the harness's fault VFS (stream-vfs, \
                 stream-vfs-same-conn)"
            }
        };
        let reaching: Vec<&str> = FaultKind::ALL
            .iter()
            .filter(|k| k.reaches(facts))
            .map(|k| k.as_str())
            .collect();
        Err(format!(
            "fault `{}` needs {what} (the kinds that reach it: {})",
            self.as_str(),
            reaching.join(", ")
        ))
    }

    /// Whether this kind can reach a strategy with `facts`.
    pub fn reaches(self, facts: &Facts) -> bool {
        match self.requires() {
            Requirement::Nothing => true,
            Requirement::DestThroughVfs => facts.dest_through_vfs,
            Requirement::BackupApi => facts.backup_api,
            Requirement::Link => facts.link,
            Requirement::SourceThroughVfs => facts.source_through_vfs,
        }
    }

    /// The fault of one iteration, drawn from `rng`.
    pub fn draw(self, cx: &DrawContext, rng: &mut ChaCha8Rng) -> Fault {
        let pages = u64::from(cx.pages.max(2));
        let nth_write = |rng: &mut ChaCha8Rng| {
            OpSite::dest(OpKind::Write, FileKind::MainDb, rng.random_range(1..=pages))
        };
        let at = |site: OpSite| Placement::Op { site };
        // A byte of the stream a full copy ships: every page once in a write frame, then the
        // commit's sync frame and the final flush's (18 bytes each).
        let link_byte = |rng: &mut ChaCha8Rng| Placement::LinkByte {
            n: rng.random_range(1..=pages * (u64::from(cx.page_size.max(512)) + 18) + 36),
        };
        let (action, placement) = match self {
            FaultKind::KillAfterEvent => (
                FaultAction::Kill {
                    when: KillWhen::Before,
                },
                // Only events after which the strategy still has work to do: a kill after the
                // claim interrupts nothing. Deeper points are kill-dest-op's job.
                Placement::AfterEvent {
                    n: rng.random_range(1..=cx.events_before_work.max(1)),
                },
            ),
            FaultKind::KillDestOp => {
                let site = commit_or_write_site(rng, pages, cx.dest_journal);
                let when = if site.op == OpKind::Write || rng.random_bool(0.5) {
                    KillWhen::After
                } else {
                    KillWhen::Before
                };
                (FaultAction::Kill { when }, at(site))
            }
            FaultKind::KillDestWrite => (
                FaultAction::Kill {
                    when: KillWhen::After,
                },
                at(nth_write(rng)),
            ),
            FaultKind::KillDelay => (
                FaultAction::Kill {
                    when: KillWhen::Before,
                },
                Placement::AfterDelay {
                    ms: rng.random_range(cx.delay_min_ms..=cx.delay_max_ms),
                },
            ),
            FaultKind::FinalCommitIoerr => (
                FaultAction::Ioerr {
                    code: ErrorCode::IoerrFsync,
                    persistent: false,
                },
                Placement::FinalCommit { wal: cx.wal() },
            ),
            FaultKind::FinalCommitBusy => {
                (FaultAction::Busy, Placement::FinalCommit { wal: cx.wal() })
            }
            FaultKind::PowerCut => (
                FaultAction::PowerCut {
                    unsynced: cx.unsynced,
                    metadata: cx.metadata,
                },
                at(commit_or_write_site(rng, pages, cx.dest_journal)),
            ),
            FaultKind::PowerCutAfterClaim => (
                FaultAction::PowerCut {
                    unsynced: cx.unsynced,
                    metadata: cx.metadata,
                },
                Placement::AfterClaim,
            ),
            FaultKind::Torn => {
                let page = 512u64 << rng.random_range(0..4u32);
                (
                    FaultAction::Torn {
                        keep_bytes: page / 2,
                    },
                    at(nth_write(rng)),
                )
            }
            FaultKind::Full => (FaultAction::Full, at(nth_write(rng))),
            FaultKind::IoerrTransient | FaultKind::IoerrPersistent => {
                let site = if rng.random_range(0..4u32) == 0 {
                    OpSite::dest(OpKind::Sync, FileKind::MainDb, 1)
                } else {
                    nth_write(rng)
                };
                let code =
                    crate::fault::point::ioerr_code(site.op).unwrap_or(ErrorCode::IoerrWrite);
                (
                    FaultAction::Ioerr {
                        code,
                        persistent: self == FaultKind::IoerrPersistent,
                    },
                    at(site),
                )
            }
            FaultKind::Busy => {
                let site = if rng.random_bool(0.5) {
                    OpSite::dest(OpKind::Lock, FileKind::MainDb, 1)
                } else {
                    OpSite::dest(OpKind::Sync, FileKind::MainDb, 1)
                };
                (FaultAction::Busy, at(site))
            }
            FaultKind::Abort => {
                let steps = if cx.npage <= 0 {
                    1
                } else {
                    (u64::from(cx.pages).div_ceil(cx.npage as u64)).max(1)
                };
                (
                    FaultAction::Abort,
                    Placement::BeforeStep {
                        n: rng.random_range(1..=steps),
                    },
                )
            }
            FaultKind::LinkBreak => (FaultAction::LinkBreak, link_byte(rng)),
            FaultKind::LinkDrop => (
                FaultAction::LinkDrop {
                    len: rng.random_range(1..=64),
                },
                link_byte(rng),
            ),
            FaultKind::LinkStall => (
                FaultAction::LinkStall {
                    ms: rng.random_range(cx.delay_min_ms..=cx.delay_max_ms),
                },
                link_byte(rng),
            ),
            FaultKind::ReceiverKill => (
                FaultAction::ReceiverKill,
                // The frames of a full copy: a write per page, the commit's sync, the flush.
                Placement::ReceiverFrame {
                    n: rng.random_range(1..=pages + 2),
                },
            ),
            FaultKind::SourceIoerr => (
                FaultAction::Ioerr {
                    code: ErrorCode::IoerrRead,
                    persistent: false,
                },
                at(OpSite {
                    op: OpKind::Read,
                    file: FileKind::MainDb,
                    role: Some(super::SOURCE_ROLE.to_string()),
                    nth: rng.random_range(1..=pages.div_ceil(2)),
                }),
            ),
        };
        Fault { action, placement }
    }
}

/// Mostly a destination write (the long phase), sometimes one of the commit's durability
/// points, as the destination's journal mode has them: rollback modes sync the journal, then
/// the database, then delete (DELETE), truncate (TRUNCATE) or overwrite (PERSIST) the journal;
/// MEMORY and OFF have no journal file; WAL syncs the WAL (after its header, at the commit)
/// and writes and syncs the database only when the close checkpoints it.
fn commit_or_write_site(rng: &mut ChaCha8Rng, pages: u64, journal: Option<JournalMode>) -> OpSite {
    let write =
        |rng: &mut ChaCha8Rng, file| OpSite::dest(OpKind::Write, file, rng.random_range(1..=pages));
    let pick = rng.random_range(0..8u32);
    match journal.unwrap_or(JournalMode::Delete) {
        JournalMode::Wal => match pick {
            0 | 1 => OpSite::dest(OpKind::Sync, FileKind::Wal, rng.random_range(1..=2)),
            2 => OpSite::dest(OpKind::Sync, FileKind::MainDb, 1),
            3 | 4 => write(rng, FileKind::MainDb),
            _ => write(rng, FileKind::Wal),
        },
        JournalMode::Memory | JournalMode::Off => match pick {
            0 | 1 => OpSite::dest(OpKind::Sync, FileKind::MainDb, 1),
            _ => write(rng, FileKind::MainDb),
        },
        mode => match pick {
            0 => OpSite::dest(OpKind::Sync, FileKind::MainJournal, rng.random_range(1..=2)),
            1 => OpSite::dest(OpKind::Sync, FileKind::MainDb, 1),
            2 if mode == JournalMode::Delete => {
                OpSite::dest(OpKind::Delete, FileKind::MainJournal, 1)
            }
            2 if mode == JournalMode::Truncate => {
                OpSite::dest(OpKind::Truncate, FileKind::MainJournal, 1)
            }
            2 => OpSite::dest(OpKind::Write, FileKind::MainJournal, 1),
            _ => write(rng, FileKind::MainDb),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{API_FACTS, FILE_COPY_FACTS};
    use rand::SeedableRng;

    fn cx() -> DrawContext {
        DrawContext {
            pages: 100,
            page_size: 4096,
            npage: 10,
            delay_min_ms: 0,
            delay_max_ms: 50,
            events_before_work: 4,
            dest_journal: None,
            metadata: MetadataOrder::Ordered,
            unsynced: Unsynced::Random,
        }
    }

    #[test]
    fn kill_delays_are_drawn_between_the_bounds() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let c = DrawContext {
                delay_min_ms: 20,
                delay_max_ms: 23,
                ..cx()
            };
            match FaultKind::KillDelay
                .draw(&c, &mut ChaCha8Rng::seed_from_u64(seed))
                .placement
            {
                Placement::AfterDelay { ms } => seen.insert(ms),
                other => panic!("{other:?}"),
            };
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![20, 21, 22, 23]);
    }

    #[test]
    fn every_kind_draws_a_fault_of_its_own_action() {
        for kind in FaultKind::ALL {
            for seed in 0..50 {
                let f = kind.draw(&cx(), &mut ChaCha8Rng::seed_from_u64(seed));
                let ok = match kind {
                    FaultKind::KillAfterEvent => {
                        matches!(f.placement, Placement::AfterEvent { n } if (1..=4).contains(&n))
                    }
                    FaultKind::KillDelay => {
                        matches!(f.placement, Placement::AfterDelay { ms } if ms <= 50)
                    }
                    FaultKind::KillDestOp | FaultKind::KillDestWrite => {
                        matches!(f.action, FaultAction::Kill { .. }) && f.placement.site().is_some()
                    }
                    FaultKind::FinalCommitIoerr => {
                        matches!(f.action, FaultAction::Ioerr { .. })
                            && f.placement == Placement::FinalCommit { wal: false }
                    }
                    FaultKind::FinalCommitBusy => f.action == FaultAction::Busy,
                    FaultKind::PowerCut => {
                        matches!(f.action, FaultAction::PowerCut { .. })
                            && f.placement.site().is_some()
                    }
                    FaultKind::PowerCutAfterClaim => f.placement == Placement::AfterClaim,
                    FaultKind::Torn => matches!(f.action, FaultAction::Torn { .. }),
                    FaultKind::Full => f.action == FaultAction::Full,
                    FaultKind::IoerrTransient => {
                        matches!(
                            f.action,
                            FaultAction::Ioerr {
                                persistent: false,
                                ..
                            }
                        )
                    }
                    FaultKind::IoerrPersistent => {
                        matches!(
                            f.action,
                            FaultAction::Ioerr {
                                persistent: true,
                                ..
                            }
                        )
                    }
                    FaultKind::Busy => f.action == FaultAction::Busy,
                    FaultKind::Abort => {
                        matches!(f.placement, Placement::BeforeStep { n } if (1..=10).contains(&n))
                    }
                    FaultKind::LinkBreak | FaultKind::LinkDrop | FaultKind::LinkStall => {
                        matches!(f.placement, Placement::LinkByte { n } if (1..=411_436).contains(&n))
                            && f.link_fault().is_some()
                    }
                    FaultKind::ReceiverKill => {
                        matches!(f.placement, Placement::ReceiverFrame { n } if (1..=102).contains(&n))
                            && f.link_fault().is_some()
                    }
                    FaultKind::SourceIoerr => f
                        .placement
                        .site()
                        .is_some_and(|s| s.role.as_deref() == Some(super::super::SOURCE_ROLE)),
                };
                assert!(ok, "{kind:?} drew {f:?}");
            }
        }
    }

    #[test]
    fn commit_sites_exist_in_the_destination_journal_mode() {
        for seed in 0..200 {
            let rng = &mut ChaCha8Rng::seed_from_u64(seed);
            let wal = commit_or_write_site(rng, 50, Some(JournalMode::Wal));
            assert_ne!(wal.file, FileKind::MainJournal, "{wal:?}");
            let mem = commit_or_write_site(rng, 50, Some(JournalMode::Memory));
            assert_eq!(mem.file, FileKind::MainDb, "{mem:?}");
            let trunc = commit_or_write_site(rng, 50, Some(JournalMode::Truncate));
            assert_ne!(trunc.op, OpKind::Delete, "{trunc:?}");
        }
    }

    #[test]
    fn vfs_kinds_are_refused_for_strategies_outside_the_vfs() {
        for kind in FaultKind::ALL {
            let outside = kind.check(&FILE_COPY_FACTS);
            match kind {
                FaultKind::KillAfterEvent | FaultKind::KillDelay => assert!(outside.is_ok()),
                _ => assert!(outside.is_err(), "{kind:?}"),
            }
            let stream_only = matches!(
                kind.requires(),
                Requirement::Link | Requirement::SourceThroughVfs
            );
            assert_eq!(kind.check(&API_FACTS).is_ok(), !stream_only, "{kind:?}");
            // The stream strategies: process kills, aborts, link and source faults; not
            // destination VFS faults (their destination is not written through it).
            let stream = kind.check(&crate::strategy::STREAM_FACTS);
            assert_eq!(
                stream.is_ok(),
                kind.requires() != Requirement::DestThroughVfs,
                "{kind:?}"
            );
        }
    }
}
