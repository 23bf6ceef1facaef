//! Operation kinds and SQLite result codes, as plain data.
//!
//! The engine decides which code an operation fails with; keeping the numbers (from sqlite3.h)
//! and the per-operation rules here lets the engine stay free of FFI and short.

use crate::plan::{ErrorCode, OpKind};

pub(crate) const ALL_OPS: [OpKind; 22] = [
    OpKind::Open,
    OpKind::Delete,
    OpKind::Access,
    OpKind::FullPathname,
    OpKind::Close,
    OpKind::Read,
    OpKind::Write,
    OpKind::Truncate,
    OpKind::Sync,
    OpKind::FileSize,
    OpKind::Lock,
    OpKind::Unlock,
    OpKind::CheckReservedLock,
    OpKind::FileControl,
    OpKind::SectorSize,
    OpKind::DeviceCharacteristics,
    OpKind::ShmMap,
    OpKind::ShmLock,
    OpKind::ShmBarrier,
    OpKind::ShmUnmap,
    OpKind::Fetch,
    OpKind::Unfetch,
];

// Result codes (sqlite3.h), so that this module needs no FFI.
pub(crate) const OK: i32 = 0;
const IOERR: i32 = 10;
const fn ioerr(n: i32) -> i32 {
    IOERR | (n << 8)
}

pub(crate) fn error_code(c: ErrorCode) -> i32 {
    match c {
        ErrorCode::IoerrRead => ioerr(1),
        ErrorCode::IoerrShortRead => ioerr(2),
        ErrorCode::IoerrWrite => ioerr(3),
        ErrorCode::IoerrFsync => ioerr(4),
        ErrorCode::IoerrTruncate => ioerr(6),
        ErrorCode::IoerrDelete => ioerr(10),
        ErrorCode::IoerrUnlock => ioerr(8),
        ErrorCode::Full => 13,
        ErrorCode::Busy => 5,
        ErrorCode::Cantopen => 14,
    }
}

/// The code a dead file (after an in-process power cut) fails `op` with.
pub(crate) fn dead_code(op: OpKind) -> i32 {
    match op {
        OpKind::Open => 14,
        OpKind::Read | OpKind::Fetch => ioerr(1),
        OpKind::Write => ioerr(3),
        OpKind::Sync => ioerr(4),
        OpKind::Truncate => ioerr(6),
        OpKind::FileSize => ioerr(7),
        OpKind::Delete => ioerr(10),
        OpKind::Access => ioerr(13),
        OpKind::CheckReservedLock => ioerr(14),
        OpKind::Lock => ioerr(15),
        OpKind::ShmLock => ioerr(20),
        OpKind::ShmMap => ioerr(21),
        _ => IOERR,
    }
}

/// Operations that release resources still run on a dead file, so connections can close.
pub(crate) fn runs_when_dead(op: OpKind) -> bool {
    matches!(
        op,
        OpKind::Close
            | OpKind::Unlock
            | OpKind::ShmUnmap
            | OpKind::ShmBarrier
            | OpKind::Unfetch
            | OpKind::SectorSize
            | OpKind::DeviceCharacteristics
            | OpKind::FullPathname
    )
}

/// Operations whose callback returns a result code (so an error can be injected).
pub(crate) fn returns_code(op: OpKind) -> bool {
    !matches!(
        op,
        OpKind::SectorSize | OpKind::DeviceCharacteristics | OpKind::ShmBarrier
    )
}
