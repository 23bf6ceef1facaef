//! What "did not finish" means for one run: was it restarting at a steady rate to the end?
//!
//! Why it exists: a run that did not finish within its budget can be a livelock (restarts kept
//! coming at the same rate: more time would not help) or a backup that was getting through
//! (restarts thinned out, or none in the last part: more time might have done it). The run
//! counts its restarts (formula counter) in the first and the second half of the budget
//! ([`super::cell::CellRun::restarts_first_half`]); [`classify`] compares the two.

use serde::{Deserialize, Serialize};

/// Relative tolerance between the two halves' restart counts.
pub const TOLERANCE: f64 = 0.25;
/// Absolute slack (restarts) so that small counts are not over-read.
pub const SLACK: u64 = 2;

/// The restart rate of a run that did not finish, first half vs second half of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trend {
    /// Within ±25% (or ±2 restarts): would never finish.
    Steady,
    /// More restarts in the second half: would never finish either.
    Rising,
    /// Fewer (by more than the tolerance), but some: might finish with more time.
    Slowing,
    /// No restart in the second half: a pass was under way at the deadline.
    Progressing,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Steady => "steady",
            Trend::Rising => "rising",
            Trend::Slowing => "slowing",
            Trend::Progressing => "progressing",
        }
    }

    /// Whether more time would not have helped.
    pub fn never_finishes(self) -> bool {
        matches!(self, Trend::Steady | Trend::Rising)
    }
}

/// Classifies a run from its restarts in the first and second half of the budget.
pub fn classify(first: u64, second: u64) -> Trend {
    if second == 0 {
        return Trend::Progressing;
    }
    let tol = (TOLERANCE * first.max(second) as f64).max(SLACK as f64);
    let diff = second as f64 - first as f64;
    if diff.abs() <= tol {
        Trend::Steady
    } else if diff > 0.0 {
        Trend::Rising
    } else {
        Trend::Slowing
    }
}

/// The trend of a cell: the most common one among its runs that did not finish (ties go to
/// the first in the order steady, rising, slowing, progressing); `None` if all finished.
pub fn of_cell(halves: impl IntoIterator<Item = (u64, u64)>) -> Option<Trend> {
    let order = [
        Trend::Steady,
        Trend::Rising,
        Trend::Slowing,
        Trend::Progressing,
    ];
    let mut counts = [0usize; 4];
    for (a, b) in halves {
        let t = classify(a, b);
        counts[order.iter().position(|o| *o == t).unwrap_or(0)] += 1;
    }
    let best = *counts.iter().max()?;
    (best > 0).then(|| order[counts.iter().position(|c| *c == best).unwrap_or(0)])
}

/// The legend line for the table and the JSON.
pub fn legend() -> String {
    format!(
        "did not finish = no SQLITE_DONE within the budget; its restarts per second in the \
         budget's first and second half are compared: steady (within ±{:.0}% or ±{SLACK}) or \
         rising = would never finish; slowing = fewer by more than that, might finish later; \
         progressing = no restart in the second half, a pass was under way at the deadline",
        TOLERANCE * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_classify() {
        assert_eq!(classify(50, 50), Trend::Steady);
        assert_eq!(classify(50, 40), Trend::Steady);
        assert_eq!(classify(50, 37), Trend::Slowing);
        assert_eq!(classify(40, 60), Trend::Rising);
        // Small counts: ±2 is steady.
        assert_eq!(classify(1, 3), Trend::Steady);
        assert_eq!(classify(3, 1), Trend::Steady);
        assert_eq!(classify(6, 1), Trend::Slowing);
        assert_eq!(classify(7, 0), Trend::Progressing);
        assert_eq!(classify(0, 0), Trend::Progressing);
        assert!(Trend::Steady.never_finishes() && Trend::Rising.never_finishes());
        assert!(!Trend::Slowing.never_finishes() && !Trend::Progressing.never_finishes());
    }

    #[test]
    fn a_cell_takes_the_most_common_trend() {
        assert_eq!(of_cell([]), None);
        assert_eq!(of_cell([(50, 50), (50, 10), (50, 49)]), Some(Trend::Steady));
        assert_eq!(of_cell([(50, 10), (9, 0), (50, 10)]), Some(Trend::Slowing));
        // A tie goes to the first in order.
        assert_eq!(of_cell([(9, 0), (50, 50)]), Some(Trend::Steady));
    }
}
