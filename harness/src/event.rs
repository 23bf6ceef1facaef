//! The JSON-lines protocol between worker processes and the supervisor.
//!
//! Every worker (writer, checkpointer, backup) prints one [`Event`] per line on stdout; the
//! supervisor reads them to learn acknowledged commits, backup progress, markers, faults that
//! fired and claims. The constants both sides of the protocol agree on live here too.

use serde::{Deserialize, Serialize};

/// The name the backup worker registers its fault VFS under.
pub const VFS_NAME: &str = "harness-faults";

/// When set (to anything), the backup worker also opens the source through its fault VFS and
/// gives copy-locked's `<dest>.tmp` the destination role, so every operation of the strategy is
/// traced and can be faulted (crash exploration, `harness::explore`).
pub const SOURCE_VFS_ENV: &str = "HARNESS_SOURCE_VFS";

/// One line of worker output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Event {
    /// A writer committed transaction `k` (acknowledged: the commit returned OK).
    /// `latency_us`: how long `BEGIN IMMEDIATE .. COMMIT` took, when the writer measured it
    /// (absent in older streams).
    Commit {
        k: u64,
        writer: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_us: Option<u64>,
    },
    /// A checkpoint ran on the source.
    Checkpoint {
        mode: String,
        rc: i32,
        log: i32,
        checkpointed: i32,
    },
    /// The backup worker read the source sequence number just before running its strategy.
    Start { k_start: u64 },
    /// One `sqlite3_backup_step` call returned. `done` is the explicit end: the step returned
    /// `SQLITE_DONE` (`remaining == 0` alone is not done: it is 0 before the first successful
    /// step, and after a final step whose commit failed).
    Step {
        step: u64,
        rc: i32,
        remaining: i32,
        pagecount: i32,
        restarts: u64,
        #[serde(default)]
        done: bool,
    },
    /// A named phase of a strategy began (non-API strategies: "lock", "copy-db", "rename"...).
    Phase { name: String },
    /// A vfs-faults marker fired inside the worker.
    Marker { name: String },
    /// The planned fault fired: a VFS rule acted (`what` names the rule and the operation),
    /// the application aborted, or the power was cut after the claim. Sent before the fault
    /// takes effect, so it arrives even when the fault ends the process.
    Fired { what: String },
    /// The fault VFS preloaded into an external tool never saw the destination (`why`): no
    /// VFS fault planned on it could fire.
    Unreached { why: String },
    /// The strategy returned with this claim.
    Claim { claim: Claim },
    /// The backup worker read the source sequence number after its strategy returned.
    End { k_end: u64 },
    /// A blocker took its lock (`what`: `dest-write`, `dest-read`, `source-write`) and holds it.
    Holding { what: String },
    /// The backup worker's fault VFS, sampled while it runs (with `--monitor-ms`): the
    /// operation it saw last and how many it saw. Not progress: what a stalled worker was
    /// last doing.
    Vfs { last_op: String, ops: u64 },
    /// A network backup's shipping statistics (stream strategies), sent before the claim.
    Stream { stats: crate::stream::StreamStats },
    /// The worker's fault VFS statistics, sent once before it exits normally.
    Faults {
        rule_hits: Vec<vfs_faults::RuleHits>,
        trace_hash: Option<u64>,
    },
}

/// What a strategy says happened. Success must mean a usable, durable snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Claim {
    Success,
    Error { message: String },
    Aborted { message: String },
}

impl Event {
    /// One JSON line (no trailing newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
    /// Parses one line; `None` for lines that are not events (e.g. stray output).
    pub fn from_line(line: &str) -> Option<Event> {
        serde_json::from_str(line).ok()
    }
}
