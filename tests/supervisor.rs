//! What the supervisor records about each iteration: the window of source states a backup may
//! legitimately hold starts where the backup started, not at 0 (with 0, a stale snapshot taken
//! before the backup began would pass as in-window).

use std::process::Command;

#[test]
fn every_window_starts_after_the_warmup_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(
        &path,
        "seed = 2\niterations = 4\n[source]\npages = 100\n\
         [workload]\nwriters = 1\nrate = 500\nwarmup_commits = 10\n\
         [checkpointer]\nenabled = false\n[faults]\ncomplete_fraction = 1.0\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\nnpage = -1\n\
         [[strategy]]\nname = \"copy-locked\"\nexpect = \"safe\"\nfaults = [\"kill-after-event\"]\n",
    )
    .unwrap();
    let json = dir.path().join("r.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&path)
        .arg("--report-dir")
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    for it in results {
        let (start, end) = (
            it["window"]["k_start"].as_u64().unwrap(),
            it["window"]["k_end"].as_u64().unwrap(),
        );
        assert!(start >= 10 && start <= end, "{it}");
        // A snapshot's k lies in the window.
        if let Some(k) = it["verdict"]["k"].as_u64() {
            assert!(start <= k && k <= end, "{it}");
        }
    }
}
