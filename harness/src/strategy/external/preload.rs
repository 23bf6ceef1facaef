//! `fault_vfs` of an external entry: which fault VFS reaches the tool, and the preload route.
//!
//! Why its own module: the LD_PRELOAD shim (`vfs-preload/`) is the one way our VFS gets into
//! a program we do not control; how it is found, armed and read back (and what it changes in
//! the fault model: [`facts`], [`vfs_outlives_the_tool`]) is a concern of its own next to
//! running the program, which is `external`'s.

use super::{error, is_external, tools_dir, REGISTRATION};
use crate::event::Claim;
use crate::strategy::{StrategyContext, StrategyParams};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which fault VFS reaches an external tool (the entry key `fault_vfs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultVfsRoute {
    /// None: the tool opens the files with its own SQLite; process kills only.
    #[default]
    None,
    /// The LD_PRELOAD shim ([`preload_shim`]) registers the fault VFS as the default of the
    /// tool's dynamically linked libsqlite3: VFS faults reach it.
    Preload,
    /// The tool carries its own SQLite, statically linked (a Go binary, a Node addon, a
    /// Python extension with a bundled amalgamation): no preload route can reach it. Process
    /// kills only; the report says why.
    StaticSqlite,
}

impl FaultVfsRoute {
    pub fn is_none(&self) -> bool {
        *self == FaultVfsRoute::None
    }

    /// What the tool table says reaches a tool on this route.
    pub fn faults_reach(self) -> &'static str {
        match self {
            FaultVfsRoute::None => {
                "process kills only (it does not open the files through our fault VFS)"
            }
            FaultVfsRoute::Preload => {
                "process kills, and VFS faults through the preload shim (kills at an exact \
                 destination operation, power cuts, I/O errors)"
            }
            FaultVfsRoute::StaticSqlite => {
                "process kills only: its SQLite is statically linked, so the preload shim \
                 cannot reach it"
            }
        }
    }
}

/// The preload shim: `lib/libvfs_faults_preload.so` under [`tools_dir`], where
/// `ci/install-tools.sh` puts what `cargo build --release --manifest-path
/// vfs-preload/Cargo.toml` builds.
pub fn preload_shim() -> PathBuf {
    tools_dir().join("lib").join(PRELOAD_SHIM_FILE)
}

/// The file name of the preload shim.
pub const PRELOAD_SHIM_FILE: &str = "libvfs_faults_preload.so";

/// Set by the strategy for `worker exec-tool`: the library to preload into the tool (only
/// into the tool, never into the harness process that executes it).
pub const TOOL_PRELOAD_ENV: &str = "HARNESS_TOOL_PRELOAD";

/// `write`, `main-db`: a plan enum as the plan spells it.
fn kebab<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The marker rule the strategy adds to the tool's plan: it fires at the first operation on
/// the destination, so the events file tells whether the shim saw the destination at all.
const REACHED_MARKER: &str = "preload:destination-reached";

/// The facts of an `external:<label>` entry with `params`: a tool preloaded with the fault
/// VFS writes its destination through it.
pub fn facts(params: &StrategyParams) -> crate::strategy::Facts {
    let base = REGISTRATION.facts;
    match params.fault_vfs {
        FaultVfsRoute::Preload => crate::strategy::Facts {
            dest_through_vfs: true,
            ..base
        },
        FaultVfsRoute::None | FaultVfsRoute::StaticSqlite => base,
    }
}

/// `why` a fault cannot reach entry `name`, with what an external tool's entry could do
/// about it (other strategies: `why` unchanged).
pub fn hint(name: &str, params: &StrategyParams, why: String) -> String {
    if !is_external(name) {
        return why;
    }
    match params.fault_vfs {
        FaultVfsRoute::None => format!(
            "{why}; a tool that links the system libsqlite3 dynamically gets VFS faults with \
             `fault_vfs = \"preload\"`"
        ),
        FaultVfsRoute::StaticSqlite => {
            format!("{why}; its SQLite is statically linked (`fault_vfs = \"static-sqlite\"`)")
        }
        FaultVfsRoute::Preload => why,
    }
}

/// Whether the fault VFS that reaches the tool is still there in the process that claims
/// (the backup worker), for faults placed after the claim: not for a preloaded tool, which
/// has exited (its record of unsynced writes with it) before its exit status is the claim.
pub fn vfs_outlives_the_tool(params: &StrategyParams) -> bool {
    params.fault_vfs != FaultVfsRoute::Preload
}

/// The fault VFS preloaded into one run of a tool: its events file.
pub(super) struct Preload {
    events: tempfile::NamedTempFile,
}

impl Preload {
    /// Arms `cmd` (the `exec-tool` launcher): the shim to preload, the plan and the roles of
    /// the worker's own VFS (the iteration's fault; the destination and source paths) plus the
    /// destination-reached marker, and a fresh events file next to the destination (inside
    /// the iteration's directory, removed with it).
    pub(super) fn arm(cmd: &mut Command, ctx: &StrategyContext<'_>) -> Result<Preload, String> {
        use vfs_faults::preload::{EVENTS_ENV, ROLES_ENV};
        let shim = preload_shim();
        if !shim.is_file() {
            return Err(format!(
                "the shim {} is not built (run ci/install-tools.sh)",
                shim.display()
            ));
        }
        // The worker's VFS: the tool gets its plan and its roles, so a rule selects in the
        // tool what it would select in the worker.
        let worker = ctx.dest_vfs.and_then(vfs_faults::FaultVfs::get);
        let roles = worker.as_ref().map(|v| v.roles()).unwrap_or_default();
        let mut plan = worker.as_ref().map(|v| v.plan()).unwrap_or_default();
        let dest = ctx.dest.to_string_lossy();
        let dest_role = roles.iter().rev().find(|r| r.path == dest).map(|r| &r.role);
        plan.rules.push(vfs_faults::Rule {
            name: Some(REACHED_MARKER.into()),
            select: vfs_faults::Selector {
                // The destination's role, as the worker gave it; without one, its path.
                role: dest_role.cloned(),
                path: dest_role.is_none().then(|| dest.clone().into_owned()),
                when: vfs_faults::Occurrence::Nth(1),
                ..vfs_faults::Selector::default()
            },
            action: vfs_faults::Action::Marker {
                name: REACHED_MARKER.into(),
            },
        });
        let dir = ctx.dest.parent().unwrap_or(Path::new("."));
        let events = tempfile::Builder::new()
            .prefix("preload-events.")
            .suffix(".jsonl")
            .tempfile_in(dir)
            .map_err(|e| format!("events file in {}: {e}", dir.display()))?;
        cmd.env(TOOL_PRELOAD_ENV, &shim)
            .env(vfs_faults::PLAN_ENV, plan.to_env_value())
            .env(
                ROLES_ENV,
                serde_json::to_string(&roles).map_err(|e| e.to_string())?,
            )
            .env(EVENTS_ENV, events.path());
        Ok(Preload { events })
    }

    /// After the tool exited with `status`: every rule that acted in it becomes a `fired`
    /// event; a kill or a power cut by its VFS ends this worker the same way (no claim, as
    /// when the worker's own VFS does it). Otherwise returns `None` (the exit status is the
    /// claim), or an error claim when the shim never armed in the tool.
    pub(super) fn finish(
        self,
        name: &str,
        status: std::process::ExitStatus,
        ctx: &mut StrategyContext<'_>,
    ) -> Option<Claim> {
        use std::os::unix::process::ExitStatusExt;
        use vfs_faults::preload::PreloadEvent;
        let text = std::fs::read_to_string(self.events.path()).unwrap_or_default();
        let events = PreloadEvent::parse_lines(&text);
        let armed = events
            .iter()
            .filter(|e| matches!(e, PreloadEvent::Armed { .. }))
            .count();
        let mut reached = false;
        let mut ended_by: Option<&str> = None;
        for ev in &events {
            let PreloadEvent::Fired { action, fired, .. } = ev else {
                continue;
            };
            if fired.name.as_deref() == Some(REACHED_MARKER) {
                reached = true;
                continue;
            }
            if matches!(action.as_str(), "kill" | "power-cut") {
                ended_by = Some(action);
            }
            (ctx.emit)(crate::event::Event::Fired {
                what: format!(
                    "{} (op {} on {}, occurrence {}, in the tool)",
                    fired.name.as_deref().unwrap_or("rule"),
                    kebab(&fired.op),
                    kebab(&fired.file),
                    fired.occurrence
                ),
            });
        }
        // Nothing below needs the file, and a mirrored death runs no destructor.
        drop(self);
        if armed == 0 {
            return Some(error(
                name,
                "the preload shim never armed in the tool (a set-uid program, or LD_PRELOAD \
                 cleared by a wrapper?): no VFS fault could reach it"
                    .to_string(),
            ));
        }
        if !reached {
            // An event, not a line on stderr: the report's untested reason says it.
            (ctx.emit)(crate::event::Event::Unreached {
                why: format!(
                    "the preload shim armed in {armed} process(es) but never saw the \
                     destination: the tool does not open it through the system libsqlite3 \
                     (a statically linked SQLite?)"
                ),
            });
        }
        match ended_by {
            Some("kill") if status.signal() == Some(nix::sys::signal::Signal::SIGKILL as i32) => {
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
                None
            }
            Some("power-cut") if status.code() == Some(vfs_faults::POWER_CUT_EXIT_CODE) => {
                std::process::exit(vfs_faults::POWER_CUT_EXIT_CODE)
            }
            _ => None,
        }
    }
}
