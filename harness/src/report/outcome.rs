//! A strategy row's result, judged against its expectation, and the words that explain it:
//! why a `safe` row tested nothing worth trusting, and what a control that was not caught
//! did show.
//!
//! Why its own module: the judgement is a few pure functions of counts, tested on their own,
//! while `report` gathers the counts from the iterations.

use crate::oracle::VerdictKind;
use crate::scenario::Expect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a strategy's row means, judged against its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// `safe`, no violation, and really tested.
    Ok,
    /// `safe`, and a violation showed.
    Violated,
    /// `safe` and no violation, but not really tested: a planned fault kind fired in fewer
    /// than `min_fault_hit` of its iterations, or no iteration ended in a snapshot.
    Untested,
    /// `unsafe` (a negative control), and a violation showed.
    Caught,
    /// `unsafe`, and no violation showed: the harness is broken.
    NotCaught,
    /// `any`: reported, not judged.
    Reported,
    /// A known finding of this strategy was run and did not reproduce: the answer changed.
    KnownMissing,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Violated => "VIOLATED",
            Outcome::Untested => "UNTESTED",
            Outcome::Caught => "ok (caught)",
            Outcome::NotCaught => "NOT CAUGHT",
            Outcome::Reported => "reported",
            Outcome::KnownMissing => "KNOWN FINDING LOST",
        }
    }

    /// Whether this outcome meets the expectation.
    pub fn is_met(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Caught | Outcome::Reported)
    }

    /// Judges a strategy: `violations` seen (known findings excluded for `safe`), `untested`
    /// reasons (empty: really tested), known findings that did not reproduce.
    pub fn judge(
        expect: Expect,
        violations: usize,
        untested: &[String],
        known_missing: &[String],
    ) -> Outcome {
        match expect {
            Expect::Any => Outcome::Reported,
            _ if !known_missing.is_empty() => Outcome::KnownMissing,
            Expect::Unsafe if violations > 0 => Outcome::Caught,
            Expect::Unsafe => Outcome::NotCaught,
            Expect::Safe if violations > 0 => Outcome::Violated,
            Expect::Safe if !untested.is_empty() => Outcome::Untested,
            Expect::Safe => Outcome::Ok,
        }
    }
}

/// Why a strategy's results tested nothing worth trusting: each planned fault kind that took
/// effect in fewer than `min_fault_hit` of its iterations (hits that were `absorbed`, fired
/// but changed nothing, do not count), and "no snapshot" when no iteration ended in an
/// allowed success.
pub fn untested_reasons(
    planned: &BTreeMap<String, u64>,
    hit: &BTreeMap<String, u64>,
    absorbed: &BTreeMap<String, u64>,
    stalled: &BTreeMap<String, u64>,
    snapshots: u64,
    min_fault_hit: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, &p) in planned {
        let a = absorbed.get(kind).copied().unwrap_or(0);
        let h = hit.get(kind).copied().unwrap_or(0).saturating_sub(a);
        // An iteration whose backup stalled (livelock: allowed, reported) before its fault
        // could fire tested the stall, not the fault: it is left out of the hit rate, and a
        // kind whose every iteration stalled is untested.
        let st = stalled.get(kind).copied().unwrap_or(0);
        let reachable = p.saturating_sub(st);
        if p > 0 && reachable == 0 {
            out.push(format!(
                "{kind}: every one of its {p} iterations stalled before it could fire"
            ));
        } else if p > 0 && (h as f64) < min_fault_hit * reachable as f64 {
            let mut more = String::new();
            if a > 0 {
                more.push_str(&format!("; {a} more fired but were absorbed"));
            }
            if st > 0 {
                more.push_str(&format!("; {st} more stalled first"));
            }
            out.push(format!(
                "{kind} fired in {h} of {reachable} iterations (min_fault_hit {min_fault_hit}{more})"
            ));
        }
    }
    if snapshots == 0 {
        out.push("no iteration ended in a snapshot (only errors, stalls or untouched)".into());
    }
    out
}

/// What an `unsafe` entry whose result is `NOT CAUGHT` showed instead of a violation, and what
/// that means: a built-in negative control that is not caught means the harness is broken, but
/// an external tool (a user's own program) that only errored or left its destination
/// untouched or a snapshot failed safely, which says nothing against the harness.
pub fn not_caught_reason(
    external: bool,
    caught_as: &[VerdictKind],
    verdicts: &BTreeMap<String, u64>,
    faults_hit: &BTreeMap<String, u64>,
    faults_planned: &BTreeMap<String, u64>,
) -> String {
    let iterations: u64 = verdicts.values().sum();
    let kinds = if caught_as.is_empty() {
        String::new()
    } else {
        let k: Vec<&str> = caught_as.iter().map(|k| k.as_str()).collect();
        format!(" of the kinds it is caught as ({})", k.join(", "))
    };
    let shown: Vec<String> = verdicts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let hits: Vec<String> = faults_planned
        .iter()
        .map(|(k, p)| format!("{k} {}/{p}", faults_hit.get(k).copied().unwrap_or(0)))
        .collect();
    let fired: u64 = faults_planned
        .keys()
        .map(|k| faults_hit.get(k).copied().unwrap_or(0))
        .sum();
    let meaning = match (external, fired) {
        (_, 0) => "no planned fault fired before its claim, so nothing was tested",
        (true, _) => {
            "this tool failed safely when its faults fired (errors, untouched or snapshot \
             destinations): nothing against the harness; declare it `safe` if that is what it is"
        }
        (false, _) => "a built-in negative control must be caught: the harness is broken",
    };
    format!(
        "no violation{kinds} in {iterations} iterations; it showed {}; faults fired before \
         its claim: {}; {meaning}",
        if shown.is_empty() {
            "nothing".to_string()
        } else {
            shown.join(", ")
        },
        if hits.is_empty() {
            "none planned".to_string()
        } else {
            hits.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untested_when_a_planned_kind_rarely_fires_or_nothing_succeeded() {
        let planned: BTreeMap<String, u64> = [("kill-delay".to_string(), 4), ("busy".into(), 2)]
            .into_iter()
            .collect();
        let mut hit: BTreeMap<String, u64> = [("kill-delay".to_string(), 2), ("busy".into(), 2)]
            .into_iter()
            .collect();
        let none = BTreeMap::new();
        assert!(untested_reasons(&planned, &hit, &none, &none, 3, 0.5).is_empty());
        hit.insert("kill-delay".into(), 1);
        let why = untested_reasons(&planned, &hit, &none, &none, 3, 0.5);
        assert_eq!(why.len(), 1);
        assert!(why[0].starts_with("kill-delay fired in 1 of 4"), "{why:?}");
        // Iterations that stalled before the fault are left out of the rate, not counted as
        // hits: 1 hit of 2 reachable passes, and a kind that always stalled is untested.
        let stalled: BTreeMap<String, u64> = [("kill-delay".to_string(), 2)].into_iter().collect();
        assert!(untested_reasons(&planned, &hit, &none, &stalled, 3, 0.5).is_empty());
        let all: BTreeMap<String, u64> = [("busy".to_string(), 2)].into_iter().collect();
        let why2 = untested_reasons(&planned, &hit, &none, &all, 3, 0.5);
        assert!(
            why2.iter().any(|w| w.starts_with("busy: every one")),
            "{why2:?}"
        );
        // Absorbed hits (fired, changed nothing) do not count: 2 hits of which 1 absorbed is
        // 1 of 4, below 0.5.
        hit.insert("kill-delay".into(), 2);
        let absorbed: BTreeMap<String, u64> = [("kill-delay".to_string(), 1)].into_iter().collect();
        assert!(untested_reasons(&planned, &hit, &none, &none, 3, 0.5).is_empty());
        let why = untested_reasons(&planned, &hit, &absorbed, &none, 3, 0.5);
        assert_eq!(
            why,
            ["kill-delay fired in 1 of 4 iterations (min_fault_hit 0.5; 1 more fired but were absorbed)"]
        );
        let why = untested_reasons(&planned, &BTreeMap::new(), &none, &none, 0, 0.0);
        assert_eq!(why.len(), 1, "{why:?}");
        assert_eq!(
            Outcome::judge(Expect::Safe, 0, &why, &[]),
            Outcome::Untested
        );
        assert!(!Outcome::Untested.is_met());
        assert_eq!(Outcome::judge(Expect::Safe, 0, &[], &[]), Outcome::Ok);
        assert_eq!(Outcome::judge(Expect::Safe, 1, &[], &[]), Outcome::Violated);
        assert_eq!(
            Outcome::judge(Expect::Unsafe, 1, &why, &[]),
            Outcome::Caught
        );
        assert_eq!(
            Outcome::judge(Expect::Unsafe, 0, &[], &[]),
            Outcome::NotCaught
        );
        assert_eq!(Outcome::judge(Expect::Any, 3, &why, &[]), Outcome::Reported);
        let lost = vec!["wal-storm:1:api-step:3".to_string()];
        assert_eq!(
            Outcome::judge(Expect::Safe, 0, &[], &lost),
            Outcome::KnownMissing
        );
        assert_eq!(
            Outcome::judge(Expect::Unsafe, 2, &[], &lost),
            Outcome::KnownMissing
        );
        assert!(!Outcome::KnownMissing.is_met());
    }

    #[test]
    fn a_tool_that_failed_safely_is_not_called_a_broken_harness() {
        let verdicts: BTreeMap<String, u64> = [
            ("error".to_string(), 3),
            ("untouched".to_string(), 1),
            ("snapshot".to_string(), 2),
            ("torn".to_string(), 0),
        ]
        .into_iter()
        .collect();
        let planned: BTreeMap<String, u64> = [("kill-delay".to_string(), 4)].into_iter().collect();
        let hit: BTreeMap<String, u64> = [("kill-delay".to_string(), 3)].into_iter().collect();
        let tool = not_caught_reason(true, &[], &verdicts, &hit, &planned);
        assert_eq!(
            tool,
            "no violation in 6 iterations; it showed error 3, snapshot 2, untouched 1; faults \
             fired before its claim: kill-delay 3/4; this tool failed safely when its faults \
             fired (errors, untouched or snapshot destinations): nothing against the harness; \
             declare it `safe` if that is what it is"
        );
        let builtin = not_caught_reason(false, &[VerdictKind::Torn], &verdicts, &hit, &planned);
        assert!(builtin.starts_with("no violation of the kinds it is caught as (torn) in 6"));
        assert!(builtin.ends_with("the harness is broken"), "{builtin}");
        let none = not_caught_reason(true, &[], &verdicts, &BTreeMap::new(), &planned);
        assert!(
            none.ends_with(
                "kill-delay 0/4; no planned fault fired before its claim, so nothing was tested"
            ),
            "{none}"
        );
    }
}
