//! The restart model of `bench restarts`: predicts passes, restarts and completion time of a
//! stepped backup under a writer committing at rate λ, from costs measured in the same run.
//!
//! Why it exists: the issue asks for a prediction next to each measurement, and for advice that
//! follows from it rather than from anecdotes.
//!
//! * Cost: a pass of `P` pages in steps of `n` takes `S = ceil(P/n)` steps and
//!   `T = S·a + P·b` seconds (`a` per step, `b` per page), fitted by least squares on the
//!   writer-free cells.
//! * A commit by another connection restarts the pass if it lands after the pass's first step
//!   began and before its last step began (the last step holds its read snapshot to the end):
//!   the vulnerable window is `W = T − t_last`, with `t_last = a + b·min(n, P)`. `step(-1)` has
//!   `W = 0` and never restarts.
//! * The bench's writer is paced (commits every `1/λ` s), so the primary prediction assumes
//!   periodic commits: with `x = λW < 1` the first pass fails with probability `x` (a commit
//!   lands in its window); the restarted pass then begins right after a commit and has a whole
//!   interval `1/λ > W` to itself, so expected passes are `1 + x`, never more than 2. With
//!   `x ≥ 1` every pass sees a commit: livelock. Only jitter (a writer pausing for its own
//!   checkpoint, scheduling) lets such a cell finish.
//! * For Poisson commits (the example) a pass survives with `exp(−λW)`; expected passes
//!   `exp(λW)`, expected time `(exp(λW) − 1)/λ` plus the last step. Reported alongside.

use serde::{Deserialize, Serialize};

/// Per-step and per-page cost of a backup step, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    pub step_s: f64,
    pub page_s: f64,
    /// Pages in the source.
    pub pages: f64,
}

/// The model's expectation for one cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Probability that a pass sees no foreign commit in its window (periodic commits).
    pub p_ok: f64,
    /// Expected passes (periodic commits; infinite = livelock).
    pub passes: f64,
    pub restarts: f64,
    /// Expected completion time (infinite = livelock).
    pub duration_s: f64,
    /// The same for Poisson commits.
    pub p_ok_poisson: f64,
    pub passes_poisson: f64,
    pub duration_poisson_s: f64,
}

impl Prediction {
    pub fn finishes_within(&self, budget_s: f64) -> bool {
        self.duration_s.is_finite() && self.duration_s <= budget_s
    }
}

impl CostModel {
    /// Least-squares fit of `duration = a·steps + b·pages_copied` over writer-free runs
    /// `(steps, pages_copied, duration_s)`. Falls back to a per-page-only model when the fit
    /// gives a negative coefficient.
    pub fn fit(points: &[(f64, f64, f64)], pages: f64) -> Option<CostModel> {
        if points.is_empty() || pages <= 0.0 {
            return None;
        }
        let (mut sxx, mut sxy, mut syy, mut sxd, mut syd) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(x, y, d) in points {
            sxx += x * x;
            sxy += x * y;
            syy += y * y;
            sxd += x * d;
            syd += y * d;
        }
        let det = sxx * syy - sxy * sxy;
        let (a, b) = if det.abs() > 1e-12 * sxx.max(1.0) * syy.max(1.0) {
            ((sxd * syy - syd * sxy) / det, (syd * sxx - sxd * sxy) / det)
        } else {
            (-1.0, -1.0)
        };
        let (a, b) = if a >= 0.0 && b > 0.0 {
            (a, b)
        } else if syy > 0.0 {
            (0.0, syd / syy)
        } else {
            return None;
        };
        Some(CostModel {
            step_s: a,
            page_s: b,
            pages,
        })
    }

    /// Steps of one pass at `npage` (`-1` or `npage >= P`: one step).
    pub fn steps(&self, npage: i32) -> f64 {
        if npage <= 0 {
            1.0
        } else {
            (self.pages / f64::from(npage)).ceil().max(1.0)
        }
    }

    /// Time of one undisturbed pass.
    pub fn pass_time(&self, npage: i32) -> f64 {
        self.steps(npage) * self.step_s + self.pages * self.page_s
    }

    /// Time of the last step of a pass.
    pub fn last_step(&self, npage: i32) -> f64 {
        let n = if npage <= 0 {
            self.pages
        } else {
            f64::from(npage).min(self.pages)
        };
        self.step_s + n * self.page_s
    }

    /// The vulnerable window `W` of a pass.
    pub fn window(&self, npage: i32) -> f64 {
        (self.pass_time(npage) - self.last_step(npage)).max(0.0)
    }

    /// Expected passes, restarts and completion time at `rate` foreign commits per second.
    pub fn predict(&self, npage: i32, rate: f64) -> Prediction {
        let w = self.window(npage);
        let x = rate.max(0.0) * w;
        let t = self.pass_time(npage);
        let duration_poisson_s = if rate <= 0.0 || x == 0.0 {
            t
        } else {
            x.exp_m1() / rate + self.last_step(npage)
        };
        let (p_ok, passes, duration_s) = if x < 1.0 {
            // A failed pass lasts until its commit: W/2 on average.
            (1.0 - x, 1.0 + x, t + x * w / 2.0)
        } else {
            (0.0, f64::INFINITY, f64::INFINITY)
        };
        Prediction {
            p_ok,
            passes,
            restarts: passes - 1.0,
            duration_s,
            p_ok_poisson: (-x).exp(),
            passes_poisson: x.exp(),
            duration_poisson_s,
        }
    }

    /// The smallest `npage` (1..=P) whose expected passes are at most `max_passes` at `rate`;
    /// `None` if only one step (`-1`) does.
    pub fn min_npage(&self, rate: f64, max_passes: f64) -> Option<i32> {
        let p = self.pages.ceil().max(1.0) as i32;
        let ok = |n: i32| self.predict(n, rate).passes <= max_passes;
        // W(n) is not monotone step by step (ceil), but nearly: scan on a fine grid, then refine.
        let mut n = 1i32;
        while n < p {
            if ok(n) {
                let mut lo = (n / 2).max(1);
                while lo < n && !ok(lo) {
                    lo += 1.max((n - lo) / 64);
                }
                return Some(lo.min(n));
            }
            n = ((n as f64 * 1.1).ceil() as i32).max(n + 1);
        }
        None
    }
}

/// Median of a slice (NaN-free input); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> CostModel {
        // 10 µs per step, 2 µs per page, 4000 pages.
        CostModel {
            step_s: 10e-6,
            page_s: 2e-6,
            pages: 4000.0,
        }
    }

    #[test]
    fn fit_recovers_costs_from_writer_free_runs() {
        let m = model();
        let pts: Vec<(f64, f64, f64)> = [1, 4, 16, 64, 256, 1024, -1]
            .iter()
            .map(|&n| (m.steps(n), m.pages, m.pass_time(n)))
            .collect();
        let f = CostModel::fit(&pts, 4000.0).unwrap();
        assert!((f.step_s - 10e-6).abs() < 1e-9, "{f:?}");
        assert!((f.page_s - 2e-6).abs() < 1e-10, "{f:?}");
    }

    #[test]
    fn fit_falls_back_to_per_page_cost() {
        // One point only: the 2x2 system is singular.
        let f = CostModel::fit(&[(1.0, 100.0, 0.01)], 100.0).unwrap();
        assert_eq!(f.step_s, 0.0);
        assert!((f.page_s - 1e-4).abs() < 1e-12);
        assert!(CostModel::fit(&[], 100.0).is_none());
    }

    #[test]
    fn one_step_never_restarts_and_no_writer_means_one_pass() {
        let m = model();
        let p = m.predict(-1, 1e6);
        assert_eq!((p.passes, p.restarts, p.p_ok), (1.0, 0.0, 1.0));
        assert!((p.duration_s - m.pass_time(-1)).abs() < 1e-12);
        let q = m.predict(1, 0.0);
        assert_eq!(q.passes, 1.0);
        assert!((q.duration_s - m.pass_time(1)).abs() < 1e-12);
    }

    #[test]
    fn passes_grow_with_rate_and_shrink_with_npage() {
        let m = model();
        // nPage 1: W = 3999 steps of 12 µs ≈ 48 ms; at 100/s, λW ≈ 4.8: livelock with a
        // paced writer, ~120 passes with Poisson commits.
        let p = m.predict(1, 100.0);
        assert!((p.passes_poisson - (100.0 * m.window(1)).exp()).abs() < 1e-9);
        assert!(
            p.passes_poisson > 100.0 && p.passes_poisson < 150.0,
            "{p:?}"
        );
        assert!(p.passes.is_infinite() && p.p_ok == 0.0);
        assert!(m.predict(1, 1000.0).passes_poisson > p.passes_poisson);
        // nPage 1024: W = 3 × 10 µs + 2976 × 2 µs ≈ 6 ms; at 100/s, x ≈ 0.6: 1.6 passes.
        let q = m.predict(1024, 100.0);
        assert!(
            (q.passes - (1.0 + 100.0 * m.window(1024))).abs() < 1e-12,
            "{q:?}"
        );
        assert!(q.passes > 1.5 && q.passes < 1.7, "{q:?}");
        assert!(q.passes_poisson < m.predict(64, 100.0).passes_poisson);
        assert!(q.duration_s.is_finite() && q.duration_s > m.pass_time(1024));
        // Expected time at small λ tends to the pass time.
        let slow = m.predict(256, 1e-6);
        assert!((slow.duration_s - m.pass_time(256)).abs() < 1e-6);
        assert!(!m.predict(1, 1e4).finishes_within(10.0));
    }

    #[test]
    fn min_npage_meets_the_target_and_is_none_when_hopeless() {
        let m = model();
        let n = m.min_npage(100.0, 2.0).unwrap();
        assert!(m.predict(n, 100.0).passes <= 2.0);
        assert!(n > 1 && n < 4000, "{n}");
        assert!(m.min_npage(1e7, 1.5).is_none());
        assert_eq!(m.min_npage(0.0, 1.5), Some(1));
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
