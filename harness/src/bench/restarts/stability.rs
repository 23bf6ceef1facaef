//! The repeat rule of the wall-clock grid: how many times a cell runs, and its verdict.
//!
//! Why it exists: on a shared machine whether a cell finishes within its budget can depend on
//! the run (one `--quick` run had 5 "did not finish" cells at 100 commits/s, the next
//! none). A verdict is only reported when the repeats agree; otherwise the cell is `unstable`,
//! with the fraction of repeats that finished.
//!
//! The rule ([`RepeatRule`]): run a cell `agree` times; if those all finished, or all did not,
//! that is the verdict and the cell stops there. If they disagree, the cell runs up to `cap`
//! repeats (`2·agree + 1`) and is reported `unstable k/n finished`. A verdict is never taken by
//! majority: one disagreement makes the cell unstable.

use serde::{Deserialize, Serialize};

/// How often a cell is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatRule {
    /// Repeats that must agree before a verdict is reported (the first ones).
    pub agree: u32,
    /// Repeats of a cell whose first `agree` disagreed (for its completion fraction).
    pub cap: u32,
}

/// A cell's verdict over its repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every repeat finished within the budget.
    Finished,
    /// No repeat finished within the budget.
    DidNotFinish,
    /// The repeats disagree: `finished` of `repeats` finished.
    Unstable { finished: u32, repeats: u32 },
}

impl Verdict {
    /// "finished", "did not finish" or "unstable k/n finished".
    pub fn label(self) -> String {
        match self {
            Verdict::Finished => "finished".into(),
            Verdict::DidNotFinish => "did not finish".into(),
            Verdict::Unstable { finished, repeats } => {
                format!("unstable {finished}/{repeats} finished")
            }
        }
    }

    pub fn is_stable(self) -> bool {
        !matches!(self, Verdict::Unstable { .. })
    }
}

impl RepeatRule {
    /// `agree` repeats must agree (at least 1); the cap is `2·agree + 1`.
    pub fn new(agree: u32) -> RepeatRule {
        let agree = agree.max(1);
        RepeatRule {
            agree,
            cap: 2 * agree + 1,
        }
    }

    /// The verdict after the repeats so far (`true` = finished), or `None` when the cell must
    /// run again.
    pub fn verdict(&self, finished: &[bool]) -> Option<Verdict> {
        let n = finished.len() as u32;
        if n < self.agree {
            return None;
        }
        let first = &finished[..self.agree as usize];
        if first.iter().all(|f| *f == first[0]) {
            return Some(if first[0] {
                Verdict::Finished
            } else {
                Verdict::DidNotFinish
            });
        }
        (n >= self.cap).then(|| Verdict::Unstable {
            finished: finished.iter().filter(|f| **f).count() as u32,
            repeats: n,
        })
    }

    /// The rule in words (the table's legend and the JSON).
    pub fn describe(&self) -> String {
        format!(
            "each cell runs {} time(s); if all finished or all did not, that is its verdict; \
             otherwise it runs {} times in all and is `unstable k/n finished`",
            self.agree, self.cap
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreeing_repeats_stop_early() {
        let r = RepeatRule::new(2);
        assert_eq!(r.cap, 5);
        assert_eq!(r.verdict(&[]), None);
        assert_eq!(r.verdict(&[true]), None);
        assert_eq!(r.verdict(&[true, true]), Some(Verdict::Finished));
        assert_eq!(r.verdict(&[false, false]), Some(Verdict::DidNotFinish));
        // With --repeats 1 the first run is the verdict.
        assert_eq!(
            RepeatRule::new(1).verdict(&[false]),
            Some(Verdict::DidNotFinish)
        );
    }

    #[test]
    fn disagreeing_repeats_run_to_the_cap_and_are_unstable() {
        let r = RepeatRule::new(2);
        assert_eq!(r.verdict(&[true, false]), None);
        assert_eq!(r.verdict(&[true, false, true]), None);
        assert_eq!(r.verdict(&[true, false, true, true]), None);
        let v = r.verdict(&[true, false, true, true, false]).unwrap();
        assert_eq!(
            v,
            Verdict::Unstable {
                finished: 3,
                repeats: 5
            }
        );
        assert_eq!(v.label(), "unstable 3/5 finished");
        assert!(!v.is_stable() && Verdict::Finished.is_stable());
        // A late majority does not make it stable.
        assert_eq!(
            r.verdict(&[false, true, true, true, true]),
            Some(Verdict::Unstable {
                finished: 4,
                repeats: 5
            })
        );
    }
}
