//! Known findings: violations a scenario declares (by replay ID) as documented behaviour of
//! SQLite or of a tool. A known finding must keep reproducing; it does not fail its strategy,
//! and any violation that is not known still does.

use crate::replay_id::ReplayId;
use serde::{Deserialize, Serialize};

/// How one strategy's violations compare with the scenario's known findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownCheck {
    /// Known findings of this strategy that showed again.
    pub reproduced: Vec<String>,
    /// Known findings of this strategy that were run and did not show: the answer changed.
    pub missing: Vec<String>,
    /// Violations that are not known findings.
    pub unexpected: usize,
}

/// Compares `violations` (replay IDs) of the strategy `strategy` run with `seed` with the
/// `known` IDs. A known ID applies when its seed and strategy match and `ran` says its point
/// (iteration, crash point, case) was run; the scenario part of IDs is not compared (a bundled
/// name and a path name the same scenario).
pub fn check(
    known: &[String],
    seed: u64,
    strategy: &str,
    ran: impl Fn(&ReplayId) -> bool,
    violations: &[&str],
) -> KnownCheck {
    let known: Vec<(&String, ReplayId)> = known
        .iter()
        .filter_map(|k| Some((k, ReplayId::parse(k)?)))
        .filter(|(_, id)| id.seed_and_strategy() == (seed, strategy) && ran(id))
        .collect();
    let seen: Vec<ReplayId> = violations
        .iter()
        .filter_map(|v| ReplayId::parse(v))
        .collect();
    let mut out = KnownCheck::default();
    for (text, id) in &known {
        if seen.iter().any(|v| v.same_finding(id)) {
            out.reproduced.push((*text).clone());
        } else {
            out.missing.push((*text).clone());
        }
    }
    out.unexpected = seen
        .iter()
        .filter(|v| !known.iter().any(|(_, k)| k.same_finding(v)))
        .count();
    out
}

/// Known findings of strategies in `strategies` (ids) run with `seed` that no strategy
/// accounted for (neither reproduced nor missing): their point was never run, or does not
/// exist. A known finding that was not checked tested nothing.
pub fn unchecked(
    known: &[String],
    seed: u64,
    strategies: &[&str],
    accounted: &[&String],
) -> Vec<String> {
    known
        .iter()
        .filter(|k| {
            ReplayId::parse(k).is_some_and(|id| {
                let (s, strategy) = id.seed_and_strategy();
                s == seed && strategies.contains(&strategy)
            })
        })
        .filter(|k| !accounted.contains(k))
        .cloned()
        .collect()
}

/// Whether the violation `id` is one of the `known` findings.
pub fn is_known(known: &[String], id: &str) -> bool {
    let Some(id) = ReplayId::parse(id) else {
        return false;
    };
    known
        .iter()
        .filter_map(|k| ReplayId::parse(k))
        .any(|k| k.same_finding(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_findings_reproduce_go_missing_or_stay_unexpected() {
        let known = vec![
            "crash:crash-points:1:api-step:existing-wal:923:busy".to_string(),
            "crash:crash-points:1:api-step:existing-wal:5:torn".to_string(),
            "crash:crash-points:1:api-oneshot:existing-wal:913:busy".to_string(),
            "crash:crash-points:2:api-step:existing-wal:7:busy".to_string(),
        ];
        let seen = [
            "crash:scenarios/crash-points.toml:1:api-step:existing-wal:923:busy",
            "crash:crash-points:1:api-step:existing-delete:3:torn",
        ];
        let c = check(&known, 1, "api-step", |_| true, &seen);
        assert_eq!(c.reproduced, vec![known[0].clone()]);
        assert_eq!(c.missing, vec![known[1].clone()]);
        assert_eq!(c.unexpected, 1);
        // A known point that did not run is not missing.
        let c = check(
            &known,
            1,
            "api-step",
            |id| !id.to_string().ends_with(":torn"),
            &seen,
        );
        assert!(c.missing.is_empty(), "{c:?}");
        assert!(is_known(&known, seen[0]));
        assert!(!is_known(&known, seen[1]));
    }
}
