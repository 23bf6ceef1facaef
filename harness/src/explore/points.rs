//! Crash points: every operation of a fault-free trace × every fault kind that applies to it,
//! each turned into a one-rule fault plan that selects exactly that operation.
//!
//! Why its own module: the enumeration is the contract of the sweep (`points_total`), and the
//! mapping from an operation to its faults is a design decision worth reading in one place.
//!
//! Which faults apply:
//! * `kill-before`, `kill-after`: every operation (process death; a child process).
//! * `power-cut` (in-process variant): every operation that returns a result code.
//! * `ioerr-transient`, `ioerr-persistent`, with the fitting code: read → `IOERR_READ`,
//!   write → `IOERR_WRITE`, sync → `IOERR_FSYNC`, truncate → `IOERR_TRUNCATE`,
//!   delete → `IOERR_DELETE`, unlock → `IOERR_UNLOCK`, open → `CANTOPEN`. Locks (file and shm)
//!   get `BUSY` instead (below); file size, access, shm-map, file-control, fetch and the
//!   informational calls have no fitting code in the VFS's plan language and get no I/O error.
//! * `full` (`SQLITE_FULL`) and `torn` (half the bytes written, then `IOERR_WRITE`) on writes.
//!   A torn write that reports success would be silent corruption no strategy can survive, so
//!   the torn write is always reported.
//! * `busy` (`SQLITE_BUSY`) on the destination's syncs, locks and shm locks.
//!
//! Not modelled: `power-cut` for strategies that write the destination with `std::fs` (see
//! [`kinds_for`]); their power-cut points are left out and the report notes it.
//!
//! The occurrence number `nth` of a point counts the trace entries its selector matches
//! (operation kind, file kind and role) up to and including the point, exactly as the VFS
//! counts a rule's matches.

pub use crate::fault::point::{applicable, ioerr_code};
pub use crate::fault::PointKind;
use crate::fault::{OpFault, OpSite};
use crate::replay_id::ReplayId;
use crate::scenario::DestinationChoice;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use vfs_faults::{FaultPlan, FileKind, OpKind, PowerCutMode, TraceEntry};

/// Why `power-cut` is not modelled for strategies that change the destination with `std::fs`.
pub const POWER_CUT_NOT_MODELLED: &str = "power-cut: file writes bypass the VFS";

/// The fault kinds of `kinds` that can honestly be tested on `strategy`, and a note for each
/// one that cannot.
///
/// A power cut reverts the unsynced writes in the VFS's undo log. Strategies that copy, sync
/// and rename the destination with `std::fs` (copy-locked, copy-naive, seed-option-b, external
/// tools) write past that log, so a cut would revert none of their writes: a strategy that
/// dropped its fsyncs would still pass. Their power-cut points are therefore not enumerated
/// (neither in `points_total` nor in `points_tested`) and the report says so.
pub fn kinds_for(strategy: &str, kinds: &[PointKind]) -> (Vec<PointKind>, Vec<String>) {
    let through_vfs = crate::strategy::facts(strategy).is_some_and(|f| f.dest_through_vfs);
    if through_vfs || !kinds.iter().any(|k| k.is_power_cut()) {
        return (kinds.to_vec(), Vec::new());
    }
    let kept = kinds
        .iter()
        .copied()
        .filter(|k| !k.is_power_cut())
        .collect();
    (kept, vec![POWER_CUT_NOT_MODELLED.to_string()])
}

/// One crash point: a fault kind at one operation of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashPoint {
    /// Index of the operation in the fault-free trace.
    pub index: u64,
    pub op: OpKind,
    pub file: FileKind,
    pub role: Option<String>,
    /// Occurrence number of (op, file, role) at this index, as the rule counts it.
    pub nth: u64,
    /// Bytes of the operation (writes: for the torn write).
    pub len: Option<i64>,
    pub kind: PointKind,
}

impl CrashPoint {
    /// `kill-before write main-db destination #3 (op 41)`.
    pub fn label(&self) -> String {
        use crate::fault::action::kebab;
        format!(
            "{} {} {} {} #{} (op {})",
            self.kind.as_str(),
            kebab(&self.op),
            kebab(&self.file),
            self.role.as_deref().unwrap_or("-"),
            self.nth,
            self.index
        )
    }

    /// The one-rule plan that places this fault at exactly this operation (power cuts in the
    /// in-process variant).
    pub fn plan(&self, seed: u64) -> FaultPlan {
        self.plan_with(seed, PowerCutMode::InProcess)
    }

    /// [`CrashPoint::plan`] with the power-cut mode chosen (`Exit` for a child process).
    pub fn plan_with(&self, seed: u64, power_cut: PowerCutMode) -> FaultPlan {
        let site = OpSite {
            op: self.op,
            file: self.file,
            role: self.role.clone(),
            nth: self.nth,
        };
        let action = self
            .kind
            .action(self.op, self.len)
            .to_vfs(power_cut)
            .expect("every point kind is a VFS action");
        FaultPlan {
            seed: seed ^ self.index.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            rules: vec![OpFault { site, action }.rule(self.label())],
        }
    }
}

/// Every crash point of `trace` whose kind is in `kinds`.
pub fn enumerate(trace: &[TraceEntry], kinds: &[PointKind]) -> Vec<CrashPoint> {
    let mut by_key: HashMap<(OpKind, FileKind, Option<String>), u64> = HashMap::new();
    let mut by_op_file: HashMap<(OpKind, FileKind), u64> = HashMap::new();
    let mut out = Vec::new();
    for e in trace {
        *by_op_file.entry((e.op, e.file)).or_default() += 1;
        let n = by_key.entry((e.op, e.file, e.role.clone())).or_default();
        *n += 1;
        // A rule with no role matches every role: count over all of them.
        let nth = if e.role.is_some() {
            *n
        } else {
            by_op_file[&(e.op, e.file)]
        };
        for kind in applicable(e.op, e.role.as_deref()) {
            if kinds.contains(&kind) {
                out.push(CrashPoint {
                    index: e.index,
                    op: e.op,
                    file: e.file,
                    role: e.role.clone(),
                    nth,
                    len: e.len,
                    kind,
                });
            }
        }
    }
    // One after-claim power cut per trace, named after its last operation.
    if let (true, Some(last)) = (kinds.contains(&PointKind::PowerCutAfterClaim), trace.last()) {
        let nth = out
            .iter()
            .rev()
            .find(|p| p.index == last.index)
            .map_or(1, |p| p.nth);
        out.push(CrashPoint {
            index: last.index,
            op: last.op,
            file: last.file,
            role: last.role.clone(),
            nth,
            len: last.len,
            kind: PointKind::PowerCutAfterClaim,
        });
    }
    out
}

/// The replay ID of a crash point (the grammar is `crate::replay_id`'s).
pub fn replay_id(
    scenario: &str,
    seed: u64,
    strategy: &str,
    d: DestinationChoice,
    p: &CrashPoint,
) -> String {
    ReplayId::Crash {
        scenario: scenario.to_string(),
        seed,
        strategy: strategy.to_string(),
        destination: d.as_str().to_string(),
        index: p.index,
        kind: p.kind.as_str().to_string(),
    }
    .to_string()
}

/// A parsed crash-point replay ID.
#[derive(Debug, Clone, PartialEq)]
pub struct PointId {
    pub scenario: String,
    pub seed: u64,
    pub strategy: String,
    pub destination: DestinationChoice,
    pub index: u64,
    pub kind: PointKind,
}

/// A crash-point ID with a known destination and fault kind.
pub fn parse_replay_id(id: &str) -> Option<PointId> {
    let ReplayId::Crash {
        scenario,
        seed,
        strategy,
        destination,
        index,
        kind,
    } = ReplayId::parse(id)?
    else {
        return None;
    };
    Some(PointId {
        scenario,
        seed,
        strategy,
        destination: DestinationChoice::ALL
            .into_iter()
            .find(|d| d.as_str() == destination)?,
        index,
        kind: PointKind::parse(&kind)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, op: OpKind, file: FileKind, role: Option<&str>) -> TraceEntry {
        TraceEntry {
            index,
            op,
            file,
            role: role.map(str::to_string),
            path: None,
            offset: None,
            len: Some(4096),
            rc: 0,
        }
    }

    #[test]
    fn nth_counts_like_the_rule() {
        let t = vec![
            entry(0, OpKind::Write, FileKind::MainDb, Some("destination")),
            entry(1, OpKind::Write, FileKind::MainDb, Some("source")),
            entry(2, OpKind::Write, FileKind::MainDb, Some("destination")),
            entry(3, OpKind::Write, FileKind::TempDb, None),
        ];
        let pts = enumerate(&t, &[PointKind::Full]);
        let nths: Vec<u64> = pts.iter().map(|p| p.nth).collect();
        assert_eq!(nths, vec![1, 1, 2, 1]);
        let all = enumerate(&t, &PointKind::ALL);
        // write: kill x2, power-cut, ioerr x2, full, torn = 7 each
        assert_eq!(all.len(), 28);
        assert!(all[0].plan(1).rules[0]
            .name
            .as_deref()
            .unwrap()
            .contains("write main-db"));
    }

    #[test]
    fn power_cuts_only_where_the_vfs_sees_the_writes() {
        let (k, notes) = kinds_for("copy-locked", &PointKind::ALL);
        assert!(!k.contains(&PointKind::PowerCut) && k.len() == 7);
        assert_eq!(notes, vec![POWER_CUT_NOT_MODELLED.to_string()]);
        let (k, notes) = kinds_for("api-step", &PointKind::ALL);
        assert_eq!((k.len(), notes.len()), (8, 0));
    }

    #[test]
    fn replay_ids_round_trip() {
        let p = CrashPoint {
            index: 41,
            op: OpKind::Write,
            file: FileKind::MainDb,
            role: Some("destination".into()),
            nth: 3,
            len: Some(4096),
            kind: PointKind::KillAfter,
        };
        let id = replay_id(
            "scenarios/x.toml",
            7,
            "api-step",
            DestinationChoice::ExistingWal,
            &p,
        );
        let back = parse_replay_id(&id).unwrap();
        assert_eq!(back.scenario, "scenarios/x.toml");
        assert_eq!(back.seed, 7);
        assert_eq!(back.strategy, "api-step");
        assert_eq!(back.destination, DestinationChoice::ExistingWal);
        assert_eq!((back.index, back.kind), (41, PointKind::KillAfter));
        assert!(parse_replay_id("wal-storm:1:api-step:3").is_none());
    }

    #[test]
    fn the_after_claim_cut_is_one_point_at_the_end_and_power_cuts_need_the_vfs() {
        let t = vec![
            entry(0, OpKind::Write, FileKind::MainDb, Some("destination")),
            entry(1, OpKind::Sync, FileKind::MainDb, Some("destination")),
        ];
        let pts = enumerate(
            &t,
            &[
                PointKind::PowerCutIndependent,
                PointKind::PowerCutAfterClaim,
            ],
        );
        let kinds: Vec<(u64, PointKind)> = pts.iter().map(|p| (p.index, p.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (0, PointKind::PowerCutIndependent),
                (1, PointKind::PowerCutIndependent),
                (1, PointKind::PowerCutAfterClaim)
            ]
        );
        let (k, notes) = kinds_for("copy-locked", &PointKind::EVERY);
        assert!(k.iter().all(|k| !k.is_power_cut()), "{k:?}");
        assert_eq!(notes.len(), 1);
        for k in PointKind::EVERY {
            assert_eq!(PointKind::parse(k.as_str()), Some(k));
        }
    }
}
