//! What the supervisor records about each iteration: the window of source states a backup may
//! legitimately hold starts where the backup started, not at 0 (with 0, a stale snapshot taken
//! before the backup began would pass as in-window).

use crate::support::run_scenario_text;

#[test]
fn every_window_starts_after_the_warmup_commits() {
    let run = run_scenario_text(
        "seed = 2\niterations = 4\n[source]\npages = 100\n\
         [workload]\nwriters = 1\nrate = 500\nwarmup_commits = 10\n\
         [checkpointer]\nenabled = false\n[faults]\ncomplete_fraction = 1.0\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n\
         [[strategy]]\nname = \"copy-locked\"\nexpect = \"safe\"\nfaults = [\"kill-after-event\"]\n",
    );
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let r = run.report;
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
