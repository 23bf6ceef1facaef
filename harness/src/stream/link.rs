//! The sender's side of the link: a queue bounded in bytes between the VFS and the socket, a
//! shipping thread that writes frames at the bandwidth limit, an acknowledgement reader, and the
//! planned link faults.
//!
//! Why a queue: the backup thread must not wait for the network on every page, and must not
//! run arbitrarily far ahead of it either. A write blocks while the queue is full; the strategy
//! also stops calling `step()` until the queue has drained to half (the throttle). A sync waits
//! until the receiver acknowledged it, so a sync that returns OK means the replica has it.

use super::frame::{Frame, FrameError};
use super::Conn;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A planned fault on the link, placed by stream position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LinkFault {
    /// The link breaks after `at_byte` bytes of the stream (usually inside a frame).
    Break { at_byte: u64 },
    /// `len` bytes from `at_byte` on are lost (within that frame): the receiver must see a
    /// damaged frame.
    Drop { at_byte: u64, len: u64 },
    /// The link stalls for `ms` before byte `at_byte`, then carries on intact.
    Stall { at_byte: u64, ms: u64 },
    /// The receiver SIGKILLs itself on its `frame`-th frame (the receiver carries it out).
    KillReceiver { frame: u64 },
}

/// The link's limits.
#[derive(Debug, Clone, Copy)]
pub struct LinkParams {
    /// Bytes per second (0: as fast as the socket takes them).
    pub bandwidth_bps: u64,
    /// The queue's bound in bytes (a frame larger than that is still queued, alone).
    pub queue_bytes: u64,
    /// How long a sync waits for its acknowledgement.
    pub ack_timeout: Duration,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Vec<u8>>,
    depth: u64,
    max_depth: u64,
    broken: Option<String>,
    closing: bool,
    acked: u64,
    /// Bytes taken off the queue (dropped ones included): the stream position.
    position: u64,
    shipped: u64,
    first_byte: Option<Instant>,
    last_byte: Option<Instant>,
    fired: Vec<String>,
    blocked: Duration,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
        match self.changed.wait_timeout(g, d) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        }
    }

    fn break_with(&self, why: String) {
        let mut g = self.lock();
        if g.broken.is_none() {
            g.broken = Some(why);
        }
        g.queue.clear();
        g.depth = 0;
        drop(g);
        self.changed.notify_all();
    }
}

/// An open link to a receiver.
pub struct Link {
    shared: Arc<Shared>,
    /// Taken and dropped by [`Link::close`]: the socket is closed with the link.
    conn: Mutex<Option<Conn>>,
    params: LinkParams,
    seq: Mutex<u64>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What the link did, when it is closed.
#[derive(Debug, Clone, Default)]
pub struct LinkReport {
    pub shipped: u64,
    pub throughput_bps: u64,
    pub max_depth: u64,
    pub blocked: Duration,
    pub syncs_acked: u64,
    pub error: Option<String>,
}

impl Link {
    /// Reads the receiver's image of the replica, then starts shipping. `fault` is carried out
    /// by the shipping thread (a `KillReceiver` fault is the receiver's, and ignored here).
    pub fn open(
        conn: Conn,
        params: LinkParams,
        fault: Option<LinkFault>,
    ) -> Result<(Link, Vec<u8>), FrameError> {
        let mut reader = conn.try_clone()?;
        // The replica's image comes first, in pieces, then its end with the total length.
        let mut image = Vec::new();
        loop {
            match Frame::read(&mut reader)? {
                Frame::Image { data } => image.extend_from_slice(&data),
                Frame::ImageEnd { len } if len == image.len() as u64 => break,
                other => {
                    return Err(FrameError::Damaged(format!(
                        "expected the replica's image first, got {other:?} after {} bytes",
                        image.len()
                    )))
                }
            }
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let acks = {
            let shared = shared.clone();
            std::thread::spawn(move || read_acks(&shared, reader))
        };
        let ship = {
            let shared = shared.clone();
            let out = conn.try_clone()?;
            std::thread::spawn(move || ship(&shared, out, params.bandwidth_bps, fault))
        };
        Ok((
            Link {
                shared,
                conn: Mutex::new(Some(conn)),
                params,
                seq: Mutex::new(0),
                threads: Mutex::new(vec![acks, ship]),
            },
            image,
        ))
    }

    /// Queues a frame; blocks while the queue is full. Fails once the link is broken.
    pub fn send(&self, frame: &Frame) -> Result<(), String> {
        let bytes = frame.encode();
        let len = bytes.len() as u64;
        let mut g = self.shared.lock();
        let started = Instant::now();
        while g.broken.is_none() && g.depth > 0 && g.depth + len > self.params.queue_bytes {
            g = self.shared.wait(g, Duration::from_millis(50));
        }
        g.blocked += started.elapsed();
        if let Some(why) = &g.broken {
            return Err(why.clone());
        }
        g.queue.push_back(bytes);
        g.depth += len;
        g.max_depth = g.max_depth.max(g.depth);
        drop(g);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Sends a sync and waits for its acknowledgement.
    pub fn sync(&self) -> Result<(), String> {
        let seq = {
            let mut s = self.seq.lock().unwrap_or_else(|p| p.into_inner());
            *s += 1;
            *s
        };
        self.send(&Frame::Sync { seq })?;
        let deadline = Instant::now() + self.params.ack_timeout;
        let mut g = self.shared.lock();
        loop {
            if g.acked >= seq {
                return Ok(());
            }
            if let Some(why) = &g.broken {
                return Err(why.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "no acknowledgement of sync #{seq} within {} ms",
                    self.params.ack_timeout.as_millis()
                ));
            }
            g = self.shared.wait(g, deadline - now);
        }
    }

    /// Bytes waiting in the queue.
    pub fn depth(&self) -> u64 {
        self.shared.lock().depth
    }

    /// Waits until the queue holds at most `bytes` (or the link broke); returns how long.
    pub fn wait_below(&self, bytes: u64) -> Duration {
        let started = Instant::now();
        let mut g = self.shared.lock();
        while g.broken.is_none() && g.depth > bytes {
            g = self.shared.wait(g, Duration::from_millis(50));
        }
        started.elapsed()
    }

    /// Link faults that took effect since the last call.
    pub fn take_fired(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().fired)
    }

    /// Ships what is queued (for at most `drain`), cuts the link, and says what it did.
    pub fn close(&self, drain: Duration) -> LinkReport {
        let deadline = Instant::now() + drain;
        let mut g = self.shared.lock();
        while g.broken.is_none() && g.depth > 0 && Instant::now() < deadline {
            g = self.shared.wait(g, Duration::from_millis(20));
        }
        g.closing = true;
        let error = g.broken.clone();
        drop(g);
        self.shared.changed.notify_all();
        if let Some(conn) = self.conn.lock().unwrap_or_else(|p| p.into_inner()).take() {
            conn.shutdown();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        let g = self.shared.lock();
        let secs = match (g.first_byte, g.last_byte) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        LinkReport {
            shipped: g.shipped,
            throughput_bps: if secs > 0.0 {
                (g.shipped as f64 / secs) as u64
            } else {
                0
            },
            max_depth: g.max_depth,
            blocked: g.blocked,
            syncs_acked: g.acked,
            error,
        }
    }
}

/// Reads acknowledgements until the receiver closes the link.
fn read_acks(shared: &Shared, mut conn: Conn) {
    loop {
        match Frame::read(&mut conn) {
            Ok(Frame::Ack { seq }) => {
                let mut g = shared.lock();
                g.acked = g.acked.max(seq);
                drop(g);
                shared.changed.notify_all();
            }
            Ok(other) => {
                shared.break_with(format!("unexpected frame from the receiver: {other:?}"));
                return;
            }
            Err(e) => {
                let closing = shared.lock().closing;
                let why = match e {
                    FrameError::Closed if closing => "link closed".to_string(),
                    FrameError::Closed => "the receiver closed the link".to_string(),
                    e => format!("reading acknowledgements: {e}"),
                };
                shared.break_with(why);
                return;
            }
        }
    }
}

/// Largest piece written at once: small enough for the bandwidth limit to pace smoothly.
const CHUNK: usize = 4096;

/// The shipping thread: frames off the queue onto the socket, paced, with the planned fault.
fn ship(shared: &Shared, mut out: Conn, bandwidth_bps: u64, mut fault: Option<LinkFault>) {
    if matches!(fault, Some(LinkFault::KillReceiver { .. })) {
        fault = None;
    }
    // The limit is a rate, not an average: pacing counts from the first byte after the queue
    // ran empty, so an idle link earns no credit to burst with later.
    let mut paced: Option<(Instant, u64)> = None;
    loop {
        let frame = {
            let mut g = shared.lock();
            loop {
                if g.broken.is_some() {
                    return;
                }
                if let Some(f) = g.queue.pop_front() {
                    break f;
                }
                if g.closing {
                    return;
                }
                paced = None;
                g = shared.wait(g, Duration::from_millis(50));
            }
        };
        let len = frame.len() as u64;
        let mut at = 0usize;
        while at < frame.len() {
            let position = shared.lock().position;
            let mut end = (at + CHUNK).min(frame.len());
            // The fault's byte, if it falls in this piece: write up to it first.
            let fault_at = fault.and_then(|f| {
                let b = match f {
                    LinkFault::Break { at_byte }
                    | LinkFault::Drop { at_byte, .. }
                    | LinkFault::Stall { at_byte, .. } => at_byte,
                    LinkFault::KillReceiver { .. } => return None,
                };
                (b >= position && b < position + (end - at) as u64)
                    .then(|| at + (b - position) as usize)
            });
            if let Some(cut) = fault_at {
                end = cut;
            }
            if end > at {
                if let Err(e) = out.write_all(&frame[at..end]) {
                    shared.break_with(format!("link write: {e}"));
                    return;
                }
                let now = Instant::now();
                let mut g = shared.lock();
                g.position += (end - at) as u64;
                g.shipped += (end - at) as u64;
                g.first_byte.get_or_insert(now);
                g.last_byte = Some(now);
                let shipped = g.shipped;
                drop(g);
                let (since, base) = *paced.get_or_insert((now, shipped - (end - at) as u64));
                if bandwidth_bps > 0 {
                    let due =
                        Duration::from_secs_f64((shipped - base) as f64 / bandwidth_bps as f64);
                    let elapsed = since.elapsed();
                    if due > elapsed {
                        std::thread::sleep(due - elapsed);
                    }
                }
                at = end;
            }
            if fault_at.is_some() {
                let f = fault.take().expect("a fault was due");
                let position = shared.lock().position;
                match f {
                    LinkFault::Break { .. } => {
                        fired(
                            shared,
                            format!("link broken after byte {position} (mid-frame)"),
                        );
                        out.shutdown();
                        shared.break_with(format!("link broken after byte {position}"));
                        return;
                    }
                    LinkFault::Drop { len, .. } => {
                        let lost = (len as usize).min(frame.len() - at).max(1);
                        fired(
                            shared,
                            format!("link lost {lost} bytes after byte {position}"),
                        );
                        shared.lock().position += lost as u64;
                        at += lost;
                    }
                    LinkFault::Stall { ms, .. } => {
                        fired(shared, format!("link stalled {ms} ms at byte {position}"));
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                    LinkFault::KillReceiver { .. } => {}
                }
            }
        }
        let mut g = shared.lock();
        g.depth = g.depth.saturating_sub(len);
        drop(g);
        shared.changed.notify_all();
    }
}

fn fired(shared: &Shared, what: String) {
    shared.lock().fired.push(what);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// A link over a socket pair; the peer has sent an empty image.
    fn pair(params: LinkParams, fault: Option<LinkFault>) -> (Link, UnixStream) {
        let (ours, mut peer) = UnixStream::pair().unwrap();
        Frame::Image { data: Vec::new() }
            .write_to(&mut peer)
            .unwrap();
        Frame::ImageEnd { len: 0 }.write_to(&mut peer).unwrap();
        let (link, image) = Link::open(Conn::Unix(ours), params, fault).unwrap();
        assert!(image.is_empty());
        (link, peer)
    }

    fn params(bandwidth_bps: u64, queue_bytes: u64) -> LinkParams {
        LinkParams {
            bandwidth_bps,
            queue_bytes,
            ack_timeout: Duration::from_secs(5),
        }
    }

    fn page(n: u64) -> Frame {
        Frame::Write {
            offset: n * 4096,
            data: vec![n as u8; 4096],
        }
    }

    #[test]
    fn a_break_cuts_the_stream_at_its_byte_and_later_sends_fail() {
        let (link, mut peer) = pair(params(0, 1 << 20), Some(LinkFault::Break { at_byte: 5000 }));
        link.send(&page(0)).unwrap();
        link.send(&page(1)).unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 5000);
        assert!(Frame::read(&mut got.as_slice()).is_ok());
        assert!(Frame::read(&mut &got[page(0).encode().len()..]).is_err());
        assert!(link.sync().is_err());
        assert!(link.take_fired()[0].contains("broken after byte 5000"));
    }

    #[test]
    fn lost_bytes_make_the_frame_unreadable_and_a_stall_delays_it_intact() {
        let (link, mut peer) = pair(
            params(0, 1 << 20),
            Some(LinkFault::Drop {
                at_byte: 100,
                len: 3,
            }),
        );
        link.send(&page(0)).unwrap();
        link.send(&page(1)).unwrap();
        let report = link.close(Duration::from_secs(5));
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got.len() as u64, report.shipped);
        assert_eq!(got.len(), 2 * page(0).encode().len() - 3);
        assert!(Frame::read(&mut got.as_slice()).is_err());

        let (link, mut peer) = pair(
            params(0, 1 << 20),
            Some(LinkFault::Stall {
                at_byte: 10,
                ms: 150,
            }),
        );
        let started = Instant::now();
        link.send(&page(3)).unwrap();
        assert_eq!(Frame::read(&mut peer).unwrap(), page(3));
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(link.take_fired()[0].contains("stalled 150 ms"));
    }

    #[test]
    fn the_queue_never_holds_more_than_its_bound_and_the_limit_paces_the_link() {
        // 60 pages at 1 MB/s through a 64 KiB queue.
        let (link, mut peer) = pair(params(1_000_000, 64 << 10), None);
        let reader = std::thread::spawn(move || {
            let mut n = 0;
            while let Ok(f) = Frame::read(&mut peer) {
                if let Frame::Sync { seq } = f {
                    Frame::Ack { seq }.write_to(&mut peer).unwrap();
                    break;
                }
                n += 1;
            }
            n
        });
        let started = Instant::now();
        for n in 0..60 {
            link.send(&page(n)).unwrap();
        }
        link.sync().unwrap();
        let elapsed = started.elapsed();
        let report = link.close(Duration::from_secs(5));
        assert_eq!(reader.join().unwrap(), 60);
        assert!(report.max_depth <= 64 << 10, "{report:?}");
        assert!(report.blocked > Duration::ZERO, "{report:?}");
        // 60 × 4 KiB at 1 MB/s cannot take less than about 0.24 s.
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert_eq!(report.syncs_acked, 1);
    }
}
