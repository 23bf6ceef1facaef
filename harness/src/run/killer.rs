//! The killer: decides when the supervisor SIGKILLs the backup worker for the iteration's
//! planned fault. (Kills at an exact VFS operation happen inside the worker, see `fault`.)

use crate::fault::PlannedFault;
use std::time::{Duration, Instant};

pub struct Killer {
    after_events: Option<u64>,
    at: Option<Instant>,
    fired: bool,
}

impl Killer {
    pub fn new(fault: &PlannedFault, started: Instant) -> Killer {
        let (after_events, at) = match fault {
            PlannedFault::KillAfterEvent { n } => (Some(*n), None),
            PlannedFault::KillDelay { ms } => (None, Some(started + Duration::from_millis(*ms))),
            _ => (None, None),
        };
        Killer {
            after_events,
            at,
            fired: false,
        }
    }

    /// True once, when the worker has sent its n-th event and must die now.
    pub fn after_event(&mut self, events_seen: u64) -> bool {
        let due = !self.fired && self.after_events.is_some_and(|n| events_seen >= n);
        self.fired |= due;
        due
    }

    /// True once, when the planned delay has passed.
    pub fn on_time(&mut self, now: Instant) -> bool {
        let due = !self.fired && self.at.is_some_and(|at| now >= at);
        self.fired |= due;
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kills_once_after_the_nth_event() {
        let mut k = Killer::new(&PlannedFault::KillAfterEvent { n: 3 }, Instant::now());
        assert!(!k.after_event(1));
        assert!(!k.after_event(2));
        assert!(k.after_event(3));
        assert!(!k.after_event(4));
        assert!(!k.on_time(Instant::now() + Duration::from_secs(9)));
    }

    #[test]
    fn kills_once_after_the_delay() {
        let t0 = Instant::now();
        let mut k = Killer::new(&PlannedFault::KillDelay { ms: 50 }, t0);
        assert!(!k.on_time(t0 + Duration::from_millis(49)));
        assert!(k.on_time(t0 + Duration::from_millis(50)));
        assert!(!k.on_time(t0 + Duration::from_millis(60)));
        assert!(!k.after_event(100));
    }

    #[test]
    fn no_fault_never_kills() {
        let t0 = Instant::now();
        let mut k = Killer::new(&PlannedFault::None, t0);
        assert!(!k.after_event(1000));
        assert!(!k.on_time(t0 + Duration::from_secs(1000)));
    }
}
