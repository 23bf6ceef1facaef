//! The receiving end of a network backup: `harness stream-receiver` (hidden), run by the
//! stream strategies as a separate process that owns the replica.
//!
//! It listens (a Unix socket path or TCP on 127.0.0.1), prints `listening <address>` on stdout,
//! serves one connection and exits when it ends. It first sends the replica's committed bytes
//! (the sender serves the destination's reads from them), then applies the sender's frames.
//!
//! Atomicity (`apply = "atomic"`, apply on sync): writes and truncates change an in-memory image
//! only; at each `Sync` the whole image is written to `<replica>.stream-tmp`, fsynced, renamed
//! over the replica, and the directory is fsynced ([`super::replica_fs`], where a page-cache
//! model checks it against a power cut); only then is the sync acknowledged. A stream
//! that ends anywhere before that rename (a broken link, a killed sender, a damaged frame, a
//! killed receiver) leaves the replica as it was at the last acknowledged sync, like SQLite's own
//! commit. The next receiver removes a stale temp file. The cost is one full rewrite of the
//! replica per commit, which a backup makes once (plus one header-only commit, see the sender).
//!
//! `apply = "immediate"` is the negative control: every write goes straight into the replica
//! file, so a stream cut inside a commit leaves a mix of old and new pages.

use super::frame::{Frame, FrameError};
use super::replica_fs::{self, RealFs};
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
    /// SIGKILL itself on the n-th frame (a planned fault): before applying a write, truncate
    /// or delete; after making a sync durable and before acknowledging it.
    pub die_at_frame: Option<u64>,
}

/// The line a receiver prints before it SIGKILLs itself at a planned frame.
pub const FIRED_PREFIX: &str = "fired ";

/// The temp file a commit is written to before it replaces the replica.
pub fn temp_of(replica: &Path) -> PathBuf {
    super::beside(replica, ".stream-tmp")
}

/// Refuses a replica with a non-empty `-wal` or `-journal` beside it. The receiver owns the
/// database file only: committed frames in a WAL beside it would be replayed over every
/// replica it writes, and a hot journal would be rolled back over it by the next open.
fn refuse_side_files(replica: &Path) -> Result<()> {
    for suffix in ["-wal", "-journal"] {
        let side = super::beside(replica, suffix);
        if std::fs::metadata(&side).is_ok_and(|m| m.len() > 0) {
            bail!(
                "{} has content: the receiver owns the database file only, and this would be \
                 applied over the replica by the next open",
                side.display()
            );
        }
    }
    Ok(())
}

/// The replica's image as the receiver starts: empty when there is no replica yet; any other
/// failure to read it is an error (an unreadable replica is not an empty one).
fn read_image(replica: &Path) -> Result<Vec<u8>> {
    match std::fs::read(replica) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", replica.display())),
    }
}

/// Runs the receiver until its one connection ends.
pub fn run(args: &ReceiverArgs) -> Result<()> {
    crate::process::die_with_parent();
    let _ = std::fs::remove_file(temp_of(&args.replica));
    refuse_side_files(&args.replica)?;
    let listener = args
        .listen
        .bind()
        .context("binding the receiver's socket")?;
    println!("listening {}", listener.address());
    std::io::stdout().flush()?;
    let stream = listener.accept().context("accepting the sender")?;
    // The connection does not need the path: nothing is left behind however this ends.
    if let Endpoint::Unix(p) = &args.listen {
        let _ = std::fs::remove_file(p);
    }
    // Between frames the sender may be quiet for long; inside one, a pause this long means
    // bytes were lost.
    stream.set_read_timeout(Some(FRAME_STALL))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    let mut image = read_image(&args.replica)?;
    for piece in image.chunks(IMAGE_PIECE) {
        Frame::Image {
            data: piece.to_vec(),
        }
        .write_to(&mut writer)?;
    }
    Frame::ImageEnd {
        len: image.len() as u64,
    }
    .write_to(&mut writer)?;
    let mut frames = 0u64;
    let mut delete = false;
    loop {
        let frame = match Frame::read(&mut reader) {
            Ok(f) => f,
            // The sender went away between frames: nothing pending is applied.
            Err(FrameError::Closed) => return Ok(()),
            Err(FrameError::Idle) => continue,
            Err(e) => bail!("receiver: {e}; dropping what was not synced"),
        };
        frames += 1;
        let die_here = args.die_at_frame == Some(frames);
        if die_here && !matches!(frame, Frame::Sync { .. }) {
            die(&format!(
                "receiver SIGKILLed itself on frame #{frames}, before applying it"
            ))?;
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
                    replica_fs::remove(&mut RealFs, &args.replica)?;
                    delete = false;
                } else if mode == ApplyMode::Atomic {
                    replica_fs::commit(
                        &mut RealFs,
                        &args.replica,
                        &temp_of(&args.replica),
                        &image,
                    )?;
                } else {
                    replica_file(&args.replica)?.sync_all()?;
                }
                if die_here {
                    die(&format!(
                        "receiver SIGKILLed itself on frame #{frames}, a sync made durable and \
                         not acknowledged"
                    ))?;
                }
                Frame::Ack { seq }.write_to(&mut writer)?;
            }
            (f @ (Frame::Image { .. } | Frame::ImageEnd { .. } | Frame::Ack { .. }), _) => {
                bail!("receiver: unexpected frame from the sender: {f:?}")
            }
        }
    }
}

/// How long a frame may stall before the receiver takes it as damaged.
const FRAME_STALL: std::time::Duration = std::time::Duration::from_secs(3);
/// The replica's image goes to the sender in pieces of this size.
const IMAGE_PIECE: usize = 1 << 20;

/// Reports the planned kill on stdout (the session reads it), then SIGKILLs this process.
fn die(what: &str) -> Result<()> {
    println!("{FIRED_PREFIX}{what}");
    std::io::stdout().flush()?;
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    Ok(())
}

fn replica_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_file_with_content_is_refused_an_empty_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let replica = dir.path().join("r.db");
        refuse_side_files(&replica).unwrap();
        for suffix in ["-wal", "-journal"] {
            let side = super::super::beside(&replica, suffix);
            std::fs::write(&side, b"").unwrap();
            refuse_side_files(&replica).unwrap();
            std::fs::write(&side, b"x").unwrap();
            let err = refuse_side_files(&replica).unwrap_err().to_string();
            assert!(err.contains(suffix) && err.contains("has content"), "{err}");
            std::fs::remove_file(&side).unwrap();
        }
    }

    #[test]
    fn a_missing_replica_is_empty_an_unreadable_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let replica = dir.path().join("r.db");
        assert!(read_image(&replica).unwrap().is_empty());
        std::fs::write(&replica, b"image").unwrap();
        assert_eq!(read_image(&replica).unwrap(), b"image");
        let err = read_image(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("reading"), "{err:#}");
    }
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
        let mut image = Vec::new();
        loop {
            match Frame::read(conn).unwrap() {
                Frame::Image { data } => image.extend(data),
                Frame::ImageEnd { len } => {
                    assert_eq!(len, image.len() as u64);
                    return image;
                }
                f => panic!("{f:?}"),
            }
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
    fn a_frame_that_stops_halfway_is_damaged_after_the_stall_limit_and_nothing_is_applied() {
        // Bytes lost from a length field: the frame promises more than ever comes.
        let (_dir, replica, server, mut conn) = serve(ApplyMode::Atomic);
        image(&mut conn);
        let frame = Frame::Write {
            offset: 0,
            data: vec![2; 4096],
        }
        .encode();
        conn.write_all(&frame[..frame.len() - 10]).unwrap();
        let started = std::time::Instant::now();
        server.join().unwrap();
        assert!(started.elapsed() >= FRAME_STALL);
        assert_eq!(std::fs::read(&replica).unwrap(), vec![OLD; 8192]);
    }

    #[test]
    fn the_socket_path_is_gone_once_the_sender_is_connected() {
        let (dir, _replica, server, conn) = serve(ApplyMode::Atomic);
        let mut conn = conn;
        image(&mut conn);
        assert!(!dir.path().join("r.sock").exists());
        conn.shutdown();
        server.join().unwrap();
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
