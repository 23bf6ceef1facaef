//! Arming from the environment alone, for a program we cannot change.
//!
//! Why it exists: a program that links the system `libsqlite3` dynamically (the sqlite3
//! shell, Python's `sqlite3` module) can be given this VFS without a code change, by
//! preloading a small shared library (`vfs-preload/` in this repository) whose load-time
//! constructor calls [`arm_from_env`] and whose `sqlite3_open*` wrappers call
//! [`register_pending`] before the program's first open. Everything they need is here, in
//! safe code that the crate's tests cover; the shim itself is only that glue.
//!
//! Registration waits for the first open because registering a VFS initializes SQLite, and a
//! program configures SQLite (`sqlite3_config`) before it initializes it: registered at load
//! time, the program's own configuration would fail (the sqlite3 shell then prints
//! `WARNING: attempt to configure SQLite after initialization` on its stdout, which breaks
//! `sqlite3 db .dump | ...`). The plan is still read at load time, so a bad one stops the
//! program before it does anything. Nothing here writes to stdout.
//!
//! The environment:
//!
//! | variable | meaning |
//! |---|---|
//! | [`PLAN_ENV`] | the plan (JSON or TOML). Unset or empty: nothing is registered, the program runs as without the shim |
//! | [`ROLES_ENV`] | JSON list `[{"path": GLOB, "role": ROLE}, ...]`: roles for [`crate::Selector::role`], as [`FaultVfs::set_role`] gives them (later entries win) |
//! | [`EVENTS_ENV`] | a file that receives one JSON line ([`PreloadEvent`]) when the VFS is armed and one per rule that acts, written before the action takes effect (so also before a kill or a power cut ends the process) |
//!
//! The VFS ([`PRELOAD_VFS_NAME`]) wraps the default VFS of the moment of the first open and
//! becomes the new default, so every connection that names no VFS goes through it. A plan, roles or events
//! file that cannot be used is an error: the caller must not let the program run unarmed
//! (the shim exits with [`SETUP_FAILED_EXIT_CODE`]).

use crate::{FaultPlan, FaultVfs, Fired, Options, VfsError, PLAN_ENV};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// Roles for paths, as a JSON list `[{"path": GLOB, "role": ROLE}, ...]`.
pub const ROLES_ENV: &str = "VFS_FAULTS_ROLES";
/// A file to append [`PreloadEvent`] lines to.
pub const EVENTS_ENV: &str = "VFS_FAULTS_EVENTS";
/// The name the preloaded VFS registers under.
pub const PRELOAD_VFS_NAME: &str = "vfs-faults-preload";
/// Exit status of a program whose preloaded VFS could not be armed from its environment.
pub const SETUP_FAILED_EXIT_CODE: i32 = 87;

/// One role assignment of [`ROLES_ENV`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    /// Exact path or glob (`*`, `?`) of a database; its journal and WAL inherit the role.
    pub path: String,
    pub role: String,
}

/// One line of the [`EVENTS_ENV`] file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum PreloadEvent {
    /// The shim loaded in process `pid` (`program`: its argv\[0\]) with a usable plan of
    /// `rules` rules; its VFS becomes the default of the program's SQLite, `sqlite` (its
    /// `sqlite3_libversion()`), at the program's first open.
    Armed {
        pid: u32,
        program: String,
        sqlite: String,
        rules: usize,
    },
    /// A rule acted in process `pid`; `action` is the rule's action kind (`kill`,
    /// `power-cut`, `error`, `marker`, ...).
    Fired {
        pid: u32,
        action: String,
        fired: Fired,
    },
}

impl PreloadEvent {
    /// The events of a file's text, one per line (lines that are not events are skipped: a
    /// line cut short by a crash, say).
    pub fn parse_lines(text: &str) -> Vec<PreloadEvent> {
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// What the environment asks for (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct PreloadConfig {
    pub plan: FaultPlan,
    pub roles: Vec<RoleEntry>,
    pub events: Option<PathBuf>,
}

fn env_error(var: &str, message: impl Into<String>) -> VfsError {
    VfsError::Plan {
        source_name: var.to_string(),
        message: message.into(),
    }
}

fn text_of(var: &str, value: OsString) -> Result<String, VfsError> {
    value
        .into_string()
        .map_err(|_| env_error(var, "not valid UTF-8"))
}

impl PreloadConfig {
    /// Reads the configuration through `get` (the environment, or a map in tests).
    /// `Ok(None)`: no plan, nothing to arm.
    pub fn from_vars(
        get: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Option<PreloadConfig>, VfsError> {
        let plan = match get(PLAN_ENV) {
            None => return Ok(None),
            Some(v) => text_of(PLAN_ENV, v)?,
        };
        if plan.trim().is_empty() {
            return Ok(None);
        }
        let plan = FaultPlan::parse(&plan).map_err(|m| env_error(PLAN_ENV, m))?;
        let roles = match get(ROLES_ENV) {
            None => Vec::new(),
            Some(v) => {
                let text = text_of(ROLES_ENV, v)?;
                serde_json::from_str(&text).map_err(|e| {
                    env_error(
                        ROLES_ENV,
                        format!("{e} (expected [{{\"path\": GLOB, \"role\": ROLE}}, ...])"),
                    )
                })?
            }
        };
        let events = get(EVENTS_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        Ok(Some(PreloadConfig {
            plan,
            roles,
            events,
        }))
    }

    /// Registers the VFS as `name` with this configuration (the default VFS of the process
    /// if `make_default`), gives the roles, and writes the `armed` event.
    pub fn register(self, name: &str, make_default: bool) -> Result<FaultVfs, VfsError> {
        self.prepare()?.register(name, make_default)
    }

    /// Opens the events file and writes the `armed` event; touches no SQLite state that the
    /// program's configuration depends on (`sqlite3_libversion()` only).
    pub fn prepare(self) -> Result<Prepared, VfsError> {
        let events = match &self.events {
            None => None,
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| env_error(EVENTS_ENV, format!("{}: {e}", path.display())))?;
                let write = events_writer(file);
                write(&PreloadEvent::Armed {
                    pid: std::process::id(),
                    program: std::env::args().next().unwrap_or_default(),
                    sqlite: rusqlite::version().to_string(),
                    rules: self.plan.rules.len(),
                });
                Some(write)
            }
        };
        Ok(Prepared {
            plan: self.plan,
            roles: self.roles,
            events,
        })
    }
}

type EventWriter = Box<dyn Fn(&PreloadEvent) + Send + Sync>;

/// One line per event, one `write` per line: appends from several processes (the two ends of
/// a pipeline) do not interleave.
fn events_writer(file: std::fs::File) -> EventWriter {
    let file = Mutex::new(file);
    Box::new(move |ev: &PreloadEvent| {
        if let Ok(line) = serde_json::to_string(ev) {
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    })
}

/// A configuration whose `armed` event is written, waiting to be registered.
pub struct Prepared {
    plan: FaultPlan,
    roles: Vec<RoleEntry>,
    events: Option<EventWriter>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("rules", &self.plan.rules.len())
            .field("roles", &self.roles)
            .field("events", &self.events.is_some())
            .finish()
    }
}

impl Prepared {
    /// Registers the VFS as `name` (the process's default if `make_default`), gives the
    /// roles, and sends one `fired` event per acting rule to the events file.
    pub fn register(self, name: &str, make_default: bool) -> Result<FaultVfs, VfsError> {
        let actions: Vec<String> = self
            .plan
            .rules
            .iter()
            .map(|r| crate::kebab_tag(&r.action))
            .collect();
        let vfs = FaultVfs::register_with(
            name,
            Options {
                plan: self.plan,
                make_default,
                ..Options::default()
            },
        )?;
        for r in &self.roles {
            vfs.set_role(&r.path, &r.role);
        }
        if let Some(write) = self.events {
            vfs.on_fire(move |f| {
                write(&PreloadEvent::Fired {
                    pid: std::process::id(),
                    action: actions.get(f.rule).cloned().unwrap_or_default(),
                    fired: f.clone(),
                })
            });
        }
        Ok(vfs)
    }
}

/// The configuration [`arm_from_env`] read, until [`register_pending`] registers it.
static PENDING: Mutex<Option<Prepared>> = Mutex::new(None);

/// What a preloaded shim's constructor calls: reads [`PreloadConfig`] from the environment,
/// writes the `armed` event, and keeps the configuration for [`register_pending`]. `Ok(false)`
/// when no plan is set; an error must stop the program (it would otherwise run without its
/// faults). Does not initialize SQLite.
pub fn arm_from_env() -> Result<bool, VfsError> {
    match PreloadConfig::from_vars(&|var| std::env::var_os(var))? {
        None => Ok(false),
        Some(config) => {
            let prepared = config.prepare()?;
            *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(prepared);
            Ok(true)
        }
    }
}

/// What the shim's `sqlite3_open*` wrappers call before the program's open: registers the
/// configuration [`arm_from_env`] kept as [`PRELOAD_VFS_NAME`], the default VFS (the first
/// call only; the others, from any thread, wait for it and then do nothing). An error must
/// stop the program.
pub fn register_pending() -> Result<(), VfsError> {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(prepared) = pending.take() {
        // The VFS's registry keeps it for the life of the process. (Registering opens no
        // database, so this cannot come back here through the shim's wrappers.)
        prepared.register(PRELOAD_VFS_NAME, true)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, FileKind, KillWhen, Occurrence, OpKind, Rule, Selector};
    use rusqlite::{Connection, OpenFlags};
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: BTreeMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn no_plan_arms_nothing_and_bad_input_is_an_error_naming_the_variable() {
        assert_eq!(PreloadConfig::from_vars(&vars(&[])).unwrap(), None);
        assert_eq!(
            PreloadConfig::from_vars(&vars(&[(PLAN_ENV, "  ")])).unwrap(),
            None
        );
        let e = PreloadConfig::from_vars(&vars(&[(PLAN_ENV, "{\"rules\": 3}")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(PLAN_ENV), "{e}");
        let e = PreloadConfig::from_vars(&vars(&[(PLAN_ENV, "{}"), (ROLES_ENV, "{\"a\": \"b\"}")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(ROLES_ENV) && e.contains("expected"), "{e}");
        let c = PreloadConfig::from_vars(&vars(&[
            (PLAN_ENV, "seed = 3"),
            (ROLES_ENV, r#"[{"path": "/x/*.db", "role": "destination"}]"#),
            (EVENTS_ENV, "/tmp/events"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.plan.seed, 3);
        assert_eq!(c.roles[0].role, "destination");
        assert_eq!(c.events, Some(PathBuf::from("/tmp/events")));
    }

    #[test]
    fn an_unwritable_events_file_is_an_error() {
        let c = PreloadConfig {
            plan: FaultPlan::default(),
            roles: Vec::new(),
            events: Some(PathBuf::from("/no/such/dir/events.jsonl")),
        };
        let e = c
            .register("preload-test-unwritable", false)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(EVENTS_ENV), "{e}");
    }

    /// The roles reach the selectors, and the events file gets `armed`, then one `fired` line
    /// per acting rule with the rule's action kind (an I/O error here, so the test lives on).
    #[test]
    fn roles_select_and_every_firing_is_written_to_the_events_file() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("events.jsonl");
        let dest = dir.path().join("dest.db");
        let plan = FaultPlan {
            seed: 1,
            rules: vec![
                Rule {
                    name: Some("fail".into()),
                    select: Selector {
                        ops: vec![OpKind::Write],
                        file: Some(FileKind::MainDb),
                        role: Some("destination".into()),
                        when: Occurrence::Nth(1),
                        ..Selector::default()
                    },
                    action: Action::Error {
                        code: crate::ErrorCode::IoerrWrite,
                        persistent: false,
                    },
                },
                Rule {
                    name: Some("never".into()),
                    select: Selector {
                        role: Some("elsewhere".into()),
                        ..Selector::default()
                    },
                    action: Action::Kill {
                        when: KillWhen::Before,
                    },
                },
            ],
        };
        let c = PreloadConfig {
            plan,
            roles: vec![RoleEntry {
                path: dest.to_string_lossy().into_owned(),
                role: "destination".into(),
            }],
            events: Some(events.clone()),
        };
        let vfs = c.register("preload-test-roles", false).unwrap();
        let conn = Connection::open_with_flags_and_vfs(
            &dest,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            "preload-test-roles",
        )
        .unwrap();
        conn.execute_batch("PRAGMA journal_mode=OFF; CREATE TABLE t(x)")
            .expect_err("the first write fails");
        let evs = PreloadEvent::parse_lines(&std::fs::read_to_string(&events).unwrap());
        assert_eq!(evs.len(), 2, "{evs:?}");
        assert!(
            matches!(&evs[0], PreloadEvent::Armed { pid, rules: 2, sqlite, .. }
                if *pid == std::process::id() && sqlite.as_str() == rusqlite::version()),
            "{evs:?}"
        );
        match &evs[1] {
            PreloadEvent::Fired { action, fired, .. } => {
                assert_eq!(action, "error");
                assert_eq!((fired.rule, fired.op), (0, OpKind::Write));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(vfs.plan().rules.len(), 2, "the plan is readable back");
        vfs.set_role("/elsewhere/*.db", "elsewhere");
        vfs.set_role(&dest.to_string_lossy(), "destination");
        let back: Vec<(String, String)> =
            vfs.roles().into_iter().map(|r| (r.path, r.role)).collect();
        assert_eq!(
            back,
            vec![
                ("/elsewhere/*.db".to_string(), "elsewhere".to_string()),
                (
                    dest.to_string_lossy().into_owned(),
                    "destination".to_string()
                ),
            ],
            "the roles are readable back, in the order they apply"
        );
    }
}
