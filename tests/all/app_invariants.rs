//! An application's invariants: the right commit order keeps them on the source and on every
//! snapshot; the wrong order (a file recorded before its blocks) is caught as `invariant`.

use crate::support::run_scenario_text;

#[test]
fn the_wrong_commit_order_is_caught_and_the_right_one_passes() {
    let run = run_scenario_text(
        "seed = 5\niterations = 6\n\
         [source]\npages = 100\n[workload]\nwriters = 1\nrate = 200\nwarmup_commits = 2\n\
         [checkpointer]\nenabled = false\n[destination]\nkinds = [\"fresh\"]\n\
         [faults]\ncomplete_fraction = 0.5\nkinds = [\"kill-dest-op\"]\n\
         [app]\nworkers = 2\nstage_ms = 2\ninvariants = [\n\
         { name = \"every block a file references exists\", sql = \"SELECT fb.hash FROM app_file_blocks fb WHERE NOT EXISTS (SELECT 1 FROM app_blocks b WHERE b.hash = fb.hash)\" },\n]\n\
         [[strategy]]\nname = \"api-oneshot\"\nexpect = \"safe\"\n\
         [[strategy]]\nname = \"api-oneshot\"\nlabel = \"wrong\"\nexpect = \"unsafe\"\n\
         caught_as = [\"invariant\"]\napp_order = \"wrong\"\n",
    );
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let r = run.report;
    let right = &r["strategies"][0];
    let wrong = &r["strategies"][1];
    assert_eq!(right["verdicts"]["invariant"], 0, "{right}");
    // The app's tables are out of the digest: the right order's snapshots are snapshots.
    assert!(
        right["verdicts"]["snapshot"].as_u64().unwrap() > 0,
        "{right}"
    );
    assert!(
        wrong["verdicts"]["invariant"].as_u64().unwrap() > 0,
        "{wrong}"
    );
    assert_eq!(wrong["result"], "caught", "{wrong}");
}
