//! `external:<label>`: runs a program people really use for backups (the sqlite3 shell's
//! `.backup`, Python's `sqlite3.Connection.backup`, ...) from an argv template.
//!
//! Why it exists: the question is what users can rely on, and users run tools, not our code.
//! The scenario gives `command = ["prog", "arg", "{src}", "{dst}"]`; `{src}` and `{dst}` are
//! replaced (also inside an argument, e.g. `".backup {dst}"`) by the iteration's absolute
//! paths, and the program is executed directly, never through a shell, so a path with spaces
//! stays one argument. The tool runs as a child of the backup worker, in the worker's process
//! group, which the supervisor kills as a whole (see `run::child`). It is started through
//! `<harness> worker exec-tool -- PROG ARGS...`, which sets the parent-death signal, checks the
//! worker is still there and then executes the tool in its place: a worker killed by anyone
//! (the supervisor, its own VFS, the tool itself, the OOM killer) never leaves the tool
//! running. The tool opens the files with its own SQLite and its own VFS, so only
//! process kills reach it (its [`REGISTRATION`] facts say so). It claims `Success` on
//! exit 0, `Error` with the exit status and the last lines of stderr (escaped, bounded)
//! otherwise; its stderr is copied to the worker's stderr as it arrives (so it survives a
//! kill), its stdout tail at exit.
//!
//! With `fault_vfs = "preload"` ([`FaultVfsRoute::Preload`]) the tool gets the fault VFS too:
//! `exec-tool` preloads the shim built from `vfs-preload/` ([`preload_shim`]) into it, with the
//! plan and the path roles of the worker's own fault VFS and an events file in its
//! environment (`vfs_faults::preload`). The shim registers the VFS as the default of the tool's own
//! (dynamically linked) libsqlite3, so kills at an exact destination operation, power cuts and
//! I/O errors happen inside the tool. After the tool ends, every rule that acted becomes a
//! `fired` event, and a tool that the VFS killed or whose power it cut ends this worker the
//! same way, without a claim: the oracle then judges the destination as the fault left it,
//! as for the built-in strategies ([`facts`] lets the VFS fault kinds reach such an entry).

use super::common::{self, error};
use super::{Strategy, StrategyContext, StrategyParams};
use crate::event::Claim;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

mod preload;
use preload::Preload;
pub use preload::{
    facts, hint, preload_shim, vfs_outlives_the_tool, FaultVfsRoute, PRELOAD_SHIM_FILE,
    TOOL_PRELOAD_ENV,
};

/// Scenario names of external strategies start with this.
pub const PREFIX: &str = "external:";
/// The placeholder for the source path.
pub const SRC: &str = "{src}";
/// The placeholder for the destination path.
pub const DST: &str = "{dst}";
/// What `list` shows for `external:<label>`.
pub const DESCRIBE: &str = "runs the entry's `command` argv ({src} {dst} replaced, no shell): sqlite3 .backup, Python Connection.backup, ...";
/// Bytes of stdout/stderr kept for the claim and the report.
const TAIL_BYTES: usize = 2048;

/// Replaced when a scenario loads: the install prefix of `ci/install-tools.sh`.
pub const TOOLS: &str = "{tools}";
/// Replaced when a scenario loads: the directory of the scenario file (scripts kept beside it).
pub const SCENARIO_DIR: &str = "{scenario_dir}";

/// Where `ci/install-tools.sh` installs: `$HARNESS_TOOLS`, else `tools/` in this checkout.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("HARNESS_TOOLS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tools"))
}

/// `arg` with `{tools}` and `{scenario_dir}` replaced (the run-time placeholders `{src}` and
/// `{dst}` are left for [`render`]).
pub fn expand_dirs(arg: &str, tools: &Path, scenario_dir: &Path) -> String {
    arg.replace(TOOLS, &tools.to_string_lossy())
        .replace(SCENARIO_DIR, &scenario_dir.to_string_lossy())
}

/// Why an external strategy cannot run. One line, naming the strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalError {
    #[error(
        "strategy {name}: `command` is empty (give the program and its arguments, with {DST})"
    )]
    EmptyCommand { name: String },
    #[error("strategy {name}: `command` has no `{DST}` placeholder (the tool must write the destination the harness checks)")]
    NoDest { name: String },
    #[error("strategy {name}: program `{program}` not found on PATH (install it or remove the strategy)")]
    NotFound { name: String, program: String },
    #[error("strategy {name}: `{path}` does not exist (not installed: run ci/install-tools.sh)")]
    Missing { name: String, path: String },
    #[error("strategy {name}: the preload shim `{path}` is not built (run ci/install-tools.sh, or cargo build --release --manifest-path vfs-preload/Cargo.toml and copy it there)")]
    NoShim { name: String, path: String },
}

/// The label of an `external:<label>` name, if `name` is one with a valid label: non-empty,
/// ASCII letters, digits, `.`, `_`, `-` (no `:`, which separates the parts of a replay ID).
pub fn label(name: &str) -> Option<&str> {
    let label = name.strip_prefix(PREFIX)?;
    let ok = !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then_some(label)
}

/// Whether `name` is spelled `external:<label>`.
pub fn is_external(name: &str) -> bool {
    label(name).is_some()
}

/// The scenario-time checks of an external entry: a non-empty command with `{dst}`.
pub fn validate(name: &str, params: &StrategyParams) -> Result<(), ExternalError> {
    if params.command.is_empty() || params.command[0].trim().is_empty() {
        return Err(ExternalError::EmptyCommand { name: name.into() });
    }
    if !params.command.iter().any(|a| a.contains(DST)) {
        return Err(ExternalError::NoDest { name: name.into() });
    }
    Ok(())
}

/// The run-time check: the entry's program exists (a path, or a name found on `PATH`).
pub fn check_program(name: &str, params: &StrategyParams) -> Result<PathBuf, ExternalError> {
    check_installed(name, params, &[])
}

/// [`check_program`], and every path of `requires` exists.
pub fn check_installed(
    name: &str,
    params: &StrategyParams,
    requires: &[String],
) -> Result<PathBuf, ExternalError> {
    validate(name, params)?;
    let program = &params.command[0];
    let found = find_program(program).ok_or_else(|| ExternalError::NotFound {
        name: name.into(),
        program: program.clone(),
    })?;
    if let Some(path) = requires.iter().find(|p| !Path::new(p).exists()) {
        return Err(ExternalError::Missing {
            name: name.into(),
            path: path.clone(),
        });
    }
    let shim = preload_shim();
    if params.fault_vfs == FaultVfsRoute::Preload && !shim.is_file() {
        return Err(ExternalError::NoShim {
            name: name.into(),
            path: shim.display().to_string(),
        });
    }
    Ok(found)
}

/// `program` itself when it contains a `/`, else the first match on `PATH`; only executable
/// regular files count.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// The first line `argv` prints on stdout within `timeout` (a tool's version), or why there is
/// none. The probe runs in a process group of its own, read by a thread: when it takes longer
/// (or leaves a child holding its stdout), the whole group is killed and reaped, and nothing
/// outlives the call.
pub fn probe_version(argv: &[String], timeout: std::time::Duration) -> String {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = argv.split_first() else {
        return "?".into();
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("? (cannot run `{program}`: {e})"),
    };
    let mut stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        // Up to 64 KiB: a version is one line.
        let mut out = Vec::new();
        let _ = (&mut stdout).take(64 * 1024).read_to_end(&mut out);
        let _ = tx.send(out);
    });
    let out = rx.recv_timeout(timeout);
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let _ = reader.join();
    let Ok(out) = out else {
        return format!("? (`{program}` did not answer in {timeout:?})");
    };
    match String::from_utf8_lossy(&out)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
    {
        Some(line) => line.chars().take(200).collect(),
        None => format!("? (`{program}` printed nothing)"),
    }
}

/// The argv: every `{src}` / `{dst}` in every argument replaced by the path, nothing else
/// interpreted (no shell, no globbing, no splitting).
pub fn render(template: &[String], src: &Path, dst: &Path) -> Vec<OsString> {
    template
        .iter()
        .map(|arg| {
            let mut out = OsString::new();
            let mut rest = arg.as_str();
            loop {
                let next = [(SRC, src.as_os_str()), (DST, dst.as_os_str())]
                    .into_iter()
                    .filter_map(|(ph, path)| rest.find(ph).map(|i| (i, ph, path)))
                    .min_by_key(|(i, _, _)| *i);
                match next {
                    Some((i, ph, path)) => {
                        out.push(&rest[..i]);
                        out.push(path);
                        rest = &rest[i + ph.len()..];
                    }
                    None => {
                        out.push(rest);
                        break out;
                    }
                }
            }
        })
        .collect()
}

/// Every `external:<label>` strategy: the program opens the files with its own SQLite, so only
/// process kills reach it (unless its entry preloads the fault VFS: see [`facts`]).
pub const REGISTRATION: super::Registration = super::Registration {
    name: "external:<label>",
    describe: DESCRIBE,
    facts: super::Facts {
        // start, phase "external": the program reports nothing while it runs.
        events_before_work: 2,
        link: false,
        source_through_vfs: false,
        // Another program: the harness's busy timeout does not reach it.
        busy_timeout: false,
        ..super::FILE_COPY_FACTS
    },
    build: || Box::new(External::new("external:unnamed")),
};

/// Runs the program of an `external:<label>` entry.
pub struct External {
    name: String,
}

impl External {
    /// `name` is the full `external:<label>`.
    pub fn new(name: &str) -> External {
        External { name: name.into() }
    }
}

impl Strategy for External {
    fn run(&self, ctx: &mut StrategyContext<'_>) -> Claim {
        let name = self.name.as_str();
        if let Err(e) = validate(name, ctx.params) {
            return Claim::Error {
                message: e.to_string(),
            };
        }
        let argv = render(&ctx.params.command, ctx.source, ctx.dest);
        let program = ctx.params.command[0].clone();
        common::phase(ctx, "external");
        // Through our own executable, which dies with this worker and then becomes the tool.
        let launcher = match crate::process::self_exe() {
            Ok(exe) => exe,
            Err(e) => return error(name, format!("locating the harness executable: {e}")),
        };
        let mut cmd = Command::new(launcher);
        cmd.args(["worker", "exec-tool", "--"])
            .args(&argv)
            .env(
                crate::process::PARENT_PID_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The worker's fault plan is for our VFS; the tool has its own SQLite (with the
            // preload shim, `Preload::arm` gives it the plan again).
            .env_remove(vfs_faults::PLAN_ENV)
            .env_remove(crate::event::SOURCE_VFS_ENV)
            .env_remove(TOOL_PRELOAD_ENV);
        let preload = match ctx.params.fault_vfs {
            FaultVfsRoute::Preload => match Preload::arm(&mut cmd, ctx) {
                Ok(p) => Some(p),
                Err(e) => return error(name, format!("preloading the fault VFS: {e}")),
            },
            FaultVfsRoute::None | FaultVfsRoute::StaticSqlite => None,
        };
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return error(name, format!("spawn `{program}`: {e}")),
        };
        let out = tail_reader(child.stdout.take().map(|s| Box::new(s) as _), false);
        let err = tail_reader(child.stderr.take().map(|s| Box::new(s) as _), true);
        let status = child.wait();
        let (out, err) = (out.finish(), err.finish());
        if !out.trim().is_empty() {
            crate::console::errln!("{name}: stdout tail: {}", out.trim());
        }
        if let (Some(p), Ok(s)) = (preload, &status) {
            if let Some(claim) = p.finish(name, *s, ctx) {
                return claim;
            }
        }
        match status {
            Ok(s) if s.success() => Claim::Success,
            Ok(s) => {
                let last = stderr_tail(&err);
                let status = crate::process::describe_status(Some(s));
                error(name, format!("`{program}` {status}: {last}"))
            }
            Err(e) => error(name, format!("wait for `{program}`: {e}")),
        }
    }
}

/// Non-empty stderr lines an error claim quotes, from the end.
const CLAIM_LINES: usize = 5;
/// Most bytes of stderr an error claim quotes (escapes included).
const CLAIM_BYTES: usize = 600;

/// The last [`CLAIM_LINES`] non-empty lines of a tool's stderr, at most [`CLAIM_BYTES`], for
/// its error claim: one line of text, each control character and backslash escaped, line
/// breaks shown as `\n`, and `…` in front when earlier text was left out. One line is often
/// just a caret (`^--- error here`) under the statement that failed.
fn stderr_tail(err: &str) -> String {
    let escape = |line: &str| -> String {
        line.trim_end()
            .chars()
            .flat_map(|c| match c {
                '\\' => "\\\\".chars().collect::<Vec<_>>(),
                '\t' => "\\t".chars().collect(),
                c if c.is_control() => c.escape_unicode().collect(),
                c => vec![c],
            })
            .collect()
    };
    let lines: Vec<String> = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(escape)
        .collect();
    if lines.is_empty() {
        return "(no stderr)".into();
    }
    let from = lines.len().saturating_sub(CLAIM_LINES);
    let mut text = lines[from..].join("\\n");
    let mut cut = from > 0;
    if text.len() > CLAIM_BYTES {
        let mut at = text.len() - CLAIM_BYTES;
        while !text.is_char_boundary(at) {
            at += 1;
        }
        text.drain(..at);
        cut = true;
    }
    if cut {
        text.insert(0, '…');
    }
    text
}

/// A thread keeping the last [`TAIL_BYTES`] of a pipe (and copying it to our stderr if `tee`).
struct TailReader {
    tail: Arc<Mutex<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn tail_reader(pipe: Option<Box<dyn Read + Send>>, tee: bool) -> TailReader {
    let tail = Arc::new(Mutex::new(Vec::new()));
    let thread = pipe.map(|mut pipe| {
        let tail = tail.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if tee {
                    let _ = std::io::stderr().write_all(&buf[..n]);
                }
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                t.extend_from_slice(&buf[..n]);
                let excess = t.len().saturating_sub(TAIL_BYTES);
                t.drain(..excess);
            }
        })
    });
    TailReader { tail, thread }
}

impl TailReader {
    /// Waits for the pipe to close and returns the tail (lossy UTF-8).
    fn finish(mut self) -> String {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let t = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&t).into_owned()
    }
}

#[cfg(test)]
mod tests {
    //! Running a tool needs the harness binary (`worker exec-tool`): see `tests/all/external.rs`.
    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_error_claim_quotes_the_last_lines_of_stderr_escaped_and_bounded() {
        let err = "Parse error near line 1: near \"SELEC\": syntax error\n  SELEC * FROM t;\n  ^--- error here\n\n";
        assert_eq!(
            stderr_tail(err),
            "Parse error near line 1: near \"SELEC\": syntax error\\n  SELEC * FROM t;\\n  ^--- error here"
        );
        assert_eq!(stderr_tail(" \n\n"), "(no stderr)");
        // Control characters and backslashes are escaped: the claim stays one line.
        assert_eq!(
            stderr_tail("a\tb\\c\u{1b}[31m\r\n"),
            "a\\tb\\\\c\\u{1b}[31m"
        );
        // At most five lines, the last ones.
        let many: String = (1..=8).map(|i| format!("line {i}\n")).collect();
        assert_eq!(
            stderr_tail(&many),
            "…line 4\\nline 5\\nline 6\\nline 7\\nline 8"
        );
        // At most CLAIM_BYTES (plus the mark), cut on a character boundary, the end kept.
        let long = "é".repeat(1000) + "\nend";
        let t = stderr_tail(&long);
        assert!(t.starts_with('…') && t.ends_with("\\nend"), "{t}");
        assert!(t.len() <= CLAIM_BYTES + '…'.len_utf8(), "{}", t.len());
    }

    #[test]
    fn render_replaces_placeholders_without_a_shell() {
        let t = strings(&[
            "sqlite3",
            "{src}",
            ".backup '{dst}'",
            "$HOME;*",
            "{src}{dst}",
        ]);
        let argv = render(&t, Path::new("/a b/s.db"), Path::new("/c d/d.db"));
        assert_eq!(
            argv,
            vec![
                os("sqlite3"),
                os("/a b/s.db"),
                os(".backup '/c d/d.db'"),
                os("$HOME;*"),
                os("/a b/s.db/c d/d.db"),
            ]
        );
    }

    #[test]
    fn names_and_validation() {
        assert_eq!(label("external:python-backup"), Some("python-backup"));
        assert_eq!(label("external:"), None);
        assert_eq!(label("external:a:b"), None);
        assert_eq!(label("api-step"), None);
        let mut p = StrategyParams::default();
        let e = validate("external:x", &p).unwrap_err().to_string();
        assert!(e.contains("external:x") && e.contains("command"), "{e}");
        p.command = strings(&["cp", "{src}", "/tmp/elsewhere"]);
        assert!(matches!(
            validate("external:x", &p),
            Err(ExternalError::NoDest { .. })
        ));
        p.command = strings(&["no-such-program-here-4711", "{dst}"]);
        let e = check_program("external:x", &p).unwrap_err().to_string();
        assert_eq!(
            e,
            "strategy external:x: program `no-such-program-here-4711` not found on PATH \
             (install it or remove the strategy)"
        );
        p.command = strings(&["sh", "{dst}"]);
        assert!(check_program("external:x", &p).is_ok());
    }

    #[test]
    fn a_version_is_the_first_line_printed_and_a_stuck_probe_leaves_nothing() {
        let argv = |script: &str| strings(&["sh", "-c", script]);
        let quick = std::time::Duration::from_secs(5);
        assert_eq!(
            probe_version(&argv("echo; echo '  tool 1.2 '; echo more"), quick),
            "tool 1.2"
        );
        assert!(probe_version(&argv("true"), quick).contains("printed nothing"));
        assert!(probe_version(&strings(&["/no/such/probe"]), quick).starts_with("? (cannot run"));
        // A child that keeps the probe's stdout open: the probe times out, and its whole
        // process group is killed (nothing left holding the marker argument).
        let started = std::time::Instant::now();
        let v = probe_version(
            &argv("echo 1.0; sleep 31.41592 & exit 0"),
            std::time::Duration::from_millis(300),
        );
        assert!(v.contains("did not answer"), "{v}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let alive = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .any(|c| String::from_utf8_lossy(&c).contains("31.41592"));
        assert!(!alive, "the probe's child outlived it");
    }
}
