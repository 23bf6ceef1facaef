//! The one replay-ID grammar, for every mode. Every violation is printed with one of these,
//! and `replay ID` parses it back here:
//!
//! * storm iteration: `<scenario>:<seed>:<strategy>:<iteration>`
//! * crash point: `crash:<scenario>:<seed>:<strategy>:<destination>:<op index>:<fault kind>`
//! * fuzz case: `fuzz:<scenario>:<seed>:<strategy>:<case>`
//!
//! `<strategy>` is the entry's label, or its name when it has none (`external:<label>` spans
//! two parts; labels have no `:`). `<scenario>` is a bundled name or a path, and may contain
//! `:`: the fields are taken from the right. (Bug-base entries are replayed by their directory
//! name or path, not by an ID of this grammar.)

use std::fmt;

/// A parsed replay ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayId {
    Storm {
        scenario: String,
        seed: u64,
        strategy: String,
        iteration: u32,
    },
    Crash {
        scenario: String,
        seed: u64,
        strategy: String,
        destination: String,
        index: u64,
        kind: String,
    },
    Fuzz {
        scenario: String,
        seed: u64,
        strategy: String,
        case: u32,
    },
}

const CRASH: &str = "crash:";
const FUZZ: &str = "fuzz:";
const EXTERNAL: &str = "external";

impl fmt::Display for ReplayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayId::Storm {
                scenario,
                seed,
                strategy,
                iteration,
            } => write!(f, "{scenario}:{seed}:{strategy}:{iteration}"),
            ReplayId::Crash {
                scenario,
                seed,
                strategy,
                destination,
                index,
                kind,
            } => write!(
                f,
                "{CRASH}{scenario}:{seed}:{strategy}:{destination}:{index}:{kind}"
            ),
            ReplayId::Fuzz {
                scenario,
                seed,
                strategy,
                case,
            } => write!(f, "{FUZZ}{scenario}:{seed}:{strategy}:{case}"),
        }
    }
}

/// Fields taken from the right end of an ID.
struct FromRight<'a> {
    rest: &'a str,
}

impl<'a> FromRight<'a> {
    fn field(&mut self) -> Option<&'a str> {
        let (rest, last) = self.rest.rsplit_once(':')?;
        self.rest = rest;
        (!last.is_empty()).then_some(last)
    }
    fn number<T: std::str::FromStr>(&mut self) -> Option<T> {
        self.field()?.parse().ok()
    }
    /// A strategy: one field, or `external:<label>`.
    fn strategy(&mut self) -> Option<String> {
        let last = self.field()?;
        if let Some(rest) = self.rest.strip_suffix(EXTERNAL) {
            if let Some(rest) = rest.strip_suffix(':') {
                self.rest = rest;
                return Some(format!("{EXTERNAL}:{last}"));
            }
        }
        Some(last.to_string())
    }
    /// What is left: the scenario.
    fn scenario(self) -> Option<String> {
        (!self.rest.is_empty()).then(|| self.rest.to_string())
    }
}

impl ReplayId {
    /// The same finding, whatever the scenario is called (a bundled name or a path).
    pub fn same_finding(&self, other: &ReplayId) -> bool {
        let strip = |r: &ReplayId| {
            let mut r = r.clone();
            match &mut r {
                ReplayId::Storm { scenario, .. }
                | ReplayId::Crash { scenario, .. }
                | ReplayId::Fuzz { scenario, .. } => scenario.clear(),
            }
            r
        };
        strip(self) == strip(other)
    }

    /// Seed and strategy of the ID.
    pub fn seed_and_strategy(&self) -> (u64, &str) {
        match self {
            ReplayId::Storm { seed, strategy, .. }
            | ReplayId::Crash { seed, strategy, .. }
            | ReplayId::Fuzz { seed, strategy, .. } => (*seed, strategy),
        }
    }

    pub fn parse(id: &str) -> Option<ReplayId> {
        if let Some(rest) = id.strip_prefix(CRASH) {
            let mut r = FromRight { rest };
            let kind = r.field()?.to_string();
            let index = r.number()?;
            let destination = r.field()?.to_string();
            let strategy = r.strategy()?;
            let seed = r.number()?;
            return Some(ReplayId::Crash {
                scenario: r.scenario()?,
                seed,
                strategy,
                destination,
                index,
                kind,
            });
        }
        if let Some(rest) = id.strip_prefix(FUZZ) {
            let mut r = FromRight { rest };
            let case = r.number()?;
            let strategy = r.strategy()?;
            let seed = r.number()?;
            return Some(ReplayId::Fuzz {
                scenario: r.scenario()?,
                seed,
                strategy,
                case,
            });
        }
        let mut r = FromRight { rest: id };
        let iteration = r.number()?;
        let strategy = r.strategy()?;
        let seed = r.number()?;
        Some(ReplayId::Storm {
            scenario: r.scenario()?,
            seed,
            strategy,
            iteration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(id: &ReplayId) {
        assert_eq!(ReplayId::parse(&id.to_string()).as_ref(), Some(id), "{id}");
    }

    #[test]
    fn every_form_round_trips() {
        for scenario in ["wal-storm", "scenarios/x.toml", "a:b.toml"] {
            for strategy in ["api-step", "external:python-backup", "step-extra"] {
                round_trip(&ReplayId::Storm {
                    scenario: scenario.into(),
                    seed: 42,
                    strategy: strategy.into(),
                    iteration: 7,
                });
                round_trip(&ReplayId::Crash {
                    scenario: scenario.into(),
                    seed: 1,
                    strategy: strategy.into(),
                    destination: "existing-wal".into(),
                    index: 913,
                    kind: "busy".into(),
                });
                round_trip(&ReplayId::Fuzz {
                    scenario: scenario.into(),
                    seed: 3,
                    strategy: strategy.into(),
                    case: 17,
                });
            }
        }
    }

    #[test]
    fn known_ids_parse_to_their_parts() {
        assert_eq!(
            ReplayId::parse("crash:crash-points:1:api-oneshot:existing-wal:913:busy"),
            Some(ReplayId::Crash {
                scenario: "crash-points".into(),
                seed: 1,
                strategy: "api-oneshot".into(),
                destination: "existing-wal".into(),
                index: 913,
                kind: "busy".into()
            })
        );
        assert!(matches!(
            ReplayId::parse("wal-storm:1:copy-naive:3"),
            Some(ReplayId::Storm { iteration: 3, .. })
        ));
        for bad in [
            "nonsense",
            "fuzz:f:x:api-step:1",
            "wal-storm:x:api-step:1",
            ":1:api-step:2",
            "crash:f:1:api-step:existing-wal:x:busy",
        ] {
            assert_eq!(ReplayId::parse(bad), None, "{bad}");
        }
    }
}
