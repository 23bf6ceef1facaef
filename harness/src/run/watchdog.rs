//! The watchdog: turns "no progress for T" or "not done within the budget" into a `stall`
//! verdict that says what the backup worker was last doing, instead of a hang.

use crate::event::Event;
use std::time::{Duration, Instant};

pub struct Watchdog {
    started: Instant,
    last_progress: Instant,
    quiet_limit: Duration,
    budget: Duration,
}

impl Watchdog {
    pub fn new(started: Instant, quiet_limit: Duration, budget: Duration) -> Watchdog {
        Watchdog {
            started,
            last_progress: started,
            quiet_limit,
            budget,
        }
    }

    /// Any event from the backup worker counts as a sign of life.
    pub fn progress(&mut self, _ev: &Event) {
        self.last_progress = Instant::now();
    }

    /// `Some(reason)` when the worker must be stopped as stalled.
    pub fn check(&self, now: Instant, last: Option<&Event>) -> Option<String> {
        let doing = match last {
            Some(ev) => ev.to_line(),
            None => "no event yet".into(),
        };
        if now.duration_since(self.last_progress) >= self.quiet_limit {
            return Some(format!(
                "no progress for {} ms; last event: {doing}",
                self.quiet_limit.as_millis()
            ));
        }
        if now.duration_since(self.started) >= self.budget {
            return Some(format!(
                "not done after {} ms (budget); last event: {doing}",
                self.budget.as_millis()
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_on_silence_and_on_budget() {
        let t0 = Instant::now();
        let w = Watchdog::new(t0, Duration::from_millis(100), Duration::from_millis(1000));
        assert!(w.check(t0 + Duration::from_millis(50), None).is_none());
        let why = w.check(t0 + Duration::from_millis(150), None).unwrap();
        assert!(why.contains("no progress"), "{why}");
        let mut w = Watchdog::new(t0, Duration::from_secs(100), Duration::from_millis(10));
        w.progress(&Event::Start { k_start: 1 });
        let ev = Event::Phase {
            name: "copy".into(),
        };
        let why = w.check(t0 + Duration::from_millis(20), Some(&ev)).unwrap();
        assert!(why.contains("budget") && why.contains("copy"), "{why}");
    }
}
