//! vfs-faults: a fault-injecting SQLite VFS that wraps the real one.
//!
//! (Interface skeleton: the implementation lands with the vfs-faults issue.)

pub mod plan;

pub use plan::*;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
}

/// Counts of operations, by operation kind and file kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub by_op: BTreeMap<String, BTreeMap<String, u64>>,
}

/// How often one rule of the plan fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHits {
    pub index: usize,
    pub name: Option<String>,
    pub matched: u64,
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
    _private: (),
}

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
    pub fn register_with(_name: &str, _opts: Options) -> Result<FaultVfs, VfsError> {
        todo!()
    }
    pub fn name(&self) -> &str {
        todo!()
    }
    pub fn set_plan(&self, _plan: FaultPlan) {
        todo!()
    }
    pub fn set_role(&self, _path_glob: &str, _role: &str) {
        todo!()
    }
    pub fn set_trace(&self, _on: bool) {
        todo!()
    }
    pub fn counters(&self) -> Counters {
        todo!()
    }
    pub fn rule_hits(&self) -> Vec<RuleHits> {
        todo!()
    }
    pub fn trace(&self) -> Vec<TraceEntry> {
        todo!()
    }
    pub fn trace_hash(&self) -> u64 {
        todo!()
    }
    pub fn on_marker(&self, _f: impl Fn(&str) + Send + Sync + 'static) {
        todo!()
    }
}

impl FaultPlan {
    /// Reads a plan (JSON or TOML) from the environment variable `var`; `Ok(None)` if unset.
    pub fn from_env(_var: &str) -> Result<Option<FaultPlan>, VfsError> {
        todo!()
    }
    /// The JSON form to put in [`PLAN_ENV`] for a child process.
    pub fn to_env_value(&self) -> String {
        serde_json::to_string(self).expect("plan serializes")
    }
}
