//! One network backup's plumbing: a receiver process for the replica, the link to it, and the
//! sender VFS registered for the destination connection; at the end, what was shipped.
//!
//! Why its own module: the two stream strategies differ only in who writes between steps; the
//! receiver's lifetime (it must not outlive the backup), the throttle and the counting are the
//! same for both.

use super::link::{Link, LinkFault, LinkParams};
use super::receiver::{ApplyMode, FIRED_PREFIX};
use super::sender::{PageCounts, StreamStorage};
use super::{Conn, Endpoint, StreamStats, Transport};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a session is asked to do.
#[derive(Debug, Clone)]
pub struct SessionParams {
    pub transport: Transport,
    pub bandwidth_bps: u64,
    pub queue_bytes: u64,
    pub apply: ApplyMode,
    pub fault: Option<LinkFault>,
}

/// A running network backup session.
pub struct Session {
    receiver: Receiver,
    stdout: Option<JoinHandle<()>>,
    receiver_fired: Arc<Mutex<Vec<String>>>,
    link: Arc<Link>,
    counts: Arc<Mutex<PageCounts>>,
    vfs_name: String,
    params: SessionParams,
    started: Instant,
    samples: Vec<(u64, u64)>,
    throttled: Duration,
}

static SESSIONS: AtomicU64 = AtomicU64::new(0);

impl Session {
    /// Starts a receiver for `replica`, connects, and registers the sender VFS for `replica`
    /// (an absolute path; the destination connection must open exactly it).
    pub fn start(replica: &Path, params: SessionParams) -> Result<Session, String> {
        let endpoint = match params.transport {
            Transport::Unix => Endpoint::Unix(super::beside(replica, ".sock")),
            Transport::Tcp => Endpoint::Tcp,
        };
        let exe = crate::process::self_exe().map_err(|e| format!("finding the harness: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("stream-receiver")
            .arg("--replica")
            .arg(replica)
            .arg("--listen")
            .arg(endpoint.to_arg())
            .arg("--apply")
            .arg(params.apply.as_str())
            .env(
                crate::process::PARENT_PID_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(LinkFault::KillReceiver { frame }) = params.fault {
            cmd.arg("--die-at-frame").arg(frame.to_string());
        }
        let mut receiver = cmd
            .spawn()
            .map_err(|e| format!("starting the receiver: {e}"))?;
        let out = receiver.stdout.take().expect("stdout is piped");
        // From here on, dropping `receiver` stops the process and removes its socket, whatever
        // fails.
        let socket = match &endpoint {
            Endpoint::Unix(p) => Some(p.clone()),
            Endpoint::Tcp => None,
        };
        let mut receiver = Receiver(receiver, socket);
        let mut lines = BufReader::new(out).lines();
        let address = match lines.next() {
            Some(Ok(l)) => l.strip_prefix("listening ").map(str::to_string),
            _ => None,
        };
        let Some(address) = address else {
            let _ = receiver.0.kill();
            let status = receiver.0.wait();
            return Err(format!("the receiver did not start ({status:?})"));
        };
        let receiver_fired = Arc::new(Mutex::new(Vec::new()));
        let stdout = {
            let fired = receiver_fired.clone();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    if let Some(what) = line.strip_prefix(FIRED_PREFIX) {
                        fired
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(what.to_string());
                    }
                }
            })
        };
        let conn = Conn::connect(&address).map_err(|e| format!("connecting to {address}: {e}"))?;
        let link_params = LinkParams {
            bandwidth_bps: params.bandwidth_bps,
            queue_bytes: params.queue_bytes.max(1),
            // Validated scenarios keep it under their watchdog; anything else waits a day.
            ack_timeout: ack_timeout(params.bandwidth_bps, params.queue_bytes)
                .unwrap_or(Duration::from_secs(86_400)),
        };
        let (link, image) = Link::open(conn, link_params, params.fault)
            .map_err(|e| format!("opening the link: {e}"))?;
        let link = Arc::new(link);
        let storage =
            StreamStorage::new(replica.to_string_lossy().into_owned(), image, link.clone());
        let counts = storage.counts.clone();
        let vfs_name = format!(
            "stream-sender-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::SeqCst)
        );
        vfs_faults::register_storage(&vfs_name, Arc::new(storage))?;
        Ok(Session {
            receiver,
            stdout: Some(stdout),
            receiver_fired,
            link,
            counts,
            vfs_name,
            params,
            started: Instant::now(),
            samples: Vec::new(),
            throttled: Duration::ZERO,
        })
    }

    /// The VFS the destination connection must be opened with.
    pub fn vfs_name(&self) -> &str {
        &self.vfs_name
    }

    /// Forgets the pages counted so far (the journal-mode switch is not the backup).
    pub fn reset_counts(&self) {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = PageCounts::default();
    }

    /// Between two steps: samples the queue, and waits while it is more than half full (the
    /// throttle: no `step()` while the link cannot keep up).
    pub fn between_steps(&mut self) {
        let depth = self.link.depth();
        self.samples
            .push((self.started.elapsed().as_millis() as u64, depth));
        if depth > self.params.queue_bytes / 2 {
            self.throttled += self.link.wait_below(self.params.queue_bytes / 2);
        }
    }

    /// Link faults that took effect since the last call (the receiver's come at `finish`).
    pub fn take_fired(&self) -> Vec<String> {
        self.link.take_fired()
    }

    /// Ships anything written since the last sync (a truncate after the commit) and waits for
    /// the receiver to have it.
    pub fn flush(&self) -> Result<(), String> {
        self.link.sync()
    }

    /// Closes the link, waits for the receiver to end, and says what was shipped, with the
    /// receiver's own fired faults.
    /// The destination connection must be closed by now: the VFS is retired here.
    pub fn finish(mut self, changed_pages: Option<u64>) -> (StreamStats, Vec<String>) {
        let report = self.link.close(Duration::from_secs(5));
        // The VFS holds the image and the link: free them, so a process that runs many
        // sessions (crash exploration) does not keep every replica and socket.
        let _ = vfs_faults::retire_storage(&self.vfs_name);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.receiver.0.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let _ = self.receiver.0.kill();
        let _ = self.receiver.0.wait();
        if let Some(t) = self.stdout.take() {
            let _ = t.join();
        }
        let mut fired = self.link.take_fired();
        fired.extend(std::mem::take(
            &mut *self
                .receiver_fired
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        ));
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let stats = StreamStats {
            transport: match self.params.transport {
                Transport::Unix => "unix".into(),
                Transport::Tcp => "tcp".into(),
            },
            bytes_shipped: report.shipped,
            pages_sent: counts.sent,
            pages_resent: counts.resent,
            syncs_acked: report.syncs_acked,
            throttled_ms: (self.throttled + report.blocked).as_millis() as u64,
            bandwidth_bps: self.params.bandwidth_bps,
            throughput_bps: report.throughput_bps,
            queue_bytes: self.params.queue_bytes,
            queue_max: report.max_depth,
            queue_samples: std::mem::take(&mut self.samples),
            changed_pages,
            link_error: report.error,
        };
        (stats, fired)
    }
}

/// How long a sync waits for its acknowledgement: a full queue drained at the bandwidth limit,
/// twice, and a second for the receiver's own commit. `None` when that is too long for a
/// [`Duration`] (a huge queue on a slow link): a scenario with such a link is refused.
pub fn ack_timeout(bandwidth_bps: u64, queue_bytes: u64) -> Option<Duration> {
    let drain = if bandwidth_bps == 0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(queue_bytes as f64 / bandwidth_bps as f64).ok()?
    };
    drain.checked_mul(2)?.checked_add(Duration::from_secs(1))
}

/// The receiver process and its Unix socket: killed, reaped and removed when dropped, so
/// none outlives its backup.
struct Receiver(Child, Option<std::path::PathBuf>);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if let Some(p) = &self.1 {
            let _ = std::fs::remove_file(p);
        }
    }
}
