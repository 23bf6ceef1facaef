//! Network backups: the destination connection writes through a VFS that ships its writes to a
//! receiver process, which keeps the replica (the SQLite author's idea for backing up a large,
//! busy database to another host).
//!
//! Why it exists: such a backup fails in ways a local one cannot (the link breaks, the receiver
//! dies, the queue fills), and no tool tests it. The pieces, in data-flow order:
//! * [`sender`]: the `vfs_faults::storage` VFS the destination connection opens. It ships the
//!   destination database's writes, truncates, syncs and deletes as [`frame`]s, serves reads
//!   from what it has sent, and keeps journals and temporary files in memory;
//! * [`link`]: the bounded queue between the VFS and the socket, the bandwidth limit, and the
//!   planned link faults (a break mid-frame, dropped bytes, a stall);
//! * [`receiver`]: the `harness stream-receiver` process that applies the frames to the replica
//!   with commit atomicity and acknowledges each sync;
//! * [`session`]: starts a receiver, connects, registers the VFS, and counts what was shipped.
//!
//! The strategies (`stream-vfs`, `stream-vfs-same-conn`) drive a stepped backup through a
//! session and throttle `sqlite3_backup_step()` on the queue's depth.

pub mod frame;
pub mod link;
pub mod receiver;
pub mod replica_fs;
pub mod sender;
pub mod session;

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

/// `path` with `suffix` appended (`/d/x.db` + `.sock`).
pub fn beside(path: &std::path::Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Where a receiver listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket at this path.
    Unix(PathBuf),
    /// TCP on 127.0.0.1, a port the system picks.
    Tcp,
}

impl Endpoint {
    /// `unix:PATH` or `tcp`.
    pub fn parse(s: &str) -> Option<Endpoint> {
        match s.strip_prefix("unix:") {
            Some(p) if !p.is_empty() => Some(Endpoint::Unix(PathBuf::from(p))),
            Some(_) => None,
            None => (s == "tcp").then_some(Endpoint::Tcp),
        }
    }

    pub fn to_arg(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix:{}", p.display()),
            Endpoint::Tcp => "tcp".into(),
        }
    }

    pub fn bind(&self) -> io::Result<Listener> {
        Ok(match self {
            Endpoint::Unix(p) => {
                let _ = std::fs::remove_file(p);
                Listener::Unix(UnixListener::bind(p)?, p.clone())
            }
            Endpoint::Tcp => Listener::Tcp(TcpListener::bind(("127.0.0.1", 0))?),
        })
    }
}

/// The link's transport, as chosen by a strategy's `link` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Unix,
    Tcp,
}

/// A bound receiver socket.
pub enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

impl Listener {
    /// What a sender passes to [`Conn::connect`]: `unix:PATH` or `tcp:127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        match self {
            Listener::Unix(_, p) => format!("unix:{}", p.display()),
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("tcp:{a}"),
                Err(_) => "tcp:?".into(),
            },
        }
    }

    pub fn accept(&self) -> io::Result<Conn> {
        Ok(match self {
            Listener::Unix(l, _) => Conn::Unix(l.accept()?.0),
            Listener::Tcp(l) => {
                let s = l.accept()?.0;
                s.set_nodelay(true)?;
                Conn::Tcp(s)
            }
        })
    }
}

/// One end of a link.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    /// Connects to an address printed by a receiver.
    pub fn connect(address: &str) -> io::Result<Conn> {
        if let Some(p) = address.strip_prefix("unix:") {
            return Ok(Conn::Unix(UnixStream::connect(p)?));
        }
        if let Some(a) = address.strip_prefix("tcp:") {
            let s = TcpStream::connect(a)?;
            s.set_nodelay(true)?;
            return Ok(Conn::Tcp(s));
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a receiver address: {address}"),
        ))
    }

    pub fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }

    /// Reads that wait longer than `d` fail with a timeout (`None`: wait for ever).
    pub fn set_read_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(d),
            Conn::Tcp(s) => s.set_read_timeout(d),
        }
    }

    /// Cuts the link both ways: the peer's reads end, our writes fail.
    pub fn shutdown(&self) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(Shutdown::Both),
            Conn::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
        }
    }
}

/// What one network backup shipped, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStats {
    /// `unix` or `tcp`.
    pub transport: String,
    /// Bytes written to the socket (frames, headers included).
    pub bytes_shipped: u64,
    /// Database pages written to the link, and those among them whose page had been sent
    /// before in this backup.
    pub pages_sent: u64,
    pub pages_resent: u64,
    /// Syncs acknowledged by the receiver.
    pub syncs_acked: u64,
    /// Time the backup thread waited for the queue to drain (before steps, and inside writes
    /// when the queue was full).
    pub throttled_ms: u64,
    /// The link's bandwidth limit (0: none) and the throughput reached (bytes shipped over
    /// the time from the first to the last byte).
    pub bandwidth_bps: u64,
    pub throughput_bps: u64,
    /// The queue's bound and its deepest point, in bytes.
    pub queue_bytes: u64,
    pub queue_max: u64,
    /// Queue depth over time: `[ms since the session started, bytes]`, one sample per step.
    pub queue_samples: Vec<(u64, u64)>,
    /// Same-connection strategy: source pages its own commits wrote while the backup ran (WAL
    /// frames, counted as the worker's fault VFS sees the source's WAL writes, two per frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_pages: Option<u64>,
    /// What went wrong on the link, if anything did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_error: Option<String>,
}
