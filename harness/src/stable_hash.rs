//! A stable 64-bit hash (FNV-1a) for seeds and IDs derived from names and numbers.
//!
//! Why it exists: seeds that must be the same on every machine and every build cannot come
//! from `std`'s randomly keyed hashers; this one is fixed by definition.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a over `bytes`, continuing from `h` (start with [`fnv1a`] or [`START`]).
pub fn fnv1a_from(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// The FNV-1a offset basis: the hash of nothing.
pub const START: u64 = OFFSET;

/// FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(OFFSET, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_from(fnv1a(b"a"), b"b"), fnv1a(b"ab"));
    }
}
