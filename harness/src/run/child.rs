//! Worker child processes: spawned by re-running the harness's own executable with the hidden
//! `worker` subcommand (never `fork()` with SQLite state), read as JSON-line event streams, and
//! killed and reaped on every path: a [`Child`] kills its process when dropped.
//!
//! The backup worker ([`Tag::Backup`]) leads its own process group, and is killed as a group:
//! an `external:<label>` strategy runs a program as the worker's child, and that program must
//! not outlive the worker, whether the supervisor kills the worker or the worker's fault VFS
//! kills it from inside. Before reaping the worker the supervisor SIGKILLs its whole group;
//! the worker is then still a zombie, so its pid (the group id) cannot have been reused.

use crate::event::Event;
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;

/// Which worker a message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Writer(u32),
    Checkpointer,
    Backup,
    /// Holds a lock for the whole iteration (`stuck-backup`).
    Blocker,
    /// A pipeline worker of the scenario's app (`app-invariants`).
    App(u32),
}

impl Tag {
    /// How reports name the process: `writer0`, `checkpointer`, `backup`, `blocker`.
    pub fn name(self) -> String {
        match self {
            Tag::Writer(i) => format!("writer{i}"),
            Tag::Checkpointer => "checkpointer".into(),
            Tag::Backup => "backup".into(),
            Tag::Blocker => "blocker".into(),
            Tag::App(i) => format!("app{i}"),
        }
    }
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
    /// The process leads its own group, killed as a whole (the backup worker).
    group: bool,
}

impl Child {
    /// Spawns `<this executable> worker <args>` with `env`, stderr to `stderr_path`, stdout read
    /// line by line into `tx`.
    pub fn spawn(
        tag: Tag,
        args: &[String],
        env: &[(String, String)],
        stderr_path: &Path,
        tx: Sender<Message>,
    ) -> std::io::Result<Child> {
        Child::spawn_to(tag, args, env, stderr_path, move |m| tx.send(m).is_ok())
    }

    /// [`Child::spawn`], each message handed to `deliver` (which returns false to stop
    /// reading): several children can share one channel with messages told apart by the
    /// caller's own mark.
    pub fn spawn_to(
        tag: Tag,
        args: &[String],
        env: &[(String, String)],
        stderr_path: &Path,
        mut deliver: impl FnMut(Message) -> bool + Send + 'static,
    ) -> std::io::Result<Child> {
        let exe = crate::process::self_exe()?;
        let stderr = std::fs::File::create(stderr_path)?;
        let mut cmd = Command::new(exe);
        cmd.arg("worker")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        // The worker checks it against its real parent when it starts (die_with_parent).
        cmd.env(
            crate::process::PARENT_PID_ENV,
            std::process::id().to_string(),
        );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let group = tag == Tag::Backup;
        if group {
            cmd.process_group(0);
        }
        let mut inner = cmd.spawn()?;
        let stdout = inner.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(ev) = Event::from_line(&line) {
                    if !deliver(Message::Event(tag, ev)) {
                        return;
                    }
                }
            }
            deliver(Message::Closed(tag));
        });
        Ok(Child {
            tag,
            inner,
            status: None,
            group,
        })
    }

    pub fn tag(&self) -> Tag {
        self.tag
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// The exit status, if the process has exited (reaps it, after killing what is left of
    /// its group).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if self.group && !self.exited_unreaped(WaitPidFlag::WNOHANG) {
                return None;
            }
            self.status = self.inner.try_wait().ok().flatten();
        }
        self.status
    }

    /// SIGKILL (if still running) and reap. Returns true if this call killed it.
    pub fn kill(&mut self) -> bool {
        if self.try_status().is_some() {
            return false;
        }
        let pid = self.raw_pid();
        let sent = if self.group {
            // Unreaped, so the group id is still ours.
            killpg(pid, Signal::SIGKILL).is_ok()
        } else {
            kill(pid, Signal::SIGKILL).is_ok()
        };
        self.status = self.inner.wait().ok();
        sent
    }

    /// Waits for the process to exit on its own (then kills what is left of its group).
    pub fn wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if self.group {
                self.exited_unreaped(WaitPidFlag::empty());
            }
            self.status = self.inner.wait().ok();
        }
        self.status
    }

    fn raw_pid(&self) -> Pid {
        Pid::from_raw(self.inner.id() as i32)
    }

    /// Group leaders only: whether the process has exited, without reaping it (`WNOWAIT`;
    /// `extra` = `WNOHANG` to poll). If it has, SIGKILLs the rest of its group (programs the
    /// worker started) while the zombie still pins the group id. True also when the state
    /// cannot be read (then the caller's reap decides).
    fn exited_unreaped(&self, extra: WaitPidFlag) -> bool {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | extra;
        loop {
            return match waitid(Id::Pid(self.raw_pid()), flags) {
                Ok(WaitStatus::StillAlive) => false,
                Ok(_) => {
                    let _ = killpg(self.raw_pid(), Signal::SIGKILL);
                    true
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => true,
            };
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

pub use crate::process::{describe_status, die_with_parent};

/// The last `max` bytes of a worker's stderr file, on one line.
pub(super) fn tail(path: &Path, max: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text = text.trim();
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].replace('\n', " | ")
}
