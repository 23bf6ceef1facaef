//! What goes wrong in one iteration: the destination it starts from and the single fault
//! placed in it, drawn from the scenario seed, the strategy and the iteration number only.
//!
//! The same triple always gives the same plan, which is what makes `replay ID` work. To add a
//! fault kind: add a [`FaultKind`] variant in `scenario.rs`, a [`PlannedFault`] variant here,
//! and its arms in [`draw_fault`], [`PlannedFault::vfs_plan`] and the supervisor's kill logic.

use crate::scenario::{DestinationChoice, FaultKind, Scenario, StrategyEntry};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use vfs_faults::{
    Action, ErrorCode, FaultPlan, FileKind, KillWhen, Occurrence, OpKind, Rule, Selector,
};

/// The role the backup worker gives the destination path in its fault VFS.
pub const DEST_ROLE: &str = "destination";
/// The role the backup worker gives the source path in its fault VFS.
pub const SOURCE_ROLE: &str = "source";

/// The single fault of an iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PlannedFault {
    /// Run to completion.
    None,
    /// SIGKILL from the supervisor after the backup worker's n-th progress event.
    KillAfterEvent { n: u64 },
    /// The worker's VFS kills it at the `nth` `op` on the destination's `file`.
    KillDestOp {
        op: OpKind,
        file: FileKind,
        nth: u64,
        when: KillWhen,
    },
    /// SIGKILL from the supervisor `ms` after the backup worker started.
    KillDelay { ms: u64 },
    /// An I/O error on the destination's commit sync: the database file's sync in rollback
    /// modes (only the commit syncs it), the WAL's second sync in WAL mode (the first one
    /// follows the WAL header). The backup fails after `remaining()` reached 0 and before
    /// `SQLITE_DONE`.
    FinalCommitIoerr,
}

impl PlannedFault {
    /// Whether a replay places the fault at the same point of the worker's own execution.
    /// (The writers run concurrently, so the source content at that point still varies.)
    pub fn deterministic(&self) -> bool {
        !matches!(self, PlannedFault::KillDelay { .. })
    }

    /// The `faults_hit` key of this fault when it fires.
    pub fn hit_key(&self) -> Option<&'static str> {
        match self {
            PlannedFault::None => None,
            PlannedFault::KillAfterEvent { .. }
            | PlannedFault::KillDestOp { .. }
            | PlannedFault::KillDelay { .. } => Some("kill"),
            PlannedFault::FinalCommitIoerr => Some("ioerr"),
        }
    }

    /// A short human description.
    pub fn label(&self) -> String {
        match self {
            PlannedFault::None => "none".into(),
            PlannedFault::KillAfterEvent { n } => format!("kill after event #{n}"),
            PlannedFault::KillDestOp {
                op,
                file,
                nth,
                when,
            } => format!("kill {when:?} dest {file:?} {op:?} #{nth}").to_lowercase(),
            PlannedFault::KillDelay { ms } => format!("kill after {ms} ms"),
            PlannedFault::FinalCommitIoerr => "ioerr-fsync on the dest commit sync".into(),
        }
    }

    /// The fault plan the backup worker's VFS gets, if the fault lives in the VFS.
    /// `destination` decides which file the commit syncs (the WAL or the database).
    pub fn vfs_plan(&self, seed: u64, destination: DestinationChoice) -> FaultPlan {
        let rules = match self {
            PlannedFault::KillDestOp {
                op,
                file,
                nth,
                when,
            } => vec![Rule {
                name: Some(self.label()),
                select: Selector {
                    ops: vec![*op],
                    file: Some(*file),
                    role: Some(DEST_ROLE.into()),
                    when: Occurrence::Nth(*nth),
                    ..Selector::default()
                },
                action: Action::Kill { when: *when },
            }],
            PlannedFault::FinalCommitIoerr => {
                // Rollback journal: only the commit syncs the database file, once. WAL
                // (synchronous=FULL): the first WAL sync follows the WAL header, the second
                // is the commit; the database file is synced only by a later checkpoint.
                let (file, when) = if destination.is_wal() {
                    (FileKind::Wal, Occurrence::Nth(2))
                } else {
                    (FileKind::MainDb, Occurrence::Nth(1))
                };
                vec![Rule {
                    name: Some(format!("ioerr-fsync dest {file:?} commit sync").to_lowercase()),
                    select: Selector {
                        ops: vec![OpKind::Sync],
                        file: Some(file),
                        role: Some(DEST_ROLE.into()),
                        when,
                        ..Selector::default()
                    },
                    action: Action::Error {
                        code: ErrorCode::IoerrFsync,
                        persistent: false,
                    },
                }]
            }
            _ => Vec::new(),
        };
        FaultPlan { seed, rules }
    }
}

/// Everything drawn for one iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationPlan {
    pub iteration: u32,
    pub destination: DestinationChoice,
    pub fault: PlannedFault,
    /// Seed of this iteration (destination content, VFS plan).
    pub seed: u64,
}

/// Strategies whose destination writes go through SQLite, and so through the fault VFS.
/// File-copy strategies write with `std::fs`, and `external:<label>` tools with their own
/// SQLite, where only process kills reach them.
pub fn writes_dest_through_vfs(strategy: &str) -> bool {
    !matches!(strategy, "copy-locked" | "copy-naive" | "seed-option-b")
        && !crate::strategy::external::is_external(strategy)
}

/// A stable 64-bit hash (FNV-1a) of the scenario seed, strategy and iteration.
fn iteration_seed(seed: u64, strategy: &str, iteration: u32) -> u64 {
    let h = crate::stable_hash::fnv1a(&seed.to_le_bytes());
    let h = crate::stable_hash::fnv1a_from(h, strategy.as_bytes());
    crate::stable_hash::fnv1a_from(h, &iteration.to_le_bytes())
}

/// Draws the plan of `iteration` (0-based) for `entry` in `scenario`.
pub fn plan_iteration(scenario: &Scenario, entry: &StrategyEntry, iteration: u32) -> IterationPlan {
    let seed = iteration_seed(scenario.seed, &entry.name, iteration);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let kinds = entry
        .destinations
        .as_deref()
        .unwrap_or(&scenario.destination.kinds);
    // Cycle through the destination kinds so every kind is covered in few iterations.
    let destination = kinds[iteration as usize % kinds.len()];
    let complete = entry
        .complete_fraction
        .unwrap_or(scenario.faults.complete_fraction);
    let fault_kinds = entry.faults.as_deref().unwrap_or(&scenario.faults.kinds);
    // Stratified rather than drawn: iteration i is faulted when the running count of faulted
    // iterations, ceil(i * f), steps up, so a few iterations already mix both kinds, and the
    // fault kinds take turns. The fault's parameters are drawn from the seed.
    let f = 1.0 - complete;
    let before = (f64::from(iteration) * f).ceil() as usize;
    let upto = (f64::from(iteration + 1) * f).ceil() as usize;
    let fault = if !fault_kinds.is_empty() && upto > before {
        let kind = fault_kinds[before % fault_kinds.len()];
        draw_fault(scenario, &entry.name, kind, &mut rng)
    } else {
        PlannedFault::None
    };
    IterationPlan {
        iteration,
        destination,
        fault,
        seed,
    }
}

fn draw_fault(
    scenario: &Scenario,
    strategy: &str,
    kind: FaultKind,
    rng: &mut ChaCha8Rng,
) -> PlannedFault {
    let through_vfs = writes_dest_through_vfs(strategy);
    match kind {
        FaultKind::KillDestWrite if through_vfs => PlannedFault::KillDestOp {
            op: OpKind::Write,
            file: FileKind::MainDb,
            nth: rng.random_range(1..=u64::from(scenario.source.pages.max(2))),
            when: KillWhen::After,
        },
        FaultKind::KillDestOp if through_vfs => {
            // Mostly destination database writes (the long phase), sometimes the commit's
            // durability points: journal sync, db sync, journal delete.
            let pages = u64::from(scenario.source.pages.max(2));
            match rng.random_range(0..8u32) {
                0 => PlannedFault::KillDestOp {
                    op: OpKind::Sync,
                    file: FileKind::MainJournal,
                    nth: rng.random_range(1..=2),
                    when: KillWhen::After,
                },
                1 => PlannedFault::KillDestOp {
                    op: OpKind::Sync,
                    file: FileKind::MainDb,
                    nth: 1,
                    when: if rng.random_bool(0.5) {
                        KillWhen::Before
                    } else {
                        KillWhen::After
                    },
                },
                2 => PlannedFault::KillDestOp {
                    op: OpKind::Delete,
                    file: FileKind::MainJournal,
                    nth: 1,
                    when: KillWhen::Before,
                },
                _ => PlannedFault::KillDestOp {
                    op: OpKind::Write,
                    file: FileKind::MainDb,
                    nth: rng.random_range(1..=pages),
                    when: KillWhen::After,
                },
            }
        }
        FaultKind::FinalCommitIoerr if through_vfs => PlannedFault::FinalCommitIoerr,
        FaultKind::KillDelay => PlannedFault::KillDelay {
            ms: rng.random_range(0..=scenario.faults.delay_max_ms),
        },
        // Kill after event n (1..=4: one-shot, VACUUM and copy strategies send only a few
        // events before their claim, and a kill after the claim interrupts nothing; deeper
        // points of stepped backups are kill-dest-op's job). Also the stand-in for VFS faults
        // on strategies that do not write the destination through SQLite.
        _ => PlannedFault::KillAfterEvent {
            n: rng.random_range(1..=4),
        },
    }
}

/// The replay ID of an iteration: `scenario:seed:strategy:iteration`.
pub fn replay_id(scenario: &str, seed: u64, strategy: &str, iteration: u32) -> String {
    format!("{scenario}:{seed}:{strategy}:{iteration}")
}

/// Splits a replay ID into (scenario, seed, strategy, iteration).
/// An `external:<label>` strategy spans two parts (labels have no `:`).
pub fn parse_replay_id(id: &str) -> Option<(String, u64, String, u32)> {
    let mut parts = id.rsplitn(4, ':');
    let iteration = parts.next()?.parse().ok()?;
    let mut strategy = parts.next()?.to_string();
    let mut seed_part = parts.next()?;
    let mut rest = parts.next()?;
    if seed_part == "external" {
        strategy = format!("external:{strategy}");
        (rest, seed_part) = rest.rsplit_once(':')?;
    }
    let seed = seed_part.parse().ok()?;
    Some((rest.to_string(), seed, strategy, iteration))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario() -> Scenario {
        Scenario::parse(
            "seed = 9\n[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
             [[strategy]]\nname = \"copy-naive\"\nexpect = \"unsafe\"\n",
            Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn plans_are_a_function_of_seed_strategy_iteration() {
        let s = scenario();
        for i in 0..50 {
            assert_eq!(
                plan_iteration(&s, &s.strategies[0], i),
                plan_iteration(&s, &s.strategies[0], i)
            );
        }
        let a: Vec<_> = (0..50)
            .map(|i| plan_iteration(&s, &s.strategies[0], i))
            .collect();
        let mut s2 = s.clone();
        s2.seed = 10;
        let b: Vec<_> = (0..50)
            .map(|i| plan_iteration(&s2, &s2.strategies[0], i))
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn faulted_iterations_follow_the_fraction_and_kinds_take_turns() {
        let mut s = scenario();
        let none = (0..400)
            .filter(|&i| plan_iteration(&s, &s.strategies[0], i).fault == PlannedFault::None)
            .count();
        assert_eq!(none, 200);
        // The first iteration is faulted, so even a 1-iteration run tests a fault.
        assert_ne!(
            plan_iteration(&s, &s.strategies[0], 0).fault,
            PlannedFault::None
        );
        s.faults.kinds = vec![FaultKind::KillDelay, FaultKind::FinalCommitIoerr];
        let kinds: Vec<_> = (0..4)
            .map(|i| plan_iteration(&s, &s.strategies[0], i).fault)
            .collect();
        assert!(
            matches!(kinds[0], PlannedFault::KillDelay { .. }),
            "{kinds:?}"
        );
        assert_eq!(kinds[1], PlannedFault::None);
        assert_eq!(kinds[2], PlannedFault::FinalCommitIoerr);
        s.faults.complete_fraction = 1.0;
        assert!(
            (0..50).all(|i| plan_iteration(&s, &s.strategies[0], i).fault == PlannedFault::None)
        );
    }

    #[test]
    fn copy_strategies_get_no_vfs_faults() {
        let s = scenario();
        for i in 0..200 {
            let f = plan_iteration(&s, &s.strategies[1], i).fault;
            assert!(
                !matches!(
                    f,
                    PlannedFault::KillDestOp { .. } | PlannedFault::FinalCommitIoerr
                ),
                "{f:?}"
            );
            assert!(f.vfs_plan(1, DestinationChoice::Fresh).rules.is_empty());
        }
    }

    #[test]
    fn vfs_faults_become_rules_on_the_destination_role() {
        let f = PlannedFault::KillDestOp {
            op: OpKind::Write,
            file: FileKind::MainDb,
            nth: 7,
            when: KillWhen::After,
        };
        let plan = f.vfs_plan(3, DestinationChoice::Fresh);
        assert_eq!(plan.rules.len(), 1);
        assert_eq!(plan.rules[0].select.role.as_deref(), Some(DEST_ROLE));
        assert_eq!(plan.rules[0].select.when, Occurrence::Nth(7));
        let wal = PlannedFault::FinalCommitIoerr.vfs_plan(3, DestinationChoice::ExistingWal);
        assert_eq!(wal.rules.len(), 1);
        assert_eq!(wal.rules[0].select.file, Some(FileKind::Wal));
        assert_eq!(wal.rules[0].select.when, Occurrence::Nth(2));
        let db = PlannedFault::FinalCommitIoerr.vfs_plan(3, DestinationChoice::ConflictingDelete);
        assert_eq!(db.rules[0].select.file, Some(FileKind::MainDb));
    }

    #[test]
    fn replay_ids_round_trip() {
        let id = replay_id("wal-storm", 42, "api-step", 7);
        assert_eq!(
            parse_replay_id(&id),
            Some(("wal-storm".into(), 42, "api-step".into(), 7))
        );
        let id = replay_id("scenarios/x.toml", 1, "copy-naive", 0);
        assert_eq!(parse_replay_id(&id).unwrap().0, "scenarios/x.toml");
        assert_eq!(parse_replay_id("nonsense"), None);
        let id = replay_id("a:b.toml", 5, "external:python-backup", 2);
        assert_eq!(
            parse_replay_id(&id),
            Some(("a:b.toml".into(), 5, "external:python-backup".into(), 2))
        );
        assert!(!writes_dest_through_vfs("external:python-backup"));
    }
}
