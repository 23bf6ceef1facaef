//! Absorbed faults: a planned fault that fired before the claim but had no effect on the
//! outcome, so it tested nothing.
//!
//! Why: an I/O error on a WAL destination's database file lands in the checkpoint SQLite runs
//! when the connection closes, and SQLite ignores errors there: the backup claims success with
//! a perfect snapshot, exactly as without the fault. Counted as a hit, such a fault would make
//! an entry look tested (`min_fault_hit`) when nothing was tested.
//!
//! The rule uses only what the supervisor saw, never a second, fault-free run:
//! - the fault is one that returns an error code to SQLite (an I/O error, a torn write, a full
//!   disk, on the destination or the source): kills and power cuts end the process, a busy
//!   fault may be waited out inside SQLite's busy handler (an effect the events do not show),
//!   link faults are meant to be survived; those always count as hits;
//! - it fired before the claim (else it was no hit at all);
//! - the strategy saw no error after it fired: no `sqlite3_backup_step` returned anything but
//!   `SQLITE_OK` or `SQLITE_DONE` from then on, and the claim is success;
//! - the verdict is `snapshot`: what a fault-free run gives.

use crate::event::Claim;
use crate::fault::FaultKind;
use crate::oracle::VerdictKind;

/// Whether a fault of `kind` returns an error code into SQLite, which SQLite may then ignore.
pub fn returns_an_error(kind: FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::FinalCommitIoerr
            | FaultKind::Torn
            | FaultKind::Full
            | FaultKind::IoerrTransient
            | FaultKind::IoerrPersistent
            | FaultKind::SourceIoerr
    )
}

/// Whether a step result code after the fault means the strategy saw an error (anything but
/// `SQLITE_OK` and `SQLITE_DONE`: a busy or locked step may well be the fault's doing).
pub fn step_saw_an_error(rc: i32) -> bool {
    !matches!(rc, 0 | 101)
}

/// Whether the iteration's planned fault was absorbed (see the module docs).
pub fn absorbed(
    kind: Option<FaultKind>,
    hit: bool,
    error_seen_after_fired: bool,
    claim: Option<&Claim>,
    verdict: VerdictKind,
) -> bool {
    kind.is_some_and(returns_an_error)
        && hit
        && !error_seen_after_fired
        && claim == Some(&Claim::Success)
        && verdict == VerdictKind::Snapshot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_error_fault_that_changed_nothing_is_absorbed() {
        let ok = Some(&Claim::Success);
        let io = Some(FaultKind::IoerrTransient);
        assert!(absorbed(io, true, false, ok, VerdictKind::Snapshot));
        // Not fired before the claim: no hit, so nothing to absorb.
        assert!(!absorbed(io, false, false, ok, VerdictKind::Snapshot));
        // The strategy saw the error (and retried), or claimed an error, or the outcome moved.
        assert!(!absorbed(io, true, true, ok, VerdictKind::Snapshot));
        let err = Claim::Error {
            message: "disk I/O error".into(),
        };
        assert!(!absorbed(io, true, false, Some(&err), VerdictKind::Error));
        assert!(!absorbed(io, true, false, ok, VerdictKind::Torn));
        // Kills, busy and link faults always count as hits.
        for kind in [
            FaultKind::KillDelay,
            FaultKind::KillDestOp,
            FaultKind::Busy,
            FaultKind::FinalCommitBusy,
            FaultKind::LinkStall,
            FaultKind::PowerCut,
        ] {
            assert!(
                !absorbed(Some(kind), true, false, ok, VerdictKind::Snapshot),
                "{kind:?}"
            );
        }
        assert!(!absorbed(None, true, false, ok, VerdictKind::Snapshot));
        assert!(step_saw_an_error(10) && step_saw_an_error(5) && !step_saw_an_error(101));
    }
}
