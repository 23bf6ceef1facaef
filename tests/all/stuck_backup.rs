//! Stuck backups: the watchdog stops a backup held back by a lock and says what held it (the
//! blocker's lock, read from the kernel), and the next backup onto the destination as the
//! iteration left it (a hot journal included) must succeed.

use crate::support::run_scenario_text;

fn run_storm(entries: &str) -> (i32, serde_json::Value, String) {
    let run = run_scenario_text(&format!(
        "seed = 3\niterations = 1\nwatchdog_ms = 800\nbudget_ms = 1500\n\
         [source]\npages = 200\n[workload]\nwriters = 1\nrate = 200\nwarmup_commits = 2\n\
         [checkpointer]\nenabled = false\n[destination]\nkinds = [\"existing-delete\"]\n\
         [faults]\ncomplete_fraction = 1.0\n{entries}"
    ));
    (run.code.unwrap_or(-1), run.report, run.stdout)
}

#[test]
fn a_backup_behind_a_write_transaction_stalls_names_the_lock_and_recovers() {
    let (code, r, out) = run_storm(
        "[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nnpage = 50\n\
         busy_timeout_ms = 600000\nblocker = \"dest-write\"\nstalls = true\nrecover = true\n",
    );
    assert_eq!(code, 0, "{out}");
    let it = &r["results"][0];
    assert_eq!(it["verdict"]["kind"], "stall", "{it}");
    let stall = &it["stall"];
    let locks: Vec<String> = stall["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert!(
        locks
            .iter()
            .any(|l| l == "blocker: dest.db RESERVED+SHARED"),
        "{locks:?}"
    );
    // The last progress event is the BUSY step, and the VFS was sampled.
    assert_eq!(stall["last_progress"]["rc"], 5, "{stall}");
    assert!(stall["last_vfs_op"].as_str().is_some(), "{stall}");
    assert!(stall["after_ms"].as_u64().unwrap() < 3000, "{stall}");
    assert_eq!(it["recovery"]["ok"], true, "{it}");
    assert_eq!(r["strategies"][0]["recovered"], 1);
}

#[test]
fn a_killed_backup_leaves_a_hot_journal_that_the_next_backup_meets() {
    let (code, r, out) = run_storm(
        "[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nnpage = 50\n\
         faults = [\"kill-dest-write\"]\ncomplete_fraction = 0.0\nrecover = true\n",
    );
    assert_eq!(code, 0, "{out}");
    let it = &r["results"][0];
    assert_eq!(it["fault_hit"], true, "{it}");
    let left = it["recovery"]["leftovers"].to_string();
    assert!(left.contains("dest.db-journal"), "{left}");
    assert_eq!(it["recovery"]["ok"], true, "{it}");
}

#[test]
fn an_entry_declared_stuck_that_finishes_is_untested() {
    let (code, r, out) = run_storm(
        "[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nnpage = 50\nstalls = true\n",
    );
    assert_eq!(code, 1, "{out}");
    let why = r["strategies"][0]["untested_because"].to_string();
    assert!(why.contains("none of its 1 iterations stalled"), "{why}");
}
