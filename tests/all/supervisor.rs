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

/// A supervisor kill planned after the backup's claim interrupts nothing: it is not a hit,
/// and a strategy whose only planned kill came too late is `untested`, not `ok` (exit 1).
#[test]
fn a_kill_after_the_claim_is_not_a_hit() {
    let run = run_scenario_text(
        "seed = 1\niterations = 2\nwatchdog_ms = 3000\nbudget_ms = 2500\n\
         [source]\npages = 50\n[workload]\nwriters = 1\nwarmup_commits = 5\n\
         [checkpointer]\ninterval_ms = 20\n[destination]\nkinds = [\"fresh\", \"existing-delete\"]\n\
         [faults]\ncomplete_fraction = 0.5\nkinds = [\"kill-delay\"]\n\
         delay_min_ms = 1500\ndelay_max_ms = 1500\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n",
    );
    let r = &run.report;
    let faulted: Vec<_> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|it| !it["fault"].is_null())
        .collect();
    assert_eq!(faulted.len(), 1, "{r}");
    let it = faulted[0];
    assert!(
        it["claim"].is_object(),
        "the backup claimed before the kill: {it}"
    );
    assert_eq!(it["fault_hit"], false, "{it}");
    let s = &r["strategies"][0];
    assert_eq!(s["faults_planned"]["kill-delay"], 1, "{s}");
    assert!(s["faults_hit"]["kill-delay"].is_null(), "{s}");
    assert_eq!(s["result"], "untested", "{s}");
    assert_eq!(run.code, Some(1), "{}", run.stdout);
}
