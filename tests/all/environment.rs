//! A machine that cannot run the scenario is refused with exit 2 and one line, never
//! reported as strategy results: writers that cannot commit (here: a file size limit, as a
//! full disk would). The free-space check before a run is unit-tested in `run`.

use crate::support::run_scenario_text_under;

const SCENARIO: &str = "seed = 1\niterations = 5\n[source]\npages = 100\n\
    [workload]\nwriters = 2\nmax_row_bytes = 60000\n\
    [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\nnpage = 5\nsleep_ms = 20\n";

#[test]
fn writers_that_cannot_commit_stop_the_run_with_exit_2_and_a_partial_report() {
    // RLIMIT_FSIZE (3 MiB): the writers' WAL outgrows it and the kernel stops them
    // (SIGXFSZ), as a full disk stops them with SQLITE_FULL.
    let run = run_scenario_text_under(
        &["bash", "-c", r#"ulimit -f 3072; exec "$0" "$@""#],
        SCENARIO,
    );
    let (stderr, report) = (run.stderr, run.report);
    assert_eq!(run.code, Some(2), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains(" stopped on its own (signal 25)"),
        "{stderr}"
    );
    assert!(
        report["error"].as_str().unwrap().contains("environment"),
        "{report}"
    );
}
