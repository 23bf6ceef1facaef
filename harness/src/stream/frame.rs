//! The wire format between the sender VFS and the receiver: length-prefixed, checksummed
//! frames, so a receiver can tell a complete frame from a cut or damaged one.
//!
//! `[0xB5][kind u8][len u32 LE][payload: len bytes][xxh3-64 of kind, len and payload, low 32
//! bits, LE]`. A stream that ends inside a frame, or a frame whose checksum does not match, is
//! an error: the receiver drops the connection and everything after its last applied sync.

use std::io::{self, Read, Write};
use thiserror::Error;

const MAGIC: u8 = 0xB5;
/// No frame is larger: a damaged length field must not make the receiver wait for gigabytes.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Sender → receiver: write `data` at `offset` of the replica.
    Write { offset: u64, data: Vec<u8> },
    /// Sender → receiver: set the replica's size.
    Truncate { size: u64 },
    /// Sender → receiver: make everything since the last sync durable, atomically; then ack.
    Sync { seq: u64 },
    /// Sender → receiver: remove the replica (at the next sync).
    Delete,
    /// Receiver → sender, first: a piece of the replica's committed bytes...
    Image { data: Vec<u8> },
    /// ...and their end, with the total length.
    ImageEnd { len: u64 },
    /// Receiver → sender: sync `seq` is durable.
    Ack { seq: u64 },
}

#[derive(Debug, Error)]
pub enum FrameError {
    #[error("link closed")]
    Closed,
    /// A read timeout between frames: nothing was lost, the peer is just quiet.
    #[error("link idle")]
    Idle,
    #[error("link: {0}")]
    Io(#[from] io::Error),
    #[error("damaged frame: {0}")]
    Damaged(String),
}

impl Frame {
    fn kind(&self) -> u8 {
        match self {
            Frame::Write { .. } => 1,
            Frame::Truncate { .. } => 2,
            Frame::Sync { .. } => 3,
            Frame::Delete => 4,
            Frame::Image { .. } => 10,
            Frame::Ack { .. } => 11,
            Frame::ImageEnd { .. } => 12,
        }
    }

    /// The frame's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        match self {
            Frame::Write { offset, data } => {
                payload.extend_from_slice(&offset.to_le_bytes());
                payload.extend_from_slice(data);
            }
            Frame::Truncate { size: n }
            | Frame::Sync { seq: n }
            | Frame::Ack { seq: n }
            | Frame::ImageEnd { len: n } => payload.extend_from_slice(&n.to_le_bytes()),
            Frame::Delete => {}
            Frame::Image { data } => payload.extend_from_slice(data),
        }
        assert!(payload.len() <= MAX_PAYLOAD, "a frame over MAX_PAYLOAD");
        let mut out = Vec::with_capacity(payload.len() + 10);
        out.push(MAGIC);
        out.push(self.kind());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        let sum = checksum(&out[1..]);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads one frame. `Closed` when the stream ends cleanly between frames.
    pub fn read(r: &mut impl Read) -> Result<Frame, FrameError> {
        let mut head = [0u8; 6];
        let mut got = 0;
        while got < head.len() {
            match r.read(&mut head[got..]) {
                Ok(0) if got == 0 => return Err(FrameError::Closed),
                Ok(0) => return Err(FrameError::Damaged("stream ended inside a header".into())),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) && got == 0 => return Err(FrameError::Idle),
                Err(e) if timed_out(&e) => return Err(stalled()),
                Err(e) => return Err(e.into()),
            }
        }
        if head[0] != MAGIC {
            return Err(FrameError::Damaged(format!("bad magic {:#x}", head[0])));
        }
        let len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(FrameError::Damaged(format!("length {len} over the limit")));
        }
        let mut rest = vec![0u8; len + 4];
        r.read_exact(&mut rest).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                FrameError::Damaged("stream ended inside a frame".into())
            }
            _ if timed_out(&e) => stalled(),
            _ => FrameError::Io(e),
        })?;
        let (payload, sum) = rest.split_at(len);
        let mut covered = head[1..].to_vec();
        covered.extend_from_slice(payload);
        if checksum(&covered).to_le_bytes() != sum {
            return Err(FrameError::Damaged("checksum mismatch".into()));
        }
        let u64_at = |p: &[u8]| -> Result<u64, FrameError> {
            p.get(..8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
                .ok_or_else(|| FrameError::Damaged("payload too short".into()))
        };
        Ok(match head[1] {
            1 => Frame::Write {
                offset: u64_at(payload)?,
                data: payload[8..].to_vec(),
            },
            2 => Frame::Truncate {
                size: u64_at(payload)?,
            },
            3 => Frame::Sync {
                seq: u64_at(payload)?,
            },
            4 => Frame::Delete,
            10 => Frame::Image {
                data: payload.to_vec(),
            },
            11 => Frame::Ack {
                seq: u64_at(payload)?,
            },
            12 => Frame::ImageEnd {
                len: u64_at(payload)?,
            },
            k => return Err(FrameError::Damaged(format!("unknown kind {k}"))),
        })
    }

    /// Writes the frame and flushes.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.encode())?;
        w.flush()
    }
}

/// A read timeout (`set_read_timeout` reports `WouldBlock` on Unix).
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A frame whose rest never came: bytes were lost (their length field now promises more than
/// will arrive), or the peer stopped mid-frame.
fn stalled() -> FrameError {
    FrameError::Damaged("the stream stalled inside a frame".into())
}

fn checksum(bytes: &[u8]) -> u32 {
    xxhash_rust::xxh3::xxh3_64(bytes) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300))
                .prop_map(|(offset, data)| Frame::Write { offset, data }),
            any::<u64>().prop_map(|size| Frame::Truncate { size }),
            any::<u64>().prop_map(|seq| Frame::Sync { seq }),
            Just(Frame::Delete),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|data| Frame::Image { data }),
            any::<u64>().prop_map(|seq| Frame::Ack { seq }),
            any::<u64>().prop_map(|len| Frame::ImageEnd { len }),
        ]
    }

    proptest! {
        #[test]
        fn frames_round_trip(f in any_frame()) {
            let bytes = f.encode();
            prop_assert_eq!(Frame::read(&mut bytes.as_slice()).unwrap(), f);
        }

        /// A frame cut anywhere, or with any byte dropped, is never read as a frame.
        #[test]
        fn a_cut_or_a_dropped_byte_is_never_a_frame(f in any_frame(), cut in any::<prop::sample::Index>()) {
            let bytes = f.encode();
            let at = cut.index(bytes.len());
            prop_assert!(Frame::read(&mut &bytes[..at]).is_err());
            let mut dropped = bytes.clone();
            dropped.remove(at);
            let read = Frame::read(&mut dropped.as_slice());
            prop_assert!(read.is_err(), "read {:?} from a damaged frame", read);
        }
    }

    #[test]
    fn a_clean_end_between_frames_is_closed() {
        assert!(matches!(Frame::read(&mut &[][..]), Err(FrameError::Closed)));
    }
}
