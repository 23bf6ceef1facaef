//! Worker child processes: spawned by re-running the harness's own executable with the hidden
//! `worker` subcommand (never `fork()` with SQLite state), read as JSON-line event streams, and
//! killed and reaped on every path: a [`Child`] kills its process when dropped.

use crate::event::Event;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;

/// Which worker a message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Writer(u32),
    Checkpointer,
    Backup,
}

/// What a reader thread sends to the supervisor.
#[derive(Debug)]
pub enum Message {
    Event(Tag, Event),
    /// The worker's stdout closed (it exited or was killed).
    Closed(Tag),
}

/// A running worker process. Dropping it kills and reaps the process.
pub struct Child {
    tag: Tag,
    inner: std::process::Child,
    status: Option<ExitStatus>,
}

impl Child {
    /// Spawns `current_exe worker <args>` with `env`, stderr to `stderr_path`, stdout read
    /// line by line into `tx`.
    pub fn spawn(
        tag: Tag,
        args: &[String],
        env: &[(String, String)],
        stderr_path: &Path,
        tx: Sender<Message>,
    ) -> std::io::Result<Child> {
        let exe = std::env::current_exe()?;
        let stderr = std::fs::File::create(stderr_path)?;
        let mut cmd = Command::new(exe);
        cmd.arg("worker")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut inner = cmd.spawn()?;
        let stdout = inner.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(ev) = Event::from_line(&line) {
                    if tx.send(Message::Event(tag, ev)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Message::Closed(tag));
        });
        Ok(Child {
            tag,
            inner,
            status: None,
        })
    }

    pub fn tag(&self) -> Tag {
        self.tag
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// The exit status, if the process has exited (reaps it).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.inner.try_wait().ok().flatten();
        }
        self.status
    }

    /// SIGKILL (if still running) and reap. Returns true if this call killed it.
    pub fn kill(&mut self) -> bool {
        if self.try_status().is_some() {
            return false;
        }
        let sent = kill(Pid::from_raw(self.inner.id() as i32), Signal::SIGKILL).is_ok();
        self.status = self.inner.wait().ok();
        sent
    }

    /// Waits for the process to exit on its own.
    pub fn wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.inner.wait().ok();
        }
        self.status
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
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

/// Makes the calling worker die with its supervisor, so no child outlives a run.
pub fn die_with_parent() {
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
}
