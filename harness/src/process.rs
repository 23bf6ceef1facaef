//! Process helpers shared by the supervisor, the workers and the strategies that run
//! programs: a child that dies with its parent, and how a process ended.

use std::process::ExitStatus;

/// Makes the calling process die with its parent, so no worker outlives a run.
pub fn die_with_parent() {
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
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
