//! The bug base: shrunk fuzz cases kept as permanent regression cases,
//! `<bugbase>/<id>/{plan.json, plan.txt, runs.log}`, replayed with `replay <id>` (the bug base
//! that ships, `reports/bugbase`) or `replay <bugbase>/<id>` (any other directory).
//!
//! A fuzz run writes its new entries under its report directory (`<report-dir>/new-bugs`) or
//! an explicit `--bugbase DIR`, never into the shipped bug base unless told to: a run must not
//! dirty the checkout. A replay reads an entry and appends to its `runs.log` only with
//! `--record`. An entry whose case runs an external program is replayed only with
//! `--allow-external` (bug bases are shared in repositories; a `plan.json` is not a script).
//!
//! Why its own module: the on-disk format and the lookup rules are a contract with the
//! `replay` command and with people reading `plan.txt`; the fuzzer only calls [`save`].

use super::case::FuzzCase;
use super::runner::CaseRunner;
use crate::explore::ExploreError;
use crate::oracle::Verdict;
use crate::stable_hash::fnv1a;
use std::path::{Path, PathBuf};

/// The bug base that ships with the repository, relative to the working directory.
pub const DEFAULT: &str = "reports/bugbase";

/// Where a fuzz run saves new entries unless told otherwise, under its report directory.
pub const NEW_BUGS: &str = "new-bugs";

/// `git rev-parse HEAD`, if git and a repository are there.
fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::report::utc_stamp(secs)
}

fn append_log(dir: &Path, outcome: &str) -> Result<(), ExploreError> {
    use std::io::Write;
    let line = format!("{} commit={} outcome={outcome}\n", now_utc(), git_commit());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runs.log"))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| ExploreError::BugBase(format!("{}: runs.log: {e}", dir.display())))
}

/// Saves a case: `<bugbase>/<id>/{plan.json, plan.txt, runs.log}`. Returns the ID.
pub fn save(bugbase: &Path, case: &FuzzCase, verdict: &Verdict) -> Result<String, ExploreError> {
    let json = serde_json::to_string_pretty(case).expect("case serializes");
    let id = format!(
        "bug-{}-{}-{:08x}",
        case.strategy.replace([':', '/'], "_"),
        verdict.kind.as_str(),
        fnv1a(json.as_bytes()) as u32
    );
    let dir = bugbase.join(&id);
    let io = |e: std::io::Error| ExploreError::BugBase(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(dir.join("plan.json"), json + "\n").map_err(io)?;
    let text = format!(
        "{}\nplan (vfs-faults):\n{}\nfound: {} ({})\n",
        case.describe(),
        serde_json::to_string_pretty(&case.plan()).expect("plan serializes"),
        verdict.kind.as_str(),
        verdict.detail
    );
    std::fs::write(dir.join("plan.txt"), text).map_err(io)?;
    append_log(&dir, &format!("found {}", verdict.kind.as_str()))?;
    Ok(id)
}

/// What to pass to `replay` for entry `id` of `bugbase`: the bare ID for the default bug base,
/// else the entry's path.
pub fn replay_arg(bugbase: &Path, id: &str) -> String {
    if bugbase == Path::new(DEFAULT) {
        id.to_string()
    } else {
        bugbase.join(id).display().to_string()
    }
}

/// The bug-base directory named by `id`: a bare `bug-…` ID under `reports/bugbase` of the
/// working directory (else of the source tree), or the path of an entry in any bug base.
pub fn entry(id: &str) -> Option<PathBuf> {
    let as_path = Path::new(id);
    let named_bug = as_path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("bug-"));
    if !named_bug {
        return None;
    }
    if as_path.components().count() > 1 {
        return as_path
            .join("plan.json")
            .exists()
            .then(|| as_path.to_path_buf());
    }
    [
        PathBuf::from(DEFAULT),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT),
    ]
    .into_iter()
    .map(|b| b.join(id))
    .find(|d| d.join("plan.json").exists())
}

/// How a bug-base entry may be replayed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayOptions {
    /// Append the outcome to the entry's `runs.log`.
    pub record: bool,
    /// Run a case whose strategy runs an external program.
    pub allow_external: bool,
}

/// The argv an entry's case would run, if its strategy runs an external program.
pub fn external_argv(case: &FuzzCase) -> Option<Vec<String>> {
    (crate::strategy::external::is_external(&case.strategy) || !case.params.command.is_empty())
        .then(|| case.params.command.clone())
}

/// Reads an entry's case.
pub fn load(dir: &Path) -> Result<FuzzCase, ExploreError> {
    let plan = dir.join("plan.json");
    let text = crate::textfile::read(&plan, crate::scenario::MAX_FILE_BYTES)
        .map_err(|e| ExploreError::BugBase(format!("{}: {e}", plan.display())))?;
    let case: FuzzCase = serde_json::from_str(&text)
        .map_err(|e| ExploreError::BugBase(format!("{}: {e}", plan.display())))?;
    case.validate().map_err(|(key, why)| {
        ExploreError::BugBase(format!("{}: key `{key}`: {why}", plan.display()))
    })?;
    Ok(case)
}

/// Replays a bug-base entry `times` times (and with `record`, appends the outcome to its
/// `runs.log`). A case that runs an external program is refused unless `allow_external`;
/// allowed, its argv is printed (stderr) before it runs.
pub fn replay_entry(
    dir: &Path,
    times: u32,
    opts: ReplayOptions,
) -> Result<serde_json::Value, ExploreError> {
    let case = load(dir)?;
    if let Some(argv) = external_argv(&case) {
        let shown = serde_json::to_string(&argv).expect("argv serializes");
        if !opts.allow_external {
            return Err(ExploreError::Refused(format!(
                "{}: its case runs an external program ({} {shown}); read plan.json, then \
                 replay with --allow-external to run it",
                dir.display(),
                case.strategy
            )));
        }
        crate::console::errln!("running external program of {}: {shown}", case.strategy);
    }
    let (kinds, out) = CaseRunner::new()?.check_times(&case, times)?;
    if opts.record {
        append_log(dir, &format!("replayed {}", kinds.join(",")))?;
    }
    Ok(serde_json::json!({
        "bug": dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        "verdict": out.verdict.kind.as_str(),
        "detail": out.verdict.detail,
        "faults_fired": out.fired,
        "claim": out.claim,
        "verdicts": kinds,
        "case": case,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_by_id_or_path() {
        assert_eq!(replay_arg(Path::new(DEFAULT), "bug-x"), "bug-x");
        assert_eq!(replay_arg(Path::new("/tmp/bb"), "bug-x"), "/tmp/bb/bug-x");
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("bug-a-corrupt-00000000");
        std::fs::create_dir_all(&e).unwrap();
        assert!(
            entry(&e.display().to_string()).is_none(),
            "no plan.json yet"
        );
        std::fs::write(e.join("plan.json"), "{}").unwrap();
        assert_eq!(entry(&e.display().to_string()), Some(e.clone()));
        assert!(entry("not-a-bug").is_none());
        assert!(entry(&dir.path().display().to_string()).is_none());
    }
}
