//! Process helpers shared by the supervisor, the workers and the strategies that run
//! programs: a child that dies with its parent, how a process ended, and the signals that stop
//! a run.

use serde::{Deserialize, Serialize};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Set by a parent on every worker (and tool) it starts: its own pid, which
/// [`die_with_parent`] compares with the worker's real parent.
pub const PARENT_PID_ENV: &str = "HARNESS_PARENT_PID";

/// The exit code of a worker that found its parent already gone when it started.
pub const PARENT_GONE_EXIT: i32 = 3;

/// The executable to re-run for a worker. On Linux `/proc/self/exe`: it names the running
/// binary even after a rebuild replaced the file on disk (the path `current_exe` gives then
/// no longer exists, and every spawn of a long run would fail).
pub fn self_exe() -> std::io::Result<std::path::PathBuf> {
    let proc_self = std::path::Path::new("/proc/self/exe");
    if proc_self.exists() {
        return Ok(proc_self.to_path_buf());
    }
    std::env::current_exe()
}

/// Makes the calling process die with its parent, so no worker outlives a run.
///
/// The death signal covers a parent that dies after it is set. A parent that died before,
/// while the worker was starting, is caught next: when the parent handed its pid over in
/// [`PARENT_PID_ENV`] and `getppid()` is no longer that pid (the worker was reparented), the
/// worker exits at once with [`PARENT_GONE_EXIT`]. Checking after setting the signal leaves
/// no window in which the parent can die unnoticed.
pub fn die_with_parent() {
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
    let expected = std::env::var(PARENT_PID_ENV).ok();
    if parent_gone(expected.as_deref(), nix::unistd::getppid().as_raw()) {
        std::process::exit(PARENT_GONE_EXIT);
    }
}

/// Whether the parent that handed over `expected` (its pid, as text) is gone, given the
/// current parent pid `actual`. Without a valid `expected` (a worker run by hand) nothing can
/// be told: not gone.
fn parent_gone(expected: Option<&str>, actual: i32) -> bool {
    expected
        .and_then(|e| e.trim().parse::<i32>().ok())
        .is_some_and(|pid| pid != actual)
}

/// "exit 0", "signal 9", ... for reports.
pub fn describe_status(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        None => "unknown".into(),
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(sig)) => format!("signal {sig}"),
            _ => "unknown".into(),
        },
    }
}

/// A signal that stops a run the way Ctrl-C does: the run stops between steps, its partial
/// report is written, and the exit code is `128 + signal` (130, 143, 129).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopSignal {
    /// Ctrl-C.
    #[serde(rename = "SIGINT")]
    Int,
    /// `kill`, `timeout`, a CI cancel.
    #[serde(rename = "SIGTERM")]
    Term,
    /// A closed terminal.
    #[serde(rename = "SIGHUP")]
    Hup,
}

impl StopSignal {
    pub const ALL: [StopSignal; 3] = [StopSignal::Int, StopSignal::Term, StopSignal::Hup];

    pub fn signal(self) -> nix::sys::signal::Signal {
        use nix::sys::signal::Signal;
        match self {
            StopSignal::Int => Signal::SIGINT,
            StopSignal::Term => Signal::SIGTERM,
            StopSignal::Hup => Signal::SIGHUP,
        }
    }

    /// "SIGINT", "SIGTERM", "SIGHUP".
    pub fn name(self) -> &'static str {
        self.signal().as_str()
    }

    /// The shell's convention for a process ended by the signal: 128 + its number.
    pub fn exit_code(self) -> i32 {
        128 + self.signal() as i32
    }

    fn from_number(n: usize) -> Option<StopSignal> {
        StopSignal::ALL
            .into_iter()
            .find(|s| s.signal() as i32 as usize == n)
    }
}

/// Whether a stop was asked, and by which signal. Clones share one cell: the command line's
/// signal handlers write it, every run loop reads it between steps.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// A handle nothing has raised yet (no handler installed).
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Records `s` as the reason to stop (the latest signal wins).
    pub fn raise(&self, s: StopSignal) {
        self.0.store(s.signal() as i32 as usize, Ordering::SeqCst);
    }

    /// Whether a stop was asked.
    pub fn is_set(&self) -> bool {
        self.signal().is_some()
    }

    /// Which signal asked the stop, if one did.
    pub fn signal(&self) -> Option<StopSignal> {
        StopSignal::from_number(self.0.load(Ordering::SeqCst))
    }

    /// The process's own handle: the one the command line installs its handlers on
    /// ([`Interrupt::install_handlers`]). For code that a run reaches without a handle passed
    /// down (a bug-base replay's case runner); a run that has one uses that.
    pub fn process() -> Interrupt {
        static PROCESS: std::sync::OnceLock<Interrupt> = std::sync::OnceLock::new();
        PROCESS.get_or_init(Interrupt::new).clone()
    }

    /// Makes SIGINT, SIGTERM and SIGHUP raise this handle instead of ending the process.
    pub fn install_handlers(&self) -> std::io::Result<()> {
        for s in StopSignal::ALL {
            let n = s.signal() as i32;
            signal_hook::flag::register_usize(n, self.0.clone(), n as usize)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_tells_a_dead_parent_by_its_pid() {
        assert!(!parent_gone(Some("4242"), 4242));
        assert!(parent_gone(Some("4242"), 1), "reparented to init");
        assert!(parent_gone(Some("4242"), 77), "reparented to a subreaper");
        assert!(!parent_gone(None, 1), "run by hand: nothing to compare");
        assert!(!parent_gone(Some("not a pid"), 1));
    }

    #[test]
    fn stop_signals_map_to_the_shell_exit_codes() {
        let codes: Vec<(&str, i32)> = StopSignal::ALL
            .iter()
            .map(|s| (s.name(), s.exit_code()))
            .collect();
        assert_eq!(codes, [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)]);
        assert_eq!(
            serde_json::to_string(&StopSignal::Term).unwrap(),
            "\"SIGTERM\""
        );
    }

    #[test]
    fn an_interrupt_remembers_which_signal() {
        let i = Interrupt::new();
        let seen_by_a_loop = i.clone();
        assert!(!seen_by_a_loop.is_set() && seen_by_a_loop.signal().is_none());
        i.raise(StopSignal::Hup);
        assert!(seen_by_a_loop.is_set());
        assert_eq!(seen_by_a_loop.signal(), Some(StopSignal::Hup));
        i.raise(StopSignal::Term);
        assert_eq!(seen_by_a_loop.signal(), Some(StopSignal::Term));
    }
}
