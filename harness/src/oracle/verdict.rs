//! The verdict: combines the destination's state, the strategy's claim and the source check.
//!
//! Kept apart from the file inspection so the precedence rules are easy to read and test:
//! source damage, then corrupt, torn, out-of-window, false success, stall, error, and finally
//! the allowed outcomes untouched and snapshot.

use super::{DestState, Observation, SourceCheck, Verdict, VerdictKind};
use crate::event::Claim;

pub(crate) fn classify(dest: &DestState, obs: &Observation, source: &SourceCheck) -> Verdict {
    let w = obs.window;
    // A destination that kept its pre-image, which is also `S(k)`: a claim of success is a
    // claim of having written `S(k)`, judged as that snapshot (its window included); with any
    // other claim nothing was written.
    let (dest, already) = match dest {
        DestState::UntouchedSnapshot { k } if obs.claim == Some(Claim::Success) => {
            (DestState::Snapshot { k: *k }, Some(*k))
        }
        DestState::UntouchedSnapshot { k } => (DestState::Untouched, Some(*k)),
        other => (other.clone(), None),
    };
    let dest = &dest;
    let already = already
        .map(|k| format!(" (its pre-image already was S({k}))"))
        .unwrap_or_default();
    let snap = match dest {
        DestState::Snapshot { k } => Some(*k),
        _ => None,
    };
    let lag = snap.map(|k| w.k_end.saturating_sub(k));
    let state = match dest {
        DestState::Untouched => format!("destination untouched{already}"),
        DestState::Snapshot { k } => format!(
            "snapshot S({k}){already}, window [{}, {}], lag {}",
            w.k_start,
            w.k_end,
            w.k_end.saturating_sub(*k)
        ),
        DestState::Corrupt { reason } => format!("corrupt: {reason}"),
        DestState::Torn { reason } => format!("torn: {reason}"),
        // Judged above as one or the other.
        DestState::UntouchedSnapshot { k } => format!("destination untouched, already S({k})"),
    };
    let claim = match &obs.claim {
        None => "no claim (worker died)".to_string(),
        Some(Claim::Success) => "claimed success".to_string(),
        Some(Claim::Error { message }) => format!("claimed error: {message}"),
        Some(Claim::Aborted { message }) => format!("claimed aborted: {message}"),
    };
    let (kind, detail) = if let Some(damage) = &source.damage {
        (
            VerdictKind::SourceDamaged,
            format!("source damaged at k={}: {damage}; {state}", source.k),
        )
    } else {
        match (dest, snap) {
            (DestState::Corrupt { .. }, _) => (VerdictKind::Corrupt, format!("{state}; {claim}")),
            (DestState::Torn { .. }, _) => (VerdictKind::Torn, format!("{state}; {claim}")),
            (_, Some(k)) if k < w.k_start || k > w.k_end => (
                VerdictKind::OutOfWindow,
                format!("{state}: outside the window; {claim}"),
            ),
            _ if obs.claim == Some(Claim::Success) && snap.is_none() => {
                (VerdictKind::FalseSuccess, format!("{claim}, but {state}"))
            }
            _ if obs.stall.is_some() => (
                VerdictKind::Stall,
                format!(
                    "stalled: {}; {state}",
                    obs.stall.as_deref().unwrap_or_default()
                ),
            ),
            _ if matches!(obs.claim, Some(Claim::Error { .. })) => {
                (VerdictKind::Error, format!("{claim}; {state}"))
            }
            (DestState::Untouched, _) => (VerdictKind::Untouched, format!("{state}; {claim}")),
            _ => (VerdictKind::Snapshot, format!("{state}; {claim}")),
        }
    };
    let (k, lag) = if matches!(kind, VerdictKind::SourceDamaged) && snap.is_none() {
        (None, None)
    } else {
        (snap, lag)
    };
    Verdict {
        kind,
        k,
        lag,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::Window;

    fn obs(claim: Option<Claim>, stall: Option<&str>) -> Observation {
        Observation {
            claim,
            window: Window {
                k_start: 10,
                k_end: 20,
            },
            stall: stall.map(str::to_string),
        }
    }
    const OK: SourceCheck = SourceCheck {
        k: 30,
        damage: None,
    };

    #[test]
    fn precedence() {
        let snap = |k| DestState::Snapshot { k };
        let torn = DestState::Torn { reason: "x".into() };
        let corrupt = DestState::Corrupt { reason: "y".into() };
        let s = Some(Claim::Success);
        let err = Some(Claim::Error {
            message: "e".into(),
        });
        let v = |d: &DestState, o: &Observation, src: &SourceCheck| classify(d, o, src).kind;
        let bad = SourceCheck {
            k: 3,
            damage: Some("lost".into()),
        };
        assert_eq!(
            v(&snap(15), &obs(s.clone(), None), &bad),
            VerdictKind::SourceDamaged
        );
        assert_eq!(
            v(&corrupt, &obs(s.clone(), None), &OK),
            VerdictKind::Corrupt
        );
        assert_eq!(v(&torn, &obs(None, Some("w")), &OK), VerdictKind::Torn);
        assert_eq!(
            v(&snap(9), &obs(s.clone(), None), &OK),
            VerdictKind::OutOfWindow
        );
        assert_eq!(
            v(&snap(21), &obs(None, None), &OK),
            VerdictKind::OutOfWindow
        );
        assert_eq!(
            v(&DestState::Untouched, &obs(s.clone(), None), &OK),
            VerdictKind::FalseSuccess
        );
        assert_eq!(
            v(&DestState::Untouched, &obs(None, Some("w")), &OK),
            VerdictKind::Stall
        );
        assert_eq!(
            v(&snap(12), &obs(err.clone(), None), &OK),
            VerdictKind::Error
        );
        assert_eq!(
            v(&DestState::Untouched, &obs(err, None), &OK),
            VerdictKind::Error
        );
        assert_eq!(
            v(&DestState::Untouched, &obs(None, None), &OK),
            VerdictKind::Untouched
        );
        // The window's ends are inside it.
        assert_eq!(
            v(&snap(10), &obs(s.clone(), None), &OK),
            VerdictKind::Snapshot
        );
        assert_eq!(
            v(&snap(20), &obs(s.clone(), None), &OK),
            VerdictKind::Snapshot
        );
        // A damaged source keeps the destination's snapshot k for the report.
        let damaged = classify(&snap(15), &obs(s.clone(), None), &bad);
        assert_eq!((damaged.k, damaged.lag), (Some(15), Some(5)));
        let damaged = classify(&DestState::Untouched, &obs(s.clone(), None), &bad);
        assert_eq!((damaged.k, damaged.lag), (None, None));
        let ok = classify(&snap(16), &obs(s, None), &OK);
        assert_eq!(
            (ok.kind, ok.k, ok.lag),
            (VerdictKind::Snapshot, Some(16), Some(4))
        );
    }

    /// A destination that already held `S(k)` before the backup: a success claim is the
    /// snapshot `S(k)` (never a false success), any other claim leaves it untouched.
    #[test]
    fn a_pre_image_that_already_was_a_snapshot_is_judged_by_the_claim() {
        let up_to_date = |k| DestState::UntouchedSnapshot { k };
        let s = Some(Claim::Success);
        let err = Some(Claim::Error {
            message: "e".into(),
        });
        let aborted = Some(Claim::Aborted {
            message: "a".into(),
        });
        let v = classify(&up_to_date(12), &obs(s.clone(), None), &OK);
        assert_eq!(
            (v.kind, v.k, v.lag),
            (VerdictKind::Snapshot, Some(12), Some(8)),
            "{}",
            v.detail
        );
        assert!(v.detail.contains("already was S(12)"), "{}", v.detail);
        // The window still holds: an old replica claimed as a fresh backup is out of it.
        let v = classify(&up_to_date(9), &obs(s.clone(), None), &OK);
        assert_eq!(v.kind, VerdictKind::OutOfWindow, "{}", v.detail);
        let v = classify(&up_to_date(12), &obs(err, None), &OK);
        assert_eq!((v.kind, v.k), (VerdictKind::Error, None));
        for claim in [None, aborted] {
            let v = classify(&up_to_date(12), &obs(claim, None), &OK);
            assert_eq!((v.kind, v.k, v.lag), (VerdictKind::Untouched, None, None));
        }
        let v = classify(&up_to_date(12), &obs(None, Some("w")), &OK);
        assert_eq!(v.kind, VerdictKind::Stall);
    }
}
