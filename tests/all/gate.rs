//! The CI gate end to end on a tiny deterministic matrix: it passes on the pinned answers,
//! fails when an answer is flipped or a known finding does not exist, and three shards merged
//! give the same verdicts as one unsharded run.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gate")
        .join(name)
}

fn harness(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(args)
        .env_remove("CI")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn results(json: &Path) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let mut out: Vec<(String, String)> = v["run"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                format!("{}:{}:{}", u["scenario"], u["seed"], u["strategy"]),
                u["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn gate_passes_fails_on_flips_and_shards_merge_to_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let config = fixture("gate.toml").display().to_string();
    let baseline = fixture("baseline.toml").display().to_string();

    let (code, out) = harness(&[
        "gate",
        "--config",
        &config,
        "--baseline",
        &baseline,
        "--json",
        &p("full.json"),
        "--junit",
        &p("full.xml"),
        "--md",
        &p("full.md"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("gate [1/6]"),
        "progress lines on stderr: {out}"
    );
    let full = results(Path::new(&p("full.json")));
    assert_eq!(full.len(), 6);
    let junit = std::fs::read_to_string(p("full.xml")).unwrap();
    assert!(junit.matches("<testcase").count() >= 7, "{junit}");

    for k in 1..=3 {
        let (code, out) = harness(&[
            "gate",
            "--config",
            &config,
            "--baseline",
            &baseline,
            "--shard",
            &format!("{k}/3"),
            "--json",
            &p(&format!("s{k}.json")),
        ]);
        assert_eq!(code, 0, "shard {k}: {out}");
    }
    let (code, out) = harness(&[
        "report",
        "merge",
        &p("s1.json"),
        &p("s2.json"),
        &p("s3.json"),
        "--baseline",
        &baseline,
        "--json",
        &p("merged.json"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(results(Path::new(&p("merged.json"))), full);
    // A missing shard is a baseline entry that did not run.
    let (code, out) = harness(&[
        "report",
        "merge",
        &p("s1.json"),
        &p("s2.json"),
        "--baseline",
        &baseline,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("did not run"), "{out}");

    // Each flip of a pinned answer fails the gate, with one line saying what changed.
    let text = std::fs::read_to_string(&baseline).unwrap();
    for (flip, expect_line) in [
        (
            text.replace(
                "\"api-early-finish\" = \"unsafe\"",
                "\"api-early-finish\" = \"safe\"",
            ),
            "safe, but violated",
        ),
        (
            text.replace("\"api-oneshot\" = \"safe\"", "\"api-oneshot\" = \"unsafe\""),
            "not caught",
        ),
        (
            format!("{text}known = [\"mini-storm:1:api-oneshot:1\"]\n"),
            "known finding did not reproduce",
        ),
    ] {
        let b = p("flipped.toml");
        std::fs::write(&b, flip).unwrap();
        let (code, out) = harness(&["report", "merge", &p("full.json"), "--baseline", &b]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(expect_line), "{expect_line}: {out}");
    }
    // --update-baseline is refused under CI.
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args([
            "gate",
            "--config",
            &config,
            "--baseline",
            &p("new.toml"),
            "--update-baseline",
        ])
        .env("CI", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A 1 MiB tmpfs, unmounted (and its mount point removed) when dropped.
struct TinyMount(tempfile::TempDir);

impl Drop for TinyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// On a scratch file system too small for its scenarios the gate exits 2 ("could not run
/// here"), not 1 ("regressed"), and still writes its JSON. Needs root for the tmpfs mount
/// (CI runs as root); elsewhere it says so and checks nothing.
#[test]
fn a_scratch_disk_too_small_is_exit_2_not_a_regression() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: no tmpfs mount, nothing checked");
        return;
    }
    let mount = TinyMount(tempfile::tempdir().unwrap());
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mount.0.path())
        .status()
        .unwrap();
    assert!(ok.success(), "mount a tmpfs");
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("gate.json");
    let o = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .args(["gate", "--config"])
        .arg(fixture("gate.toml"))
        .arg("--baseline")
        .arg(fixture("baseline.toml"))
        .arg("--json")
        .arg(&json)
        .env("HARNESS_TMPDIR", mount.0.path())
        .env_remove("CI")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("gate could not run here: 6 unit(s)") && last.contains("HARNESS_TMPDIR"),
        "{last}"
    );
    let r = results(&json);
    assert!(
        r.iter().all(|(_, res)| res == "could-not-run-here"),
        "{r:?}"
    );
}
