//! Unit tests of bad scenario input: keys that would have no effect, errors that must name
//! the entry and line as written, values too large for the harness, files that are not files.

use super::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, Path::new("scenarios/t.toml"))
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("x.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // Opening it would block this test forever (no writer): refused from its metadata.
    let err = Scenario::load(fifo.to_str().unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("not a regular file (a FIFO)"),
        "{err}"
    );
}

/// A storm scenario with one entry per strategy named, and `extra` appended to the top
/// level (before the entries) and `entry` to the entry of `names[0]`.
fn with_keys(top: &str, names: &[&str], entry: &str) -> String {
    let mut t =
        format!("iterations = 1\n{top}\n[destination]\nkinds = [\"fresh\", \"existing-delete\"]\n");
    for (i, n) in names.iter().enumerate() {
        t.push_str(&format!("[[strategy]]\nname = \"{n}\"\nexpect = \"any\"\n"));
        if i == 0 {
            t.push_str(entry);
            t.push('\n');
        }
    }
    t
}

#[test]
fn keys_that_would_have_no_effect_are_refused_with_line_and_why() {
    let fresh_only = "[destination]\nkinds = [\"fresh\"]\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            with_keys("known = [\"t:1:api-stepp:0\"]", &["api-step"], ""),
            "known[0]",
            "no entry of this scenario",
        ),
        (
            format!(
                "iterations = 1\n{fresh_only}page_size = 1024\n[[strategy]]\nname = \"api-step\"\nexpect = \"any\"\n"
            ),
            "destination.page_size",
            "fresh",
        ),
        (
            format!(
                "iterations = 1\n{fresh_only}setup_sql = [\"CREATE TABLE t(x)\"]\n[[strategy]]\nname = \"api-step\"\nexpect = \"any\"\n"
            ),
            "destination.setup_sql",
            "fresh",
        ),
        (
            with_keys("[app]\norder = \"wrong\"", &["api-step"], ""),
            "app.order",
            "workers` is 0",
        ),
        (
            with_keys("[faults]\nkinds = [\"kill-after-event\"]\ndelay_max_ms = 9", &["api-step"], ""),
            "faults.delay_max_ms",
            "kill-delay",
        ),
        (
            with_keys(
                "[faults]\nkinds = [\"kill-after-event\"]\npower_cut_metadata = \"independent\"",
                &["api-step"],
                "",
            ),
            "faults.power_cut_metadata",
            "power-cut",
        ),
        (
            with_keys("", &["api-oneshot"], "npage = 7"),
            "strategy[0].npage",
            "api-oneshot does not call sqlite3_backup_step in steps",
        ),
        (
            with_keys("[faults]\nkinds = [\"kill-after-event\"]", &["copy-naive"], "sleep_ms = 50"),
            "strategy[0].sleep_ms",
            "copy-naive",
        ),
        (
            with_keys("[faults]\nkinds = [\"kill-after-event\"]", &["copy-naive"], "busy_timeout_ms = 1"),
            "strategy[0].busy_timeout_ms",
            "no busy timeout",
        ),
        (
            with_keys("[faults]\nkinds = [\"kill-after-event\"]", &["copy-naive"], "dest_synchronous = \"off\""),
            "strategy[0].dest_synchronous",
            "copy-naive",
        ),
        (
            with_keys("[faults]\nkinds = [\"kill-after-event\"]", &["copy-naive"], "dest_journal_mode = \"off\""),
            "strategy[0].dest_journal_mode",
            "copy-naive",
        ),
        (
            with_keys("[faults]\nkinds = [\"kill-after-event\"]", &["copy-naive"], "max_restarts = 0"),
            "strategy[0].max_restarts",
            "no restarts to count",
        ),
        (
            with_keys("", &["api-step"], "caught_as = [\"torn\"]"),
            "strategy[0].caught_as",
            "expects `any`",
        ),
        (
            with_keys("", &["api-step"], "unsafe_variants = [\"journal=off\"]"),
            "strategy[0].unsafe_variants",
            "matrix",
        ),
        (
            with_keys("[faults]\nkinds = [\"kill-after-event\"]", &["api-step"], "delay_max_ms = 9"),
            "strategy[0].delay_max_ms",
            "kill-delay",
        ),
        (
            with_keys("sql_timeout_ms = 500", &["api-step"], ""),
            "sql_timeout_ms",
            "no SQL of its own",
        ),
        (
            with_keys("", &["api-step"], "app_order = \"wrong\""),
            "strategy[0].app_order",
            "workers` is 0",
        ),
        (
            with_keys(
                "",
                &["api-step"],
                "destinations = [\"fresh\"]\n[strategy.destination]\nsetup_sql = [\"SELECT 1\"]",
            ),
            "strategy[0].destination.setup_sql",
            "fresh",
        ),
    ];
    for (text, key, why) in cases {
        let err = parse(&text).unwrap_err().to_string();
        let line = text
            .lines()
            .position(|l| {
                let k = key.rsplit('.').next().unwrap().split('[').next().unwrap();
                l.split_once('=').is_some_and(|(lk, _)| lk.trim() == k)
            })
            .map(|at| at + 1)
            .unwrap();
        assert!(
            err.starts_with(&format!(
                "scenarios/t.toml:{line}: key `{key}`: has no effect"
            )),
            "{key}: {err}\n{text}"
        );
        assert!(err.contains(why), "{key}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    // The same keys where they do have an effect load.
    for ok in [
        with_keys("known = [\"t:1:api-step:0\"]", &["api-step"], ""),
        with_keys(
            "",
            &["api-step"],
            "npage = 7\nsleep_ms = 1\nmax_restarts = 3",
        ),
        with_keys(
            "",
            &["api-step"],
            "[strategy.destination]\npage_size = 1024",
        ),
        with_keys(
            "[faults]\nkinds = [\"power-cut\"]\npower_cut_metadata = \"independent\"",
            &["api-step"],
            "",
        ),
        with_keys("", &["api-journal-off"], "dest_synchronous = \"extra\""),
        with_keys("", &["vacuum-into"], "busy_timeout_ms = 10"),
    ] {
        parse(&ok).unwrap_or_else(|e| panic!("{e}\n{ok}"));
    }
}

#[test]
fn errors_name_the_entry_and_line_as_written_after_a_matrix_too() {
    // A value that does not parse, in the second entry.
    let text = "iterations = 1\n[[strategy]]\nname = \"api-step\"\nnpage = 10\nexpect = \"safe\"\n\
                [[strategy]]\nname = \"api-oneshot\"\nnpage = 18446744073709551616\nexpect = \"safe\"\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(
        err.starts_with("scenarios/t.toml:8: key `strategy[1].npage`"),
        "{err}"
    );
    // A validation error in the entry after a matrix of four cells.
    let text = "iterations = 1\n[destination]\nkinds = [\"existing-delete\"]\n\
                [[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
                [strategy.matrix]\njournal_mode = [\"delete\", \"wal\"]\nsynchronous = [\"full\", \"extra\"]\n\
                [[strategy]]\nname = \"api-stepp\"\nexpect = \"safe\"\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(
        err.starts_with("scenarios/t.toml:11: key `strategy[1].name`"),
        "{err}"
    );
    // A bad value inside the second entry's matrix.
    let text = "iterations = 1\n[[strategy]]\nname = \"api-step\"\nexpect = \"safe\"\n\
                [strategy.matrix]\njournal_mode = [\"wal\"]\n\
                [[strategy]]\nname = \"api-step\"\nlabel = \"b\"\nexpect = \"safe\"\n\
                [strategy.matrix]\njournal_mode = [\"sideways\"]\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(
        err.starts_with("scenarios/t.toml:12: key `strategy[1].matrix.journal_mode`"),
        "{err}"
    );
}

#[test]
fn a_sync_wait_too_long_for_a_duration_is_refused_not_a_panic_or_a_wrap() {
    let stream = |queue: u64| {
        format!(
            "iterations = 1\n[faults]\nkinds = [\"link-break\"]\n[[strategy]]\nname = \
             \"stream-vfs\"\nexpect = \"safe\"\nbandwidth_bps = 1\nqueue_bytes = {queue}\n"
        )
    };
    // 2 × 9.2e18 s overflows a Duration (it panicked); 2 × 4.6e18 s fits one, and its
    // milliseconds wrapped to 1000 in a u64 (it was accepted).
    for queue in [9_223_372_036_854_775_807u64, 4_611_686_018_427_387_904] {
        let err = std::panic::catch_unwind(|| parse(&stream(queue)))
            .unwrap_or_else(|_| panic!("queue_bytes {queue}: a panic"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("scenarios/t.toml:7: key `strategy[0].bandwidth_bps`"),
            "{queue}: {err}"
        );
        assert!(err.contains("more than watchdog_ms 3000"), "{err}");
    }
    assert!(crate::stream::session::ack_timeout(1, u64::MAX).is_none());
    // A wait under the watchdog loads.
    parse(&stream(65536).replace("bandwidth_bps = 1\n", "bandwidth_bps = 1000000\n")).unwrap();
}
