//! The killer: decides when the supervisor SIGKILLs the backup worker for the iteration's
//! planned fault: after a wall-clock delay. (Kills at an exact VFS operation or right after
//! an event happen inside the worker, see `fault` and `run::worker`.)

use crate::fault::{Fault, Placement};
use std::time::{Duration, Instant};

pub struct Killer {
    at: Option<Instant>,
    fired: bool,
}

impl Killer {
    /// The kill of `fault` if the supervisor carries it out (after a delay).
    pub fn new(fault: Option<&Fault>, started: Instant) -> Killer {
        let at = match fault.map(|f| &f.placement) {
            Some(Placement::AfterDelay { ms }) => Some(started + Duration::from_millis(*ms)),
            _ => None,
        };
        Killer { at, fired: false }
    }

    /// How long until the kill is due (zero when it is), `None` when none is pending.
    pub fn due_in(&self, now: Instant) -> Option<Duration> {
        self.at
            .filter(|_| !self.fired)
            .map(|at| at.saturating_duration_since(now))
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
    fn a_kill_after_an_event_is_not_the_supervisors() {
        let mut k = Killer::new(Some(&kill(Placement::AfterEvent { n: 3 })), Instant::now());
        assert!(!k.on_time(Instant::now() + Duration::from_secs(9)));
    }

    #[test]
    fn kills_once_after_the_delay() {
        let t0 = Instant::now();
        let mut k = Killer::new(Some(&kill(Placement::AfterDelay { ms: 50 })), t0);
        assert!(!k.on_time(t0 + Duration::from_millis(49)));
        assert!(k.on_time(t0 + Duration::from_millis(50)));
        assert!(!k.on_time(t0 + Duration::from_millis(60)));
    }

    #[test]
    fn the_supervisor_wakes_up_when_the_kill_is_due() {
        let t0 = Instant::now();
        let mut k = Killer::new(Some(&kill(Placement::AfterDelay { ms: 50 })), t0);
        assert_eq!(
            k.due_in(t0 + Duration::from_millis(20)),
            Some(Duration::from_millis(30))
        );
        assert_eq!(
            k.due_in(t0 + Duration::from_millis(70)),
            Some(Duration::ZERO)
        );
        assert!(k.on_time(t0 + Duration::from_millis(70)));
        assert_eq!(
            k.due_in(t0 + Duration::from_millis(80)),
            None,
            "sent: nothing pending"
        );
        assert_eq!(Killer::new(None, t0).due_in(t0), None);
    }

    #[test]
    fn no_fault_never_kills() {
        let t0 = Instant::now();
        let mut k = Killer::new(None, t0);
        assert!(!k.on_time(t0 + Duration::from_secs(1000)));
    }
}
