//! Fault plans: an ordered list of rules, each a selector plus an action.
//!
//! Plans are plain serde types so that the same plan can be built in Rust, written as JSON or
//! TOML, and handed to a child process through an environment variable ([`PLAN_ENV`]).

use serde::{Deserialize, Serialize};

/// Environment variable a child process reads its plan from (JSON or TOML).
pub const PLAN_ENV: &str = "VFS_FAULTS_PLAN";

/// An ordered list of rules. The first rule whose selector matches an operation acts on it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed of the plan's named generator (ChaCha8Rng): probabilities, torn sectors, power cuts.
    /// (TOML integers are i64: a TOML plan can only hold seeds up to `i64::MAX`.)
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One rule: which operations it selects and what it does to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Optional label, reported in the rule hit counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub select: Selector,
    pub action: Action,
}

/// Which operations a rule applies to. Empty / `None` fields match everything.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Operation kinds; empty matches every kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<OpKind>,
    /// File kind, from the open flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileKind>,
    /// Role given to the file's path with `FaultVfs::set_role` (e.g. "source", "destination").
    /// A journal or WAL inherits the role of its database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Glob (`*`, `?`) on the file's full path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Which of the matching operations (counted per rule, 1-based) the action applies to.
    #[serde(default)]
    pub when: Occurrence,
    /// Only operations after this marker has been emitted are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_marker: Option<String>,
}

/// Which matching operations a rule acts on. Counting is per rule and starts at 1.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Occurrence {
    #[default]
    Every,
    Nth(u64),
    /// Inclusive range of occurrence numbers.
    Range {
        from: u64,
        to: u64,
    },
    /// Seeded per operation through the plan's generator.
    Probability(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    // sqlite3_vfs methods
    Open,
    Delete,
    Access,
    FullPathname,
    // sqlite3_io_methods
    Close,
    Read,
    Write,
    Truncate,
    Sync,
    FileSize,
    Lock,
    Unlock,
    CheckReservedLock,
    FileControl,
    SectorSize,
    DeviceCharacteristics,
    ShmMap,
    ShmLock,
    ShmBarrier,
    ShmUnmap,
    Fetch,
    Unfetch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    MainDb,
    MainJournal,
    Wal,
    TempDb,
    TempJournal,
    SuperJournal,
    Transient,
    /// Operations that are not on an open file (xDelete, xAccess of an unknown path...).
    Other,
}

/// The error codes a rule can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    IoerrRead,
    IoerrShortRead,
    IoerrWrite,
    IoerrFsync,
    IoerrTruncate,
    IoerrDelete,
    IoerrUnlock,
    Full,
    Busy,
    Cantopen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillWhen {
    Before,
    After,
}

/// What a power cut does once the unsynced state has been decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PowerCutMode {
    /// Put the files in their crash state and `_exit` the process at once.
    #[default]
    Exit,
    /// Put the files in their crash state, then fail every later operation on them (writing
    /// nothing), so the caller can inspect the crash state without a child process.
    InProcess,
}

/// At a power cut, what happens to data and directory entries that were not yet synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unsynced {
    /// Seeded per sector (keep / revert / garble); metadata changes kept / reverted as
    /// [`MetadataOrder`] says (one seeded cut point, or per entry / size change).
    #[default]
    Random,
    /// Worst case without garbage: every unsynced change is undone (deleted files come back;
    /// with [`MetadataOrder::Ordered`], except metadata changes a later sync made durable).
    Revert,
    /// Everything written survives, as with a SIGKILL.
    Keep,
}

/// At a power cut, how the unsynced *metadata* changes (file creations, deletions, and size
/// changes: truncations and writes that extend a file) relate to each other. Sector contents
/// are decided per sector either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetadataOrder {
    /// Metadata changes become durable in the order they were made, as with a journaling
    /// filesystem (ext4 `data=ordered`, XFS): one cut point is drawn over the unsynced metadata
    /// changes; those before it persist, those from it on are reverted. A change made durable
    /// by a sync (file or directory) makes every earlier change durable too. A reverted
    /// truncation brings back the bytes it removed (not zeros).
    #[default]
    Ordered,
    /// Each unsynced metadata change is kept or reverted on its own (per entry, and per file
    /// for its size): the POSIX worst case, e.g. a journal deletion reverted while a later
    /// truncation of the database persists.
    Independent,
}

/// What a rule does to a selected operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Fail with `code`; once (transient) or on every later matching op (persistent).
    Error {
        code: ErrorCode,
        #[serde(default)]
        persistent: bool,
    },
    /// Write only the first `keep_sectors` sectors (or `keep_bytes` bytes if set), then return
    /// `then` (None = report OK).
    TornWrite {
        #[serde(default)]
        keep_sectors: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep_bytes: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        then: Option<ErrorCode>,
    },
    /// Report OK, write nothing.
    LostWrite,
    /// Return SQLITE_IOERR_SHORT_READ with the tail of the buffer zero-filled.
    ShortRead {
        #[serde(default)]
        keep_bytes: u64,
    },
    /// Sleep, then perform the operation normally.
    Delay { ms: u64 },
    /// SIGKILL the own process before or after performing the operation.
    Kill { when: KillWhen },
    /// Simulated power loss (see the crate docs).
    PowerCut {
        #[serde(default)]
        mode: PowerCutMode,
        /// How unsynced writes, size changes, creations and deletions fare (default: seeded
        /// random per sector / entry).
        #[serde(default)]
        unsynced: Unsynced,
        /// Whether unsynced metadata changes persist in order (default) or independently.
        #[serde(default)]
        metadata: MetadataOrder,
    },
    /// Emit a named marker (callback and/or fd), then perform the operation normally.
    Marker { name: String },
}
