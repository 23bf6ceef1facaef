//! Network backups end to end: the stream strategies ship a stepped backup to a receiver
//! process; link faults, a killed receiver, a killed sender and source I/O errors leave the
//! replica untouched or a snapshot, the next backup converges, the same-connection backup never
//! restarts and re-sends changed pages, and a receiver without commit atomicity is caught.

use crate::support;

use serde_json::Value;

const SCENARIO: &str = r#"
seed = 3
iterations = 9
watchdog_ms = 8000
budget_ms = 6000
[source]
pages = 120
page_size = 4096
[workload]
writers = 1
rate = 5
max_row_bytes = 3000
warmup_commits = 3
[checkpointer]
enabled = false
[destination]
kinds = ["fresh", "existing-delete"]
[faults]
complete_fraction = 0.12
kinds = ["link-break", "link-drop", "link-stall", "receiver-kill", "kill-after-event", "source-ioerr"]

[[strategy]]
name = "stream-vfs-same-conn"
expect = "safe"
npage = 8
bandwidth_bps = 3000000
queue_bytes = 65536
writers = 0
max_restarts = 0
recover = true

[[strategy]]
name = "stream-vfs"
expect = "safe"
npage = 32
link = "tcp"
recover = true

[[strategy]]
name = "stream-vfs"
label = "no-atomicity"
expect = "unsafe"
npage = -1
receiver_apply = "immediate"
writers = 0
faults = ["receiver-kill", "link-break"]
destinations = ["existing-delete"]
complete_fraction = 0.0
"#;

fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

fn network<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["network"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["strategy"] == name)
        .unwrap_or_else(|| panic!("no network row {name}: {}", report["network"]))
}

#[test]
fn stream_backups_survive_link_and_process_faults_and_the_non_atomic_receiver_is_caught() {
    let run = support::run_scenario_text(SCENARIO);
    let r = &run.report;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    for name in ["stream-vfs-same-conn", "stream-vfs"] {
        let s = entry(r, name);
        assert_eq!(s["result"], "ok", "{s}");
        assert_eq!(s["violations"].as_array().unwrap().len(), 0, "{s}");
        // Every planned fault fired, and every iteration's next backup converged.
        for (kind, planned) in s["faults_planned"].as_object().unwrap() {
            assert_eq!(&s["faults_hit"][kind], planned, "{kind}: {s}");
        }
        assert_eq!(s["recovered"], s["iterations"], "{s}");
        let n = network(r, name);
        assert!(n["bytes_shipped"].as_u64().unwrap() > 120 * 4096, "{n}");
        assert!(n["finished"].as_u64().unwrap() >= 1, "{n}");
    }
    // Link faults really reached both strategies.
    for name in ["stream-vfs-same-conn", "stream-vfs"] {
        let hit = &entry(r, name)["faults_hit"];
        assert!(hit["link-break"].as_u64().unwrap_or(0) >= 1, "{hit}");
        assert!(hit["receiver-kill"].as_u64().unwrap_or(0) >= 1, "{hit}");
    }
    // The same-connection backup: its own commits re-send pages, none restarts it.
    let same = network(r, "stream-vfs-same-conn");
    assert_eq!(same["restarts"], 0, "{same}");
    assert!(same["pages_resent"].as_u64().unwrap() > 0, "{same}");
    assert!(same["changed_pages"].as_u64().unwrap() > 0, "{same}");
    assert!(same["resent_per_changed"].as_f64().unwrap() > 0.0, "{same}");
    assert!(same["throttled_ms"].as_u64().unwrap() > 0, "{same}");
    // Without commit atomicity, a stream cut mid-commit leaves a torn replica.
    let control = entry(r, "no-atomicity");
    assert_eq!(control["result"], "caught", "{control}");
    assert_eq!(
        control["violations"].as_array().unwrap().len() as u64,
        control["iterations"].as_u64().unwrap(),
        "{control}"
    );
    assert!(run.stdout.contains(":no-atomicity:"), "{}", run.stdout);
}

#[test]
fn bad_stream_keys_are_exit_2_naming_the_key() {
    let cases = [
        (
            SCENARIO.replace("link = \"tcp\"", "link = \"carrier-pigeon\""),
            "strategy[1].link",
        ),
        // A stream key on a strategy that ships nothing would be silently ignored.
        (
            SCENARIO.replace(
                "name = \"stream-vfs\"\nexpect",
                "name = \"api-step\"\nexpect",
            ),
            "strategy[1].link",
        ),
        (
            SCENARIO.replace("queue_bytes = 65536", "queue_bytes = 100"),
            "queue_bytes",
        ),
        // Even its default value: the key would still be ignored.
        (
            SCENARIO.replace(
                "name = \"stream-vfs\"\nexpect = \"safe\"\nnpage = 32\nlink = \"tcp\"",
                "name = \"api-step\"\nexpect = \"safe\"\nnpage = 32\nlink = \"unix\"",
            ),
            "strategy[1].link",
        ),
        // A receiver owns the database file only.
        (
            SCENARIO.replace(
                "kinds = [\"fresh\", \"existing-delete\"]",
                "kinds = [\"existing-wal\"]",
            ),
            "destinations",
        ),
        // A full queue that drains slower than the watchdog turns a slow link into a stall.
        (
            SCENARIO.replace("bandwidth_bps = 3000000", "bandwidth_bps = 10000"),
            "strategy[0].bandwidth_bps",
        ),
    ];
    for (text, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
            .arg("scenario")
            .arg(&path)
            .arg("--report-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn no_receiver_outlives_a_supervisor_killed_mid_backup() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let path = dir.path().join("slow.toml");
    // Backups of half a second (0.5 MB at 1 MB/s), so a receiver is running when the kill comes.
    std::fs::write(
        &path,
        "iterations = 50\nwatchdog_ms = 8000\nbudget_ms = 6000\n[source]\npages = 120\n\
         [workload]\nwriters = 0\nwarmup_commits = 0\n[checkpointer]\nenabled = false\n\
         [destination]\nkinds = [\"fresh\"]\n[faults]\ncomplete_fraction = 1.0\n\
         kinds = [\"link-break\"]\n\
         [[strategy]]\nname = \"stream-vfs-same-conn\"\nexpect = \"safe\"\nnpage = 8\n\
         bandwidth_bps = 1000000\nqueue_bytes = 65536\n",
    )
    .unwrap();
    let mut supervisor = std::process::Command::new(env!("CARGO_BIN_EXE_sqlite-backup-harness"))
        .arg("scenario")
        .arg(&path)
        .arg("--report-dir")
        .arg(dir.path())
        .env("HARNESS_TMPDIR", &tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let needle = tmp.to_string_lossy().into_owned();
    let receivers = || {
        support::processes_mentioning("stream-receiver")
            .into_iter()
            .filter(|c| c.contains(&needle))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while receivers() == 0 {
        assert!(Instant::now() < deadline, "no receiver started");
        std::thread::sleep(Duration::from_millis(10));
    }
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !support::processes_mentioning(&needle).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running: {:?}",
            support::processes_mentioning(&needle)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
