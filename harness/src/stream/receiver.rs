//! The receiving end of a network backup: `harness stream-receiver` (hidden), run by the
//! stream strategies as a separate process that owns the replica.
//!
//! It listens (a Unix socket path or TCP on 127.0.0.1), prints `listening <address>` on stdout,
//! serves one connection and exits when it ends. It first sends the replica's committed bytes
//! (the sender serves the destination's reads from them), then applies the sender's frames.
//!
//! Atomicity (`apply = "atomic"`, apply on sync): writes and truncates change an in-memory image
//! only; at each `Sync` the whole image is written to `<replica>.stream-tmp`, fsynced, renamed
//! over the replica, and the directory is fsynced; only then is the sync acknowledged. A stream
//! that ends anywhere before that rename (a broken link, a killed sender, a damaged frame, a
//! killed receiver) leaves the replica as it was at the last acknowledged sync, like SQLite's own
//! commit. The next receiver removes a stale temp file. The cost is one full rewrite of the
//! replica per commit, which a backup makes once (plus one header-only commit, see the sender).
//!
//! `apply = "immediate"` is the negative control: every write goes straight into the replica
//! file, so a stream cut inside a commit leaves a mix of old and new pages.

use super::frame::{Frame, FrameError};
use super::Endpoint;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How the receiver applies frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMode {
    /// Apply on sync, atomically (temp file + rename).
    #[default]
    Atomic,
    /// Write every frame into the replica as it arrives (the negative control).
    Immediate,
}

impl ApplyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyMode::Atomic => "atomic",
            ApplyMode::Immediate => "immediate",
        }
    }

    pub fn parse(s: &str) -> Option<ApplyMode> {
        match s {
            "atomic" => Some(ApplyMode::Atomic),
            "immediate" => Some(ApplyMode::Immediate),
            _ => None,
        }
    }
}

/// What `harness stream-receiver` was asked to do.
#[derive(Debug, Clone)]
pub struct ReceiverArgs {
    pub replica: PathBuf,
    pub listen: Endpoint,
    pub apply: ApplyMode,
    /// SIGKILL itself on receiving the n-th frame, before applying it (a planned fault).
    pub die_at_frame: Option<u64>,
}

/// The line a receiver prints before it SIGKILLs itself at a planned frame.
pub const FIRED_PREFIX: &str = "fired ";

/// The temp file a commit is written to before it replaces the replica.
pub fn temp_of(replica: &Path) -> PathBuf {
    super::beside(replica, ".stream-tmp")
}

/// Runs the receiver until its one connection ends.
pub fn run(args: &ReceiverArgs) -> Result<()> {
    crate::process::die_with_parent();
    let _ = std::fs::remove_file(temp_of(&args.replica));
    // The receiver owns the database file only: committed frames in a WAL beside it would be
    // replayed over every replica it writes.
    let wal = super::beside(&args.replica, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        bail!(
            "{} has content: a stream replica must not be in WAL mode with frames beside it",
            wal.display()
        );
    }
    let listener = args
        .listen
        .bind()
        .context("binding the receiver's socket")?;
    println!("listening {}", listener.address());
    std::io::stdout().flush()?;
    let stream = listener.accept().context("accepting the sender")?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    let mut image = match std::fs::read(&args.replica) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", args.replica.display())),
    };
    Frame::Image {
        data: image.clone(),
    }
    .write_to(&mut writer)?;
    let mut frames = 0u64;
    let mut delete = false;
    loop {
        let frame = match Frame::read(&mut reader) {
            Ok(f) => f,
            // The sender went away between frames: nothing pending is applied.
            Err(FrameError::Closed) => return Ok(()),
            Err(e) => bail!("receiver: {e}; dropping what was not synced"),
        };
        frames += 1;
        if args.die_at_frame == Some(frames) {
            println!("{FIRED_PREFIX}receiver SIGKILLed itself on frame #{frames}");
            std::io::stdout().flush()?;
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        match (frame, args.apply) {
            (Frame::Write { offset, data }, ApplyMode::Atomic) => {
                vfs_faults::storage::write_at(&mut image, &data, offset)
                    .map_err(|e| anyhow::anyhow!("write at {offset}: {e}"))?;
            }
            (Frame::Write { offset, data }, ApplyMode::Immediate) => {
                replica_file(&args.replica)?.write_all_at(&data, offset)?;
            }
            (Frame::Truncate { size }, ApplyMode::Atomic) => image.truncate(size as usize),
            (Frame::Truncate { size }, ApplyMode::Immediate) => {
                replica_file(&args.replica)?.set_len(size)?
            }
            (Frame::Delete, _) => {
                delete = true;
                image.clear();
            }
            (Frame::Sync { seq }, mode) => {
                if delete {
                    let _ = std::fs::remove_file(&args.replica);
                    delete = false;
                } else if mode == ApplyMode::Atomic {
                    commit(&args.replica, &image)?;
                } else {
                    replica_file(&args.replica)?.sync_all()?;
                }
                Frame::Ack { seq }.write_to(&mut writer)?;
            }
            (f @ (Frame::Image { .. } | Frame::Ack { .. }), _) => {
                bail!("receiver: unexpected frame from the sender: {f:?}")
            }
        }
    }
}

fn replica_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Replaces the replica with `image`, atomically and durably.
pub fn commit(replica: &Path, image: &[u8]) -> Result<()> {
    let tmp = temp_of(replica);
    let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(image)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, replica)
        .with_context(|| format!("renaming {} over {}", tmp.display(), replica.display()))?;
    if let Some(dir) = replica.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Conn;
    use std::time::Duration;

    const OLD: u8 = 1;

    /// A receiver on a replica of 8 KiB of `OLD` in a temp dir, and a sender's connection.
    fn serve(
        apply: ApplyMode,
    ) -> (
        tempfile::TempDir,
        PathBuf,
        std::thread::JoinHandle<()>,
        Conn,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let replica = dir.path().join("replica.db");
        std::fs::write(&replica, vec![OLD; 8192]).unwrap();
        let sock = dir.path().join("r.sock");
        let args = ReceiverArgs {
            replica: replica.clone(),
            listen: Endpoint::Unix(sock.clone()),
            apply,
            die_at_frame: None,
        };
        let server = std::thread::spawn(move || {
            let _ = run(&args);
        });
        let address = format!("unix:{}", sock.display());
        let conn = loop {
            if let Ok(c) = Conn::connect(&address) {
                break c;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        (dir, replica, server, conn)
    }

    fn image(conn: &mut Conn) -> Vec<u8> {
        match Frame::read(conn).unwrap() {
            Frame::Image { data } => data,
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn a_stream_cut_before_its_sync_leaves_the_replica_as_it_was() {
        let (_dir, replica, server, mut conn) = serve(ApplyMode::Atomic);
        assert_eq!(image(&mut conn), vec![OLD; 8192]);
        Frame::Write {
            offset: 4096,
            data: vec![2; 4096],
        }
        .write_to(&mut conn)
        .unwrap();
        Frame::Truncate { size: 4096 }.write_to(&mut conn).unwrap();
        // Half of the next frame, then the link breaks.
        let half = Frame::Write {
            offset: 0,
            data: vec![3; 4096],
        }
        .encode();
        conn.write_all(&half[..2000]).unwrap();
        conn.shutdown();
        server.join().unwrap();
        assert_eq!(std::fs::read(&replica).unwrap(), vec![OLD; 8192]);
        assert!(!temp_of(&replica).exists());
    }

    #[test]
    fn a_sync_replaces_the_replica_with_everything_before_it_and_is_acknowledged() {
        let (_dir, replica, server, mut conn) = serve(ApplyMode::Atomic);
        image(&mut conn);
        Frame::Write {
            offset: 4096,
            data: vec![2; 4096],
        }
        .write_to(&mut conn)
        .unwrap();
        Frame::Sync { seq: 7 }.write_to(&mut conn).unwrap();
        assert_eq!(Frame::read(&mut conn).unwrap(), Frame::Ack { seq: 7 });
        let mut expect = vec![OLD; 4096];
        expect.extend(vec![2; 4096]);
        assert_eq!(std::fs::read(&replica).unwrap(), expect);
        // Written after the sync, never synced: not applied.
        Frame::Truncate { size: 0 }.write_to(&mut conn).unwrap();
        conn.shutdown();
        server.join().unwrap();
        assert_eq!(std::fs::read(&replica).unwrap(), expect);
    }

    #[test]
    fn the_immediate_receiver_writes_before_any_sync() {
        // The negative control must really lack atomicity, or it proves nothing.
        let (_dir, replica, server, mut conn) = serve(ApplyMode::Immediate);
        image(&mut conn);
        Frame::Write {
            offset: 0,
            data: vec![2; 4096],
        }
        .write_to(&mut conn)
        .unwrap();
        conn.shutdown();
        server.join().unwrap();
        assert_eq!(std::fs::read(&replica).unwrap()[..4096], vec![2; 4096][..]);
    }
}
