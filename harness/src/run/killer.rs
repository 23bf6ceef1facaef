//! The killer: decides when the supervisor SIGKILLs the backup worker for the iteration's
//! planned fault. (Kills at an exact VFS operation happen inside the worker, see `fault`.)

use crate::fault::{Fault, Placement};
use std::time::{Duration, Instant};

pub struct Killer {
    after_events: Option<u64>,
    at: Option<Instant>,
    fired: bool,
}

impl Killer {
    /// The kill of `fault` if the supervisor carries it out (after an event or a delay).
    pub fn new(fault: Option<&Fault>, started: Instant) -> Killer {
        let (after_events, at) = match fault.map(|f| &f.placement) {
            Some(Placement::AfterEvent { n }) => (Some(*n), None),
            Some(Placement::AfterDelay { ms }) => {
                (None, Some(started + Duration::from_millis(*ms)))
            }
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
    use crate::fault::FaultAction;
    use vfs_faults::KillWhen;

    fn kill(placement: Placement) -> Fault {
        Fault {
            action: FaultAction::Kill {
                when: KillWhen::Before,
            },
            placement,
        }
    }

    #[test]
    fn kills_once_after_the_nth_event() {
        let mut k = Killer::new(Some(&kill(Placement::AfterEvent { n: 3 })), Instant::now());
        assert!(!k.after_event(1));
        assert!(!k.after_event(2));
        assert!(k.after_event(3));
        assert!(!k.after_event(4));
        assert!(!k.on_time(Instant::now() + Duration::from_secs(9)));
    }

    #[test]
    fn kills_once_after_the_delay() {
        let t0 = Instant::now();
        let mut k = Killer::new(Some(&kill(Placement::AfterDelay { ms: 50 })), t0);
        assert!(!k.on_time(t0 + Duration::from_millis(49)));
        assert!(k.on_time(t0 + Duration::from_millis(50)));
        assert!(!k.on_time(t0 + Duration::from_millis(60)));
        assert!(!k.after_event(100));
    }

    #[test]
    fn no_fault_never_kills() {
        let t0 = Instant::now();
        let mut k = Killer::new(None, t0);
        assert!(!k.after_event(1000));
        assert!(!k.on_time(t0 + Duration::from_secs(1000)));
    }
}
