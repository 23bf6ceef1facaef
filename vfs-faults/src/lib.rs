//! vfs-faults: a fault-injecting SQLite VFS that wraps the real one.
//!
//! [`FaultVfs::register`] adds a named VFS to SQLite that forwards every method (shared memory
//! and memory-mapped I/O included) to a base VFS (the platform default unless
//! [`Options::base`] says otherwise). Connections opened with
//! `Connection::open_with_flags_and_vfs(path, flags, "name")` or a `?vfs=name` URI go through it.
//! Each instance keeps its own state, so parallel tests with different names do not collide.
//!
//! On the way through it
//! - classifies each file by its open flags ([`FileKind`]) and by the *role* the caller gave its
//!   database path ([`FaultVfs::set_role`]; a journal or WAL inherits the role of its database);
//! - counts every operation kind × file kind ([`FaultVfs::counters`]);
//! - optionally traces every operation ([`FaultVfs::set_trace`], [`FaultVfs::trace_jsonl`],
//!   [`FaultVfs::trace_hash`]); off by default;
//! - applies a [`FaultPlan`]: an ordered list of [`Rule`]s, each a [`Selector`] plus an
//!   [`Action`], and records how often each rule matched and fired ([`FaultVfs::rule_hits`]).
//!
//! # Writing a plan
//!
//! A selector picks operations by kind (`ops`), file kind (`file`), `role` or path glob
//! (`path`), an occurrence (`when`: every, the n-th, a range, or a seeded probability, counted
//! per rule from 1) and optionally only after a named marker was emitted (`after_marker`).
//! Every rule counts the operations its selector matches, independently of the other rules.
//! When several rules fire on one operation, all `marker` and `delay` rules take effect, and the
//! first other rule decides the outcome. Actions:
//!
//! | action | effect |
//! |---|---|
//! | `error` | fail with the code, once, or on every later matching op if `persistent` |
//! | `torn-write` | write the first `keep_sectors` sectors (or `keep_bytes`), report OK or `then` |
//! | `lost-write` | report OK, do nothing (also for `sync` and `truncate`) |
//! | `short-read` | read `keep_bytes`, zero the rest, return `SQLITE_IOERR_SHORT_READ` |
//! | `delay` | sleep `ms`, then perform the op |
//! | `kill` | SIGKILL the process `before` or `after` the op |
//! | `power-cut` | put the files in a simulated power-loss state, then `_exit` ([`POWER_CUT_EXIT_CODE`]) or, `in-process`, fail every later op on them |
//! | `marker` | emit a named event to [`FaultVfs::on_marker`] and/or [`Options::marker_fd`] |
//!
//! `xUnlock`, `xClose` and `xShmUnmap` always release their resource; an injected error only
//! changes what SQLite is told. Random draws (probabilities, power-cut outcomes) come from a
//! `ChaCha8Rng` seeded with [`FaultPlan::seed`], so the same plan replays identically.
//!
//! Markers emitted while an operation is evaluated count for `after_marker` from the next
//! operation on.
//!
//! # Power cuts
//!
//! A power cut needs to know what is not yet durable, so the VFS keeps undo logs while the plan
//! contains a `power-cut` rule (or [`FaultVfs::set_power_tracking`] is on; this costs a read
//! per write). Durability follows the unix VFS: a file's data is durable after its `xSync`; a
//! directory entry (creation, deletion) is durable after a directory sync, which happens at the
//! first `xSync` of a journal / WAL / super-journal opened with `SQLITE_OPEN_CREATE`, or at an
//! `xDelete` with `syncDir` (`synchronous=EXTRA`). A deleted file keeps its content, so an
//! unsynced journal deletion can be undone. At the cut, [`Unsynced`] says whether each unsynced
//! sector is kept, reverted or garbled (seeded) and whether entries and sizes are reverted.
//! [`MetadataOrder`] (`metadata` in the action) says how the metadata changes (creations,
//! deletions, truncations, writes that extend a file) relate: `ordered` (the default, like ext4
//! `data=ordered` or XFS) numbers them and draws one cut point, so if a change persists every
//! earlier one does too, and a sync that makes a change durable makes every earlier one
//! durable; `independent` (the POSIX worst case) keeps or reverts each on its own, so a
//! journal deletion can come back while a later truncation of the database persists. A file
//! created and deleted again within one unsynced window is forgotten under both. The
//! `-shm` wal-index header is zeroed (shared memory does not survive a power loss). The op that
//! triggered the cut is not performed. In `exit` mode the process then `_exit`s with
//! [`POWER_CUT_EXIT_CODE`]; in `in-process` mode every later operation on a file that was open at
//! the cut, or on an affected path, fails (close, unlock and unmap still release their
//! resources), every later write, truncate and delete fails whatever the file, so nothing
//! more is written or removed, and [`FaultVfs::last_power_cut`] tells what was done.
//! [`FaultVfs::set_plan`] revives the instance.
//!
//! # Example: a plan in Rust
//!
//! ```
//! use vfs_faults::*;
//!
//! let plan = FaultPlan {
//!     seed: 7,
//!     rules: vec![Rule {
//!         name: Some("kill after 5th dest write".into()),
//!         select: Selector {
//!             ops: vec![OpKind::Write],
//!             file: Some(FileKind::MainDb),
//!             role: Some("destination".into()),
//!             when: Occurrence::Nth(5),
//!             ..Selector::default()
//!         },
//!         action: Action::Kill { when: KillWhen::After },
//!     }],
//! };
//! // Hand it to a child process:
//! let value = plan.to_env_value();
//! assert_eq!(FaultPlan::parse(&value).unwrap(), plan);
//!
//! // Or arm a VFS in this process (not armed here: no connection uses it).
//! let vfs = FaultVfs::register("doc-example", FaultPlan::default()).unwrap();
//! vfs.set_role("/tmp/dest.db", "destination");
//! assert_eq!(vfs.name(), "doc-example");
//! ```
//!
//! # Example: a plan in the environment variable ([`PLAN_ENV`]), TOML or JSON
//!
//! ```
//! use vfs_faults::*;
//!
//! let toml = r#"
//! seed = 1
//!
//! [[rules]]
//! name = "fsync fails on the destination journal"
//! select = { ops = ["sync"], file = "main-journal", role = "destination", when = { nth = 1 } }
//! action = { kind = "error", code = "ioerr-fsync" }
//!
//! [[rules]]
//! select = { ops = ["write"], file = "main-db", after_marker = "go", when = { probability = 0.1 } }
//! action = { kind = "power-cut", mode = "exit" }
//! "#;
//! std::env::set_var("MY_PLAN", toml);
//! let plan = FaultPlan::from_env("MY_PLAN").unwrap().unwrap();
//! assert_eq!(plan.rules.len(), 2);
//!
//! let json = r#"{"seed":1,"rules":[{"select":{"ops":["write"],"when":{"nth":5}},
//!                "action":{"kind":"kill","when":"after"}}]}"#;
//! assert_eq!(FaultPlan::parse(json).unwrap().rules[0].action, Action::Kill { when: KillWhen::After });
//! ```

#![deny(unsafe_code)]

mod classify;
mod codes;
pub mod disk;
mod engine;
mod ffi;
pub mod memdisk;
pub mod plan;
mod powercut;
pub mod preload;
pub mod storage;
mod trace;

pub use disk::{Disk, RealDisk};
pub use engine::{occurrence_fires, Fired, POWER_CUT_EXIT_CODE};
pub use memdisk::MemDisk;
pub use plan::*;
pub use powercut::CutReport;
pub use storage::{
    register_storage, retire_storage, MemFile, OpenRequest, Storage, StorageError, StoredFile,
};

use engine::Shared;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    #[error("vfs {name}: {message}")]
    Register { name: String, message: String },
    #[error("fault plan from {source_name}: {message}")]
    Plan {
        source_name: String,
        message: String,
    },
}

/// Options for [`FaultVfs::register_with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Base VFS to wrap; `None` = the platform default.
    pub base: Option<String>,
    /// Install as the process default VFS.
    pub make_default: bool,
    /// Keep a trace of every operation.
    pub trace: bool,
    pub plan: FaultPlan,
    /// File descriptor that receives one JSON line `{"marker": NAME, "pid": PID}` per marker.
    pub marker_fd: Option<i32>,
    /// Keep power-cut undo logs even without a `power-cut` rule (for [`FaultVfs::power_cut_now`]).
    pub track_power: bool,
    /// How power cuts reach the base VFS's files: `None` = the real files ([`RealDisk`]); a
    /// [`MemDisk`] when the base is that disk's storage VFS.
    pub disk: Option<Arc<dyn Disk>>,
}

/// Counts of operations, by operation kind and file kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub by_op: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Counters {
    /// Count for one operation kind and file kind.
    pub fn get(&self, op: OpKind, file: FileKind) -> u64 {
        self.by_op
            .get(&kebab(&op))
            .and_then(|m| m.get(&kebab(&file)))
            .copied()
            .unwrap_or(0)
    }
    /// Count for one operation kind over all files.
    pub fn total(&self, op: OpKind) -> u64 {
        self.by_op.get(&kebab(&op)).map_or(0, |m| m.values().sum())
    }
}

/// The `kind` tag of an internally tagged value (an [`Action`]: `kill`, `power-cut`, ...).
pub(crate) fn kebab_tag<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => m
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

fn kebab<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// How often one rule of the plan fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHits {
    pub index: usize,
    pub name: Option<String>,
    /// Operations its selector matched (the occurrence counter).
    pub matched: u64,
    /// Times its action was applied. 0 = the rule tested nothing.
    pub fired: u64,
}

/// One traced operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub index: u64,
    pub op: OpKind,
    pub file: FileKind,
    pub role: Option<String>,
    pub path: Option<String>,
    pub offset: Option<i64>,
    pub len: Option<i64>,
    pub rc: i32,
}

/// A registered instance. Cloning shares the instance.
#[derive(Clone)]
pub struct FaultVfs {
    shared: Arc<Shared>,
}

static REGISTRY: Mutex<BTreeMap<String, FaultVfs>> = Mutex::new(BTreeMap::new());

impl FaultVfs {
    pub fn register(name: &str, plan: FaultPlan) -> Result<FaultVfs, VfsError> {
        Self::register_with(
            name,
            Options {
                plan,
                ..Options::default()
            },
        )
    }

    /// Registers a new instance. Fails if a VFS of that name exists already.
    pub fn register_with(name: &str, opts: Options) -> Result<FaultVfs, VfsError> {
        let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let shared = Arc::new(Shared::new(
            name,
            opts.plan,
            opts.trace,
            opts.track_power,
            ffi::exit_now,
            opts.disk.unwrap_or_else(|| Arc::new(RealDisk)),
        ));
        shared.set_marker_file(opts.marker_fd.and_then(ffi::dup_fd));
        ffi::register(Arc::clone(&shared), opts.base.as_deref(), opts.make_default).map_err(
            |message| VfsError::Register {
                name: name.to_string(),
                message,
            },
        )?;
        let vfs = FaultVfs { shared };
        reg.insert(name.to_string(), vfs.clone());
        Ok(vfs)
    }

    /// The instance registered under `name` by this process, if any.
    pub fn get(name: &str) -> Option<FaultVfs> {
        REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Replaces the plan: rule counters, markers, the generator (re-seeded), power-cut state
    /// and the dead files of an in-process power cut are all reset. Counters and trace are kept.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.shared.set_plan(plan);
    }

    /// The plan in force (as given to [`FaultVfs::set_plan`] or at registration): what to hand a
    /// program that should be armed the same way (through [`PLAN_ENV`]).
    pub fn plan(&self) -> FaultPlan {
        self.shared.plan()
    }

    /// Stops applying the plan (counting and tracing continue); [`FaultVfs::arm`] resumes.
    pub fn disarm(&self) {
        self.shared.set_enabled(false);
    }

    /// Resumes applying the plan after [`FaultVfs::disarm`].
    pub fn arm(&self) {
        self.shared.set_enabled(true);
    }

    /// Gives a database path (exact path or glob with `*`/`?`) a role. Its journal, WAL and
    /// super-journals inherit it. The last matching call wins.
    pub fn set_role(&self, path_glob: &str, role: &str) {
        self.shared.set_role(path_glob, role);
    }

    /// The roles given with [`FaultVfs::set_role`], in the order they apply (later entries
    /// win): what to hand a program that should be armed the same way (through
    /// [`preload::ROLES_ENV`]).
    pub fn roles(&self) -> Vec<preload::RoleEntry> {
        self.shared
            .roles()
            .into_iter()
            .map(|(path, role)| preload::RoleEntry { path, role })
            .collect()
    }

    pub fn set_trace(&self, on: bool) {
        self.shared.set_trace(on);
    }

    /// Keeps power-cut undo logs even without a `power-cut` rule.
    pub fn set_power_tracking(&self, on: bool) {
        self.shared.set_power_tracking(on);
    }

    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for (op, kind, n) in self.shared.counter_table() {
            c.by_op
                .entry(kebab(&op))
                .or_default()
                .insert(kebab(&kind), n);
        }
        c
    }

    /// The operation this instance saw last (on any thread), and how many it saw in all:
    /// what a process that stopped making progress was last doing.
    pub fn last_op(&self) -> (Option<(OpKind, FileKind)>, u64) {
        self.shared.last_op()
    }

    pub fn rule_hits(&self) -> Vec<RuleHits> {
        self.shared.rule_hits()
    }

    pub fn trace(&self) -> Vec<TraceEntry> {
        self.shared.trace()
    }

    /// Empties the trace and restarts its op index.
    pub fn clear_trace(&self) {
        self.shared.clear_trace();
    }

    /// The trace as JSON lines.
    pub fn trace_jsonl(&self) -> String {
        trace::to_jsonl(&self.shared.trace())
    }

    /// Hash of the trace without paths: equal for two runs of the same scenario.
    pub fn trace_hash(&self) -> u64 {
        trace::hash(&self.shared.trace())
    }

    /// Called with the marker name whenever a `marker` rule fires (replaces the previous one).
    pub fn on_marker(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.shared.set_marker_cb(Arc::new(f));
    }

    /// Called whenever a rule acts on an operation (not for rules that only count), before
    /// the action takes effect: a kill or power cut still lets the callback report it.
    /// Replaces the previous callback.
    pub fn on_fire(&self, f: impl Fn(&Fired) + Send + Sync + 'static) {
        self.shared.set_fire_cb(Arc::new(f));
    }

    /// Sends marker events to this fd as JSON lines (None = stop).
    pub fn set_marker_fd(&self, fd: Option<i32>) {
        self.shared.set_marker_file(fd.and_then(ffi::dup_fd));
    }

    /// Emits a marker from outside the VFS (for `after_marker` selectors and the callbacks).
    pub fn emit_marker(&self, name: &str) {
        self.shared.emit_marker(name);
    }

    /// Cuts the power now, metadata changes persisting in order ([`MetadataOrder::Ordered`]).
    /// `Exit` does not return; `InProcess` returns what the cut did.
    pub fn power_cut_now(&self, mode: PowerCutMode, unsynced: Unsynced) -> Option<CutReport> {
        self.power_cut_now_with(mode, unsynced, MetadataOrder::default())
    }

    /// Cuts the power now with the given metadata policy (see [`power_cut_now`](Self::power_cut_now)).
    pub fn power_cut_now_with(
        &self,
        mode: PowerCutMode,
        unsynced: Unsynced,
        metadata: MetadataOrder,
    ) -> Option<CutReport> {
        self.shared.power_cut(mode, unsynced, metadata)
    }

    /// The report of the last in-process power cut.
    pub fn last_power_cut(&self) -> Option<CutReport> {
        self.shared.last_cut()
    }

    /// Whether any write, size change, creation or deletion is not yet durable (tracking on).
    pub fn has_unsynced(&self) -> bool {
        self.shared.has_unsynced()
    }
}

/// The VFS name a connection's schema `db` (`"main"`, an attached name) answers to
/// `SQLITE_FCNTL_VFSNAME`: proves a connection really goes through a fault VFS.
pub fn vfs_name(conn: &rusqlite::Connection, db: &str) -> Option<String> {
    ffi::vfs_name(conn, db)
}

impl FaultPlan {
    /// Reads a plan (JSON or TOML) from the environment variable `var`; `Ok(None)` if unset.
    pub fn from_env(var: &str) -> Result<Option<FaultPlan>, VfsError> {
        match std::env::var(var) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(e) => Err(VfsError::Plan {
                source_name: var.to_string(),
                message: e.to_string(),
            }),
            Ok(s) if s.trim().is_empty() => Ok(None),
            Ok(s) => FaultPlan::parse(&s)
                .map(Some)
                .map_err(|message| VfsError::Plan {
                    source_name: var.to_string(),
                    message,
                }),
        }
    }

    /// Parses a plan from JSON (text starting with `{`) or TOML.
    pub fn parse(text: &str) -> Result<FaultPlan, String> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("JSON: {e}"))
        } else {
            toml::from_str(text).map_err(|e| format!("TOML: {e}"))
        }
    }

    /// The JSON form to put in [`PLAN_ENV`] for a child process.
    pub fn to_env_value(&self) -> String {
        serde_json::to_string(self).expect("plan serializes")
    }
}
