//! The fault engine: per-instance state, the counters, and the rule evaluation.
//!
//! Every VFS callback in `ffi` counts its operation here (one relaxed atomic add) and, only when
//! the instance is *armed* (a plan with rules, tracing, power-cut tracking, or a past in-process
//! power cut), takes the engine lock to evaluate the plan. Evaluation returns a [`Verdict`] that
//! `ffi` carries out on the real file; [`Shared::finish`] then records the trace entry and the
//! power-cut bookkeeping. Kept free of `unsafe` so the rule logic can be read on its own.

use crate::classify::{self, Roles, FILE_KINDS};
use crate::codes::{dead_code, error_code, returns_code, runs_when_dead, ALL_OPS, OK};
use crate::disk::Disk;
use crate::plan::*;
use crate::powercut::{CutReport, Device, PowerState};
use crate::{RuleHits, TraceEntry};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Exit status of a process ended by a power cut in [`PowerCutMode::Exit`].
pub const POWER_CUT_EXIT_CODE: i32 = 86;

pub(crate) type MarkerFn = Arc<dyn Fn(&str) + Send + Sync>;
pub(crate) type FireFn = Arc<dyn Fn(&Fired) + Send + Sync>;
/// Ends the process at once (no destructors, no flush): given by the caller, so the engine
/// stays free of the FFI layer.
pub(crate) type ExitFn = fn(i32) -> !;

/// A rule that acted on an operation, as told to [`crate::FaultVfs::on_fire`] before the
/// action takes effect (so also before a kill or a power cut ends the process).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fired {
    /// Index of the rule in the plan.
    pub rule: usize,
    pub name: Option<String>,
    pub op: OpKind,
    pub file: FileKind,
    /// The rule's occurrence count at this operation.
    pub occurrence: u64,
}

/// What `ffi` does with the operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Act {
    Pass,
    Fail(i32),
    Torn {
        keep_sectors: u32,
        keep_bytes: Option<u64>,
        then: i32,
    },
    Lost,
    ShortRead {
        keep: u64,
    },
}

#[derive(Debug)]
pub(crate) struct Verdict {
    pub(crate) act: Act,
    /// Read the bytes the write/truncate overwrites and hand them to [`Shared::record_undo`].
    pub(crate) record_undo: bool,
    /// The file is dead (in-process power cut); release-only operations still run.
    pub(crate) dead: bool,
    kill_after: bool,
    trace: bool,
    tracking: bool,
    pre_exists: bool,
    saved: Option<Vec<u8>>,
}

/// One operation as the engine sees it.
pub(crate) struct Op<'a> {
    pub(crate) op: OpKind,
    pub(crate) file: Option<&'a FileCtx>,
    pub(crate) kind: FileKind,
    pub(crate) path: Option<&'a str>,
    pub(crate) offset: Option<i64>,
    pub(crate) len: Option<i64>,
    /// Open flags, sync flags, or xDelete's syncDir.
    pub(crate) flags: i32,
}

/// Per open file state, owned by the `ffi` file struct.
pub(crate) struct FileCtx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) kind: FileKind,
    pub(crate) path: Option<String>,
    epoch: u64,
    role: Mutex<(u64, Option<Arc<str>>)>,
    dirsync_pending: AtomicBool,
    pub(crate) sector: AtomicU32,
    /// The base file promises powersafe overwrite (`SQLITE_IOCAP_POWERSAFE_OVERWRITE`): a
    /// power loss never damages bytes outside the range a write covered.
    pub(crate) psow: AtomicBool,
}

struct RuleState {
    matched: u64,
    fired: u64,
    stuck: bool,
}

struct Engine {
    plan: FaultPlan,
    states: Vec<RuleState>,
    rng: ChaCha8Rng,
    markers: HashSet<String>,
    enabled: bool,
    trace_on: bool,
    trace: Vec<TraceEntry>,
    op_index: u64,
    track_power: bool,
    power: PowerState,
    dead_epoch: u64,
    dead_paths: HashSet<String>,
    last_cut: Option<CutReport>,
}

impl Engine {
    fn tracking(&self) -> bool {
        self.track_power
            || self
                .plan
                .rules
                .iter()
                .any(|r| matches!(r.action, Action::PowerCut { .. }))
    }
    fn armed(&self) -> bool {
        (self.enabled && !self.plan.rules.is_empty())
            || self.trace_on
            || self.tracking()
            || self.dead_epoch > 0
    }
}

/// State of one registered instance, shared by the VFS and every file it opened.
pub(crate) struct Shared {
    pub(crate) name: String,
    armed: AtomicBool,
    counters: Vec<AtomicU64>,
    engine: Mutex<Engine>,
    roles: RwLock<(u64, Roles)>,
    marker_cb: Mutex<Option<MarkerFn>>,
    fire_cb: Mutex<Option<FireFn>>,
    exit: ExitFn,
    marker_file: Mutex<Option<std::fs::File>>,
    /// The base VFS's files, for power cuts and a deleted file's saved content.
    disk: Arc<dyn Disk>,
    epoch: AtomicU64,
    /// The last operation counted: `1 + counter index` (0: none yet).
    last: AtomicU32,
}

impl Shared {
    pub(crate) fn new(
        name: &str,
        plan: FaultPlan,
        trace: bool,
        track_power: bool,
        exit: ExitFn,
        disk: Arc<dyn Disk>,
    ) -> Shared {
        let engine = Engine {
            states: new_states(&plan),
            rng: ChaCha8Rng::seed_from_u64(plan.seed),
            plan,
            markers: HashSet::new(),
            enabled: true,
            trace_on: trace,
            trace: Vec::new(),
            op_index: 0,
            track_power,
            power: PowerState::default(),
            dead_epoch: 0,
            dead_paths: HashSet::new(),
            last_cut: None,
        };
        let s = Shared {
            name: name.to_string(),
            armed: AtomicBool::new(false),
            counters: (0..ALL_OPS.len() * FILE_KINDS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            engine: Mutex::new(engine),
            roles: RwLock::new((1, Roles::default())),
            marker_cb: Mutex::new(None),
            fire_cb: Mutex::new(None),
            exit,
            marker_file: Mutex::new(None),
            disk,
            epoch: AtomicU64::new(0),
            last: AtomicU32::new(0),
        };
        s.rearm();
        s
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rearm(&self) {
        let armed = self.engine().armed();
        self.armed.store(armed, Relaxed);
    }

    /// Hot path: whether anything beyond counting is needed.
    #[inline]
    pub(crate) fn armed(&self) -> bool {
        self.armed.load(Relaxed)
    }

    #[inline]
    pub(crate) fn count(&self, op: OpKind, kind: FileKind) {
        let i = op as usize * FILE_KINDS + kind as usize;
        self.counters[i].fetch_add(1, Relaxed);
        self.last.store(i as u32 + 1, Relaxed);
    }

    /// The operation counted last (on any thread), and the number of operations so far.
    pub(crate) fn last_op(&self) -> (Option<(OpKind, FileKind)>, u64) {
        let total = self.counters.iter().map(|c| c.load(Relaxed)).sum();
        let last = match self.last.load(Relaxed) {
            0 => None,
            i => {
                let i = i as usize - 1;
                Some((
                    ALL_OPS[i / FILE_KINDS],
                    classify::ALL_FILE_KINDS[i % FILE_KINDS],
                ))
            }
        };
        (last, total)
    }

    pub(crate) fn counter_table(&self) -> Vec<(OpKind, FileKind, u64)> {
        let mut out = Vec::new();
        for op in ALL_OPS {
            for kind in classify::ALL_FILE_KINDS {
                let n = self.counters[op as usize * FILE_KINDS + kind as usize].load(Relaxed);
                if n > 0 {
                    out.push((op, kind, n));
                }
            }
        }
        out
    }

    pub(crate) fn new_file(self: &Arc<Self>, kind: FileKind, path: Option<String>) -> FileCtx {
        FileCtx {
            shared: Arc::clone(self),
            kind,
            path,
            epoch: self.epoch.load(Relaxed),
            role: Mutex::new((0, None)),
            dirsync_pending: AtomicBool::new(false),
            sector: AtomicU32::new(0),
            psow: AtomicBool::new(false),
        }
    }

    // ----- configuration -----

    pub(crate) fn set_plan(&self, plan: FaultPlan) {
        let mut e = self.engine();
        e.states = new_states(&plan);
        e.rng = ChaCha8Rng::seed_from_u64(plan.seed);
        e.plan = plan;
        e.markers.clear();
        e.enabled = true;
        e.power = PowerState::default();
        e.dead_epoch = 0;
        e.dead_paths.clear();
        drop(e);
        self.rearm();
    }
    pub(crate) fn plan(&self) -> FaultPlan {
        self.engine().plan.clone()
    }
    pub(crate) fn set_enabled(&self, on: bool) {
        self.engine().enabled = on;
        self.rearm();
    }
    pub(crate) fn set_trace(&self, on: bool) {
        self.engine().trace_on = on;
        self.rearm();
    }
    pub(crate) fn set_power_tracking(&self, on: bool) {
        self.engine().track_power = on;
        self.rearm();
    }
    pub(crate) fn set_role(&self, pattern: &str, role: &str) {
        let mut r = self.roles.write().unwrap_or_else(|e| e.into_inner());
        r.1.set(pattern, role);
        r.0 += 1;
    }
    pub(crate) fn roles(&self) -> Vec<(String, String)> {
        self.roles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .list()
    }
    pub(crate) fn set_fire_cb(&self, f: FireFn) {
        *self.fire_cb.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    pub(crate) fn set_marker_cb(&self, f: MarkerFn) {
        *self.marker_cb.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }
    pub(crate) fn set_marker_file(&self, file: Option<std::fs::File>) {
        *self.marker_file.lock().unwrap_or_else(|e| e.into_inner()) = file;
    }
    pub(crate) fn rule_hits(&self) -> Vec<RuleHits> {
        let e = self.engine();
        e.plan
            .rules
            .iter()
            .zip(&e.states)
            .enumerate()
            .map(|(index, (r, s))| RuleHits {
                index,
                name: r.name.clone(),
                matched: s.matched,
                fired: s.fired,
            })
            .collect()
    }
    pub(crate) fn trace(&self) -> Vec<TraceEntry> {
        self.engine().trace.clone()
    }
    pub(crate) fn clear_trace(&self) {
        let mut e = self.engine();
        e.trace.clear();
        e.op_index = 0;
    }
    pub(crate) fn last_cut(&self) -> Option<CutReport> {
        self.engine().last_cut.clone()
    }

    // ----- roles -----

    fn role_of_path(&self, path: &str, kind: FileKind) -> Option<Arc<str>> {
        let r = self.roles.read().unwrap_or_else(|e| e.into_inner());
        r.1.lookup(classify::db_path_of(path, kind)).map(Arc::from)
    }

    /// The role of the operation's file (cached per open file: a shared string, no copy).
    fn role_of(&self, op: &Op<'_>) -> Option<Arc<str>> {
        let gen = self.roles.read().unwrap_or_else(|e| e.into_inner()).0;
        if let Some(f) = op.file {
            let mut cache = f.role.lock().unwrap_or_else(|e| e.into_inner());
            if cache.0 != gen {
                *cache = (
                    gen,
                    f.path.as_deref().and_then(|p| self.role_of_path(p, f.kind)),
                );
            }
            return cache.1.clone();
        }
        op.path.and_then(|p| self.role_of_path(p, op.kind))
    }

    // ----- markers, kill, power cut -----

    pub(crate) fn emit_marker(&self, name: &str) {
        self.engine().markers.insert(name.to_string());
        self.deliver_marker(name);
    }

    fn deliver_marker(&self, name: &str) {
        let cb = self
            .marker_cb
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(cb) = cb {
            cb(name);
        }
        let mut file = self.marker_file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = file.as_mut() {
            let line = serde_json::json!({ "marker": name, "pid": std::process::id() });
            let _ = std::io::Write::write_all(f, format!("{line}\n").as_bytes());
        }
    }

    pub(crate) fn power_cut(
        &self,
        mode: PowerCutMode,
        unsynced: Unsynced,
        metadata: MetadataOrder,
    ) -> Option<CutReport> {
        let mut e = self.engine();
        let Engine { power, rng, .. } = &mut *e;
        let report = power
            .cut(rng, unsynced, metadata, self.disk.as_ref())
            .unwrap_or_default();
        if mode == PowerCutMode::Exit {
            (self.exit)(POWER_CUT_EXIT_CODE);
        }
        e.dead_epoch = self.epoch.fetch_add(1, Relaxed) + 1;
        e.dead_paths.extend(report.affected.iter().cloned());
        e.last_cut = Some(report.clone());
        drop(e);
        self.armed.store(true, Relaxed);
        Some(report)
    }

    // ----- the slow path -----

    /// Evaluates the plan for `op` (armed instances only).
    pub(crate) fn decide(&self, op: &Op<'_>) -> Verdict {
        let mut e = self.engine();
        let mut v = Verdict {
            act: Act::Pass,
            record_undo: false,
            dead: false,
            kill_after: false,
            trace: e.trace_on,
            tracking: e.tracking(),
            pre_exists: false,
            saved: None,
        };
        if e.dead_epoch > 0 {
            // After the cut the power is gone: nothing changes any file any more, not even one
            // that had nothing unsynced (e.g. deleting a fully synced WAL would lose it).
            let mutates = matches!(op.op, OpKind::Delete | OpKind::Write | OpKind::Truncate);
            let dead = mutates
                || op.file.is_some_and(|f| f.epoch < e.dead_epoch)
                || op.path.is_some_and(|p| e.dead_paths.contains(p));
            if dead {
                v.dead = true;
                if !runs_when_dead(op.op) {
                    v.act = Act::Fail(dead_code(op.op));
                }
                v.tracking = false;
                return v;
            }
        }
        let mut emitted: Vec<String> = Vec::new();
        let mut fired: Vec<Fired> = Vec::new();
        let mut delay_ms = 0u64;
        let mut terminal: Option<Action> = None;
        if e.enabled && !e.plan.rules.is_empty() {
            let need_role = e.plan.rules.iter().any(|r| r.select.role.is_some());
            let role = if need_role { self.role_of(op) } else { None };
            let Engine {
                plan,
                states,
                rng,
                markers,
                ..
            } = &mut *e;
            for (index, (rule, st)) in plan.rules.iter().zip(states.iter_mut()).enumerate() {
                if !selects(&rule.select, op, role.as_deref(), markers) {
                    continue;
                }
                st.matched += 1;
                let fire = match rule.select.when {
                    Occurrence::Probability(p) => rng.random::<f64>() < p || st.stuck,
                    _ if st.stuck => true,
                    Occurrence::Every => true,
                    Occurrence::Nth(n) => st.matched == n,
                    Occurrence::Range { from, to } => (from..=to).contains(&st.matched),
                };
                if !fire {
                    continue;
                }
                let fired_before = st.fired;
                match &rule.action {
                    Action::Marker { name } => {
                        st.fired += 1;
                        emitted.push(name.clone());
                    }
                    Action::Delay { ms } => {
                        st.fired += 1;
                        delay_ms += ms;
                    }
                    a if terminal.is_none() && applies(a, op.op) => {
                        st.fired += 1;
                        if let Action::Error {
                            persistent: true, ..
                        } = a
                        {
                            st.stuck = true;
                        }
                        terminal = Some(a.clone());
                    }
                    _ => {}
                }
                if st.fired > fired_before {
                    fired.push(Fired {
                        rule: index,
                        name: rule.name.clone(),
                        op: op.op,
                        file: op.kind,
                        occurrence: st.matched,
                    });
                }
            }
            markers.extend(emitted.iter().cloned());
        }
        match &terminal {
            Some(Action::Error { code, .. }) => v.act = Act::Fail(error_code(*code)),
            Some(Action::TornWrite {
                keep_sectors,
                keep_bytes,
                then,
            }) => {
                v.act = Act::Torn {
                    keep_sectors: *keep_sectors,
                    keep_bytes: *keep_bytes,
                    then: then.map(error_code).unwrap_or(OK),
                }
            }
            Some(Action::LostWrite) => v.act = Act::Lost,
            Some(Action::ShortRead { keep_bytes }) => v.act = Act::ShortRead { keep: *keep_bytes },
            Some(Action::Kill {
                when: KillWhen::After,
            }) => v.kill_after = true,
            _ => {}
        }
        if v.tracking && matches!(v.act, Act::Pass | Act::Torn { .. }) {
            match op.op {
                OpKind::Write | OpKind::Truncate => v.record_undo = op.path.is_some(),
                OpKind::Open => v.pre_exists = op.path.is_some_and(|p| self.disk.len(p).is_some()),
                OpKind::Delete => v.saved = op.path.and_then(|p| self.disk.read(p).ok()),
                _ => {}
            }
        }
        drop(e);
        for m in &emitted {
            self.deliver_marker(m);
        }
        if !fired.is_empty() {
            let cb = self
                .fire_cb
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(cb) = cb {
                for f in &fired {
                    cb(f);
                }
            }
        }
        if delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        }
        match terminal {
            Some(Action::Kill {
                when: KillWhen::Before,
            }) => self.kill_now(),
            Some(Action::PowerCut {
                mode,
                unsynced,
                metadata,
            }) => {
                self.power_cut(mode, unsynced, metadata);
                v.act = Act::Fail(dead_code(op.op));
                v.record_undo = false;
                v.tracking = false;
            }
            _ => {}
        }
        v
    }

    /// Records the bytes a write or truncation of `file` is about to overwrite, and the file
    /// size before and after it.
    pub(crate) fn record_undo(
        &self,
        file: &FileCtx,
        offset: u64,
        old: Vec<u8>,
        old_size: u64,
        new_size: u64,
    ) {
        if let Some(p) = &file.path {
            let sector = u64::from(file.sector.load(Relaxed)).max(512);
            let psow = file.psow.load(Relaxed);
            self.engine()
                .power
                .record(p, offset, old, old_size, new_size, Device { sector, psow });
        }
    }

    /// After the operation: trace, power-cut bookkeeping, kill-after.
    pub(crate) fn finish(&self, op: &Op<'_>, v: Verdict, rc: i32) {
        if v.trace || v.tracking {
            let role = if v.trace { self.role_of(op) } else { None };
            let mut e = self.engine();
            if v.trace {
                let index = e.op_index;
                e.op_index += 1;
                e.trace.push(TraceEntry {
                    index,
                    op: op.op,
                    file: op.kind,
                    role: role.map(|r| r.to_string()),
                    path: op.path.map(str::to_string),
                    offset: op.offset,
                    len: op.len,
                    rc,
                });
            }
            if v.tracking && rc == OK && v.act == Act::Pass {
                self.track(&mut e, op, &v);
            }
        }
        if v.kill_after {
            self.kill_now();
        }
    }

    fn track(&self, e: &mut Engine, op: &Op<'_>, v: &Verdict) {
        let Some(path) = op.path else { return };
        let dir = Path::new(path).parent();
        match op.op {
            OpKind::Open => {
                if op.flags & classify::OPEN_CREATE != 0 && !v.pre_exists {
                    e.power.created(path);
                }
                if let Some(f) = op.file {
                    if classify::syncs_dir_on_first_sync(op.flags) {
                        f.dirsync_pending.store(true, Relaxed);
                    }
                }
            }
            OpKind::Sync => {
                e.power.synced(path);
                if op
                    .file
                    .is_some_and(|f| f.dirsync_pending.swap(false, Relaxed))
                {
                    if let Some(d) = dir {
                        e.power.dir_synced(d);
                    }
                }
            }
            OpKind::Delete => {
                e.power.deleted(path, v.saved.clone());
                if op.flags != 0 {
                    if let Some(d) = dir {
                        e.power.dir_synced(d);
                    }
                }
            }
            _ => {}
        }
    }

    /// SIGKILL this process (the exit is a fallback that never runs in practice).
    fn kill_now(&self) -> ! {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        (self.exit)(137)
    }

    pub(crate) fn has_unsynced(&self) -> bool {
        !self.engine().power.is_empty()
    }
}

fn new_states(plan: &FaultPlan) -> Vec<RuleState> {
    plan.rules
        .iter()
        .map(|_| RuleState {
            matched: 0,
            fired: 0,
            stuck: false,
        })
        .collect()
}

fn selects(sel: &Selector, op: &Op<'_>, role: Option<&str>, markers: &HashSet<String>) -> bool {
    (sel.ops.is_empty() || sel.ops.contains(&op.op))
        && sel.file.is_none_or(|k| k == op.kind)
        && sel.role.as_deref().is_none_or(|r| role == Some(r))
        && sel
            .path
            .as_deref()
            .is_none_or(|g| op.path.is_some_and(|p| classify::glob_match(g, p)))
        && sel
            .after_marker
            .as_deref()
            .is_none_or(|m| markers.contains(m))
}

/// Whether a terminal action can act on this kind of operation.
fn applies(a: &Action, op: OpKind) -> bool {
    match a {
        Action::Error { .. } => returns_code(op),
        Action::TornWrite { .. } => op == OpKind::Write,
        Action::LostWrite => matches!(op, OpKind::Write | OpKind::Sync | OpKind::Truncate),
        Action::ShortRead { .. } => op == OpKind::Read,
        Action::PowerCut { .. } => returns_code(op),
        _ => true,
    }
}

/// Occurrence test used by the rule loop, exposed for property tests.
pub fn occurrence_fires(when: &Occurrence, n: u64) -> bool {
    match when {
        Occurrence::Every => true,
        Occurrence::Nth(k) => n == *k,
        Occurrence::Range { from, to } => (*from..=*to).contains(&n),
        Occurrence::Probability(_) => false,
    }
}
