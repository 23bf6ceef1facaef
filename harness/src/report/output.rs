//! Where a run's report goes: the run directory, the one writer, and the checks that make
//! an unusable `--json` / `--report-dir` / `--svg` path fail before any work is done.
//!
//! Why its own module: the report's content ([`super::Report`]) and where it lands change for
//! different reasons; every mode (storm, crash-points, fuzz, bench) uses these.

use super::RunReport;
use std::path::{Path, PathBuf};

/// The one report writer: `<base>/<scenario>-<UTC timestamp>-<pid>/report.json` and
/// `report.md` (a folder this run alone created: [`create_run_dir`]), and the JSON again at
/// `json` when given. Returns the directory's `report.json`.
pub fn write_report(
    report: &impl RunReport,
    base: &Path,
    json: Option<&Path>,
) -> std::io::Result<PathBuf> {
    let text = serde_json::to_string_pretty(report).expect("report serializes") + "\n";
    let dir = create_run_dir(base, report.scenario())?;
    let written = dir.join("report.json");
    std::fs::write(&written, &text)?;
    std::fs::write(dir.join("report.md"), report.markdown())?;
    if let Some(path) = json {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, &text)?;
    }
    Ok(written)
}

/// Why an output path given on the command line cannot be written. One line, naming the flag.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {}: {why}", path.display())]
pub struct OutputPathError {
    pub flag: String,
    pub path: PathBuf,
    pub why: String,
}

/// Checks, before a run, that its results can be written to the file `path` (given with
/// `flag`), so a long run's results are never lost to a bad path: creates the parent
/// directory, refuses a directory and a file that cannot be opened for writing, and for a new
/// file creates (and removes) a temp file beside it. Leaves nothing behind but the directory.
pub fn check_output_file(flag: &str, path: &Path) -> Result<(), OutputPathError> {
    let fail = |why: String| OutputPathError {
        flag: flag.into(),
        path: path.to_path_buf(),
        why,
    };
    if path.as_os_str().is_empty() {
        return Err(fail("an empty path".into()));
    }
    if path.is_dir() {
        return Err(fail("is a directory".into()));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    check_output_dir(flag, parent).map_err(|e| fail(e.why))?;
    if path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| fail(format!("cannot write: {e}")))?;
    }
    Ok(())
}

/// Checks, before a run, that a directory it writes into (given with `flag`) can be written:
/// creates it, then creates (and removes) a temp file in it.
pub fn check_output_dir(flag: &str, dir: &Path) -> Result<(), OutputPathError> {
    let fail = |why: String| OutputPathError {
        flag: flag.into(),
        path: dir.to_path_buf(),
        why,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the directory: {e}")))?;
    tempfile::Builder::new()
        .prefix(".harness-write-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| fail(format!("cannot write in the directory: {e}")))
}

/// Creates, under `base`, a run folder no other run shares and returns it:
/// `<scenario>-<UTC timestamp>-<pid>`, made with `create_dir` (which fails when the folder
/// exists), and `-2`, `-3`, ... after it when that name is taken. Runs started in the same
/// second (a CI matrix, a script) and a reused pid never write into one folder.
pub fn create_run_dir(base: &Path, scenario: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(base)?;
    let stem = run_dir(base, scenario);
    let pid = std::process::id();
    let mut n = 1u32;
    loop {
        let mut name = stem.as_os_str().to_owned();
        name.push(format!("-{pid}"));
        if n > 1 {
            name.push(format!("-{n}"));
        }
        let dir = PathBuf::from(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// `reports/<scenario>-<UTC timestamp>` under `base`: the stem of [`create_run_dir`]'s names.
pub fn run_dir(base: &Path, scenario: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let safe: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join(format!("{safe}-{}", utc_stamp(secs)))
}

/// `YYYYMMDD-HHMMSS` in UTC (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_are_checked_before_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("a/b/report.json");
        check_output_file("--json", &new).unwrap();
        assert!(new.parent().unwrap().is_dir(), "the directory is created");
        assert!(!new.exists(), "no file is left behind");
        assert_eq!(std::fs::read_dir(new.parent().unwrap()).unwrap().count(), 0);
        std::fs::write(&new, "old").unwrap();
        check_output_file("--json", &new).unwrap();
        assert_eq!(
            std::fs::read_to_string(&new).unwrap(),
            "old",
            "not truncated"
        );

        let e = check_output_file("--json", dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("--json {}: is a directory", dir.path().display())
        );
        let under_a_file = new.join("x.svg");
        let e = check_output_file("--svg", &under_a_file)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("--svg {}: cannot create", under_a_file.display())),
            "{e}"
        );
        check_output_dir("--report-dir", &dir.path().join("reports")).unwrap();
        assert!(dir.path().join("reports").is_dir());
        let e = check_output_dir("--report-dir", &new)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--report-dir ") && !e.contains('\n'), "{e}");
        if Path::new("/proc/self").is_dir() {
            let e = check_output_dir("--report-dir", Path::new("/proc/x"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("--report-dir /proc/x: cannot"), "{e}");
        }
    }

    #[test]
    fn run_dirs_of_one_second_never_collide() {
        let base = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..3)
            .map(|_| create_run_dir(base.path(), "a b").unwrap())
            .collect();
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 3, "{dirs:?}");
        let name = dirs[0].file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            name.starts_with("a_b-") && name.ends_with(&format!("-{}", std::process::id())),
            "{name}"
        );
        assert!(dirs.iter().all(|d| d.is_dir()));
    }

    #[test]
    fn utc_stamp_is_civil_time() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(1_795_000_000), "20261118-110640");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
    }
}
