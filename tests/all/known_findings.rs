//! Known findings: a declared violation must keep reproducing and does not fail its strategy;
//! one that stops reproducing, or names a point that does not exist, fails the run.

use std::process::Command;

/// Runs a 5-point crash-points sample of api-oneshot on a WAL destination with `known`.
fn crash_points_with_known(known: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known.toml");
    let list: Vec<String> = known.iter().map(|k| format!("\"{k}\"")).collect();
    std::fs::write(
        &path,
        format!(
            "mode = \"crash-points\"\nseed = 1\nknown = [{}]\n\
             [source]\npages = 256\n[workload]\nddl = false\n\
             [crash]\ndestinations = [\"existing-wal\"]\n\
             [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
            list.join(", ")
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&path)
        .args(["--sample", "5", "--report-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const BUSY: &str = "crash:known:1:api-oneshot:existing-wal:913:busy";

#[test]
fn a_known_finding_that_reproduces_passes_and_is_sampled_in() {
    let (code, out) = crash_points_with_known(&[BUSY]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok (known finding)"), "{out}");
    // Without the declaration the same violation fails the safe strategy.
    let (code, out) = crash_points_with_known(&[]);
    assert_eq!(
        code, 0,
        "a 5-point sample without the known point finds nothing: {out}"
    );
}

#[test]
fn a_known_finding_that_does_not_reproduce_fails() {
    // The same operation with another fault kind is tested (sampled in) and is no violation.
    let (code, out) =
        crash_points_with_known(&["crash:known:1:api-oneshot:existing-wal:913:kill-after"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("KNOWN FINDING LOST"), "{out}");
}

#[test]
fn a_known_finding_that_does_not_exist_fails() {
    let (code, out) =
        crash_points_with_known(&[BUSY, "crash:known:1:api-oneshot:existing-wal:99999:busy"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("known finding not checked"), "{out}");
}
