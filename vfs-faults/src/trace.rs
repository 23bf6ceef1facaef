//! Trace output: JSON lines and the determinism hash.
//!
//! The harness proves determinism by running the same plan twice and comparing trace hashes.
//! The hash therefore covers what must repeat (op index, kind, file kind, role, offset, length,
//! result) and leaves out what differs between runs of the same scenario (full paths, which
//! contain temporary directory names).

use crate::TraceEntry;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// FNV-1a 64 over the path-independent fields of every entry.
pub fn hash(entries: &[TraceEntry]) -> u64 {
    let mut h = FNV_OFFSET;
    for e in entries {
        h = fnv(h, &e.index.to_le_bytes());
        h = fnv(h, &[e.op as u8, e.file as u8]);
        h = fnv(h, e.role.as_deref().unwrap_or("\u{0}").as_bytes());
        h = fnv(h, &e.offset.unwrap_or(-1).to_le_bytes());
        h = fnv(h, &e.len.unwrap_or(-1).to_le_bytes());
        h = fnv(h, &e.rc.to_le_bytes());
    }
    h
}

/// One JSON object per line.
pub fn to_jsonl(entries: &[TraceEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&serde_json::to_string(e).expect("trace entry serializes"));
        out.push('\n');
    }
    out
}
