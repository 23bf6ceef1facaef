//! The logical digest: schema plus every row, type-sensitive, order-independent.

use serde::{Deserialize, Serialize};

/// Wrapping 128-bit sum of per-row and per-schema-entry hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Digest(pub u128);

/// Digest of everything `conn` can see (schema without root pages, and all rows).
pub fn digest_connection(_conn: &rusqlite::Connection) -> rusqlite::Result<Digest> {
    todo!()
}
