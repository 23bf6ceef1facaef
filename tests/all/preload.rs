//! The preload shim end to end: unmodified programs (the sqlite3 shell, Python's
//! `sqlite3.Connection.backup`) get a power cut and a kill at an exact operation of their
//! destination through `fault_vfs = "preload"`, and the oracle judges what they leave.
//!
//! The shim is built here, from `vfs-preload/` (its own Cargo project, outside the
//! workspace: it links the system libsqlite3), with the same command as
//! `ci/install-tools.sh`, into `vfs-preload/target` (about 20 s the first time, then cached),
//! and copied into a tools prefix under this test's target dir (`$HARNESS_TOOLS/lib`). A
//! shim that does not build, does not load, or does not read its plan fails these tests: a
//! planned fault that never fired tested nothing.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The tools prefix holding the freshly built shim in `lib/`.
fn tools_with_shim() -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = root.join("vfs-preload/Cargo.toml");
        let target = root.join("vfs-preload/target");
        let out = Command::new(env!("CARGO"))
            .args(["build", "--release", "--locked", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("run cargo");
        assert!(
            out.status.success(),
            "building the preload shim failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tools = Path::new(env!("CARGO_TARGET_TMPDIR")).join("preload-tools");
        std::fs::create_dir_all(tools.join("lib")).unwrap();
        let file = harness::strategy::external::PRELOAD_SHIM_FILE;
        std::fs::copy(
            target.join("release").join(file),
            tools.join("lib").join(file),
        )
        .unwrap();
        tools
    })
}

fn have(program: &str) -> bool {
    harness::strategy::external::find_program(program).is_some()
}

/// Both programs, each faulted in 4 of 6 iterations (2 power cuts, 2 kills at an operation,
/// on fresh and existing destinations), judged by the oracle.
#[test]
fn unmodified_programs_get_power_cuts_and_kills_at_their_own_operations() {
    assert!(
        have("sqlite3") && have("python3"),
        "the sqlite3 shell and python3 are on every machine here (apt-get install sqlite3)"
    );
    let tools = tools_with_shim();
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tools/python_backup.py");
    let text = format!(
        "iterations = 6\nwatchdog_ms = 5000\nbudget_ms = 5000\n\
         [source]\npages = 120\n[workload]\nwriters = 1\nrate = 200\nwarmup_commits = 3\n\
         [checkpointer]\nenabled = false\n\
         [destination]\nkinds = [\"fresh\", \"existing-delete\", \"existing-wal\"]\n\
         [faults]\ncomplete_fraction = 0.34\nkinds = [\"power-cut\", \"kill-dest-op\"]\n\
         [[strategy]]\nname = \"external:cli-preload\"\nexpect = \"safe\"\nfault_vfs = \"preload\"\n\
         command = [\"sqlite3\", \"-bail\", \"-readonly\", \"{{src}}\", '.backup \"{{dst}}\"']\n\
         [[strategy]]\nname = \"external:python-preload\"\nexpect = \"safe\"\nfault_vfs = \"preload\"\n\
         command = [\"python3\", \"{}\", \"-1\", \"{{src}}\", \"{{dst}}\"]\n",
        python.display()
    );
    let tools_env = format!("HARNESS_TOOLS={}", tools.display());
    let run = support::run_scenario_text_under(&["env", &tools_env], &text);
    let r = &run.report;
    assert_eq!(
        run.code,
        Some(0),
        "the oracle must find both safe: {}\n{}",
        run.stdout,
        run.stderr
    );
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 12);
    let mut faulted = 0;
    for it in results {
        let id = format!("{} #{}", it["strategy"], it["iteration"]);
        let Some(kind) = it["kind"].as_str() else {
            // Not faulted: the tool ran to the end and claimed success.
            assert_eq!(it["claim"]["outcome"], "success", "{id}: {it}");
            assert_eq!(it["fired"].as_array().unwrap().len(), 0, "{id}");
            continue;
        };
        faulted += 1;
        // The fault fired inside the tool, at exactly the planned occurrence of the planned
        // destination operation, and ended it without a claim (the worker mirrors its death).
        assert_eq!(it["fault_hit"], true, "{id}: never fired: {it}");
        let site = &it["fault"]["placement"]["site"];
        let fired = it["fired"][0].as_str().unwrap();
        assert!(
            fired.contains(&format!(
                "(op {} on {}, occurrence {}, in the tool",
                site["op"].as_str().unwrap(),
                site["file"].as_str().unwrap(),
                site["nth"]
            )),
            "{id}: {fired} is not {site}"
        );
        assert!(it["claim"].is_null(), "{id}: claimed {}", it["claim"]);
        let exit = it["exit"].as_str().unwrap();
        match kind {
            "power-cut" => assert_eq!(exit, "exit 86", "{id}"),
            "kill-dest-op" => assert_eq!(exit, "signal 9", "{id}"),
            other => panic!("{id}: {other}"),
        }
    }
    assert_eq!(faulted, 8, "complete_fraction 0.34 of 6 iterations, twice");
    for s in r["strategies"].as_array().unwrap() {
        let hit = &s["faults_hit"];
        assert_eq!(
            (hit["power-cut"].as_u64(), hit["kill-dest-op"].as_u64()),
            (Some(2), Some(2)),
            "{}: {hit}",
            s["name"]
        );
    }
    // The tool table says which faults could reach them, and how many ended them early.
    for t in r["tools"].as_array().unwrap() {
        assert_eq!(t["fault_vfs"], "preload", "{t}");
        assert!(
            t["faults_reach"].as_str().unwrap().contains("preload shim"),
            "{t}"
        );
        assert_eq!(
            (
                t["kills_planned"].as_u64(),
                t["kills_before_claim"].as_u64()
            ),
            (Some(4), Some(4)),
            "{t}"
        );
    }
}

/// The shim as a program sees it: no plan, no effect; a plan it cannot read stops the program
/// with its own exit status and one line naming the variable (never an unarmed run); a plan
/// reaches the program's own destination I/O, and the events file says what fired, in which
/// SQLite.
#[test]
fn the_shim_arms_the_programs_own_sqlite_from_its_environment() {
    if !have("sqlite3") {
        panic!("the sqlite3 shell is on every machine here (apt-get install sqlite3)");
    }
    let shim = tools_with_shim()
        .join("lib")
        .join(harness::strategy::external::PRELOAD_SHIM_FILE);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let sqlite3 = |env: &[(&str, String)], sql: &str| {
        let mut c = Command::new("sqlite3");
        c.arg(&db).arg(sql).env("LD_PRELOAD", &shim);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = sqlite3(
        &[],
        "CREATE TABLE t(x); INSERT INTO t VALUES (1); SELECT count(*) FROM t;",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

    let out = sqlite3(
        &[(vfs_faults::PLAN_ENV, "{\"rules\": 3}".into())],
        "SELECT 1",
    );
    assert_eq!(
        out.status.code(),
        Some(vfs_faults::preload::SETUP_FAILED_EXIT_CODE),
        "{out:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(vfs_faults::PLAN_ENV) && err.contains("not running unarmed"),
        "{err}"
    );

    // A power cut at the first write of the database file: the insert never lands.
    let events = dir.path().join("events.jsonl");
    let plan = r#"{"seed": 5, "rules": [{"name": "cut",
        "select": {"ops": ["write"], "file": "main-db", "role": "db", "when": {"nth": 1}},
        "action": {"kind": "power-cut", "unsynced": "revert"}}]}"#;
    let roles = format!(r#"[{{"path": "{}", "role": "db"}}]"#, db.display());
    let out = sqlite3(
        &[
            (vfs_faults::PLAN_ENV, plan.into()),
            (vfs_faults::preload::ROLES_ENV, roles),
            (
                vfs_faults::preload::EVENTS_ENV,
                events.display().to_string(),
            ),
        ],
        "INSERT INTO t VALUES (2);",
    );
    assert_eq!(
        out.status.code(),
        Some(vfs_faults::POWER_CUT_EXIT_CODE),
        "{out:?}"
    );
    let evs =
        vfs_faults::preload::PreloadEvent::parse_lines(&std::fs::read_to_string(&events).unwrap());
    let sqlite_of_the_program = String::from_utf8_lossy(
        &Command::new("sqlite3")
            .arg(":memory:")
            .arg("SELECT sqlite_version()")
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    use vfs_faults::preload::PreloadEvent;
    assert!(
        matches!(&evs[..], [PreloadEvent::Armed { sqlite, rules: 1, .. },
                            PreloadEvent::Fired { action, fired, .. }]
            if *sqlite == sqlite_of_the_program && action == "power-cut" && fired.occurrence == 1),
        "{evs:?}"
    );
    let out = sqlite3(&[], "SELECT count(*) FROM t; PRAGMA integrity_check;");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1\nok",
        "{out:?}"
    );
}

/// The shim writes nothing to the program's stdout and leaves its configuration alone: the
/// sqlite3 shell configures SQLite before its first open, so a shim that registered its VFS
/// at load time (initializing SQLite) would make it print a warning per `sqlite3_config`.
#[test]
fn the_shim_leaves_the_programs_stdout_and_configuration_alone() {
    assert!(have("sqlite3"), "apt-get install sqlite3");
    let shim = tools_with_shim()
        .join("lib")
        .join(harness::strategy::external::PRELOAD_SHIM_FILE);
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let out = Command::new("sqlite3")
        .args([":memory:", "select 1"])
        .env("LD_PRELOAD", &shim)
        .env(vfs_faults::PLAN_ENV, r#"{"seed": 1, "rules": []}"#)
        .env(vfs_faults::preload::EVENTS_ENV, &events)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n", "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{out:?}");
    let evs =
        vfs_faults::preload::PreloadEvent::parse_lines(&std::fs::read_to_string(&events).unwrap());
    assert!(
        matches!(
            &evs[..],
            [vfs_faults::preload::PreloadEvent::Armed { rules: 0, .. }]
        ),
        "{evs:?}"
    );
}

/// A restore through a pipe, `sqlite3 src .dump | sqlite3 dst`: both ends are preloaded, the
/// second one writes the destination and gets the planned power cuts and kills at its own
/// destination operations. The dump is one transaction (`BEGIN TRANSACTION; ... COMMIT;`)
/// into a fresh destination, so an interrupted restore rolls back: the oracle must find it
/// safe, with every planned fault fired.
#[test]
fn a_dump_piped_into_a_restore_gets_every_planned_fault_and_is_safe() {
    assert!(have("sqlite3") && have("sh"), "apt-get install sqlite3");
    let tools = tools_with_shim();
    let text = "iterations = 6\nwatchdog_ms = 5000\nbudget_ms = 5000\n\
         [source]\npages = 60\n[workload]\nwriters = 1\nrate = 200\nwarmup_commits = 3\n\
         [checkpointer]\nenabled = false\n\
         [destination]\nkinds = [\"fresh\"]\n\
         [faults]\ncomplete_fraction = 0.34\nkinds = [\"power-cut\", \"kill-dest-op\"]\n\
         [[strategy]]\nname = \"external:dump-restore-preload\"\nexpect = \"safe\"\n\
         fault_vfs = \"preload\"\n\
         command = [\"sh\", \"-c\", \"sqlite3 '{src}' .dump | sqlite3 -bail '{dst}'\"]\n";
    let tools_env = format!("HARNESS_TOOLS={}", tools.display());
    let run = support::run_scenario_text_under(&["env", &tools_env], text);
    let r = &run.report;
    assert_eq!(
        run.code,
        Some(0),
        "the oracle must find it safe: {}\n{}",
        run.stdout,
        run.stderr
    );
    let s = &r["strategies"][0];
    assert_eq!(s["untested_because"], serde_json::json!([]), "{s}");
    let (planned, hit) = (&s["faults_planned"], &s["faults_hit"]);
    assert_eq!(planned, hit, "every planned fault fired: {s}");
    assert_eq!(
        (
            planned["power-cut"].as_u64(),
            planned["kill-dest-op"].as_u64()
        ),
        (Some(2), Some(2)),
        "{s}"
    );
    for it in r["results"].as_array().unwrap() {
        if it["kind"].is_null() {
            // Not faulted: the restore ran to the end and claimed success.
            assert_eq!(it["claim"]["outcome"], "success", "{it}");
            assert_eq!(it["verdict"]["kind"], "snapshot", "{it}");
        } else {
            assert_eq!(it["fault_hit"], true, "{it}");
            assert!(
                it["fired"][0].as_str().unwrap().contains("in the tool"),
                "{it}"
            );
        }
    }
}

/// A preloaded tool that never opens the destination through the system libsqlite3 (here it
/// reads the source with sqlite3 and only names the destination): the reason is the
/// entry's untested reason, not a line in some stderr.
#[test]
fn a_shim_that_never_sees_the_destination_says_so_in_the_untested_reason() {
    assert!(have("sqlite3") && have("sh"), "apt-get install sqlite3");
    let tools = tools_with_shim();
    let text = "iterations = 2\nwatchdog_ms = 5000\nbudget_ms = 5000\n\
         [source]\npages = 20\n[workload]\nwriters = 1\nrate = 100\nwarmup_commits = 2\n\
         [checkpointer]\nenabled = false\n\
         [destination]\nkinds = [\"fresh\"]\n\
         [faults]\ncomplete_fraction = 1.0\nkinds = [\"power-cut\"]\n\
         [[strategy]]\nname = \"external:reads-only-preload\"\nexpect = \"safe\"\n\
         fault_vfs = \"preload\"\n\
         command = [\"sh\", \"-c\", \"sqlite3 '{src}' 'select 1' >/dev/null; echo not '{dst}'; exit 1\"]\n";
    let tools_env = format!("HARNESS_TOOLS={}", tools.display());
    let run = support::run_scenario_text_under(&["env", &tools_env], text);
    let s = &run.report["strategies"][0];
    let why: Vec<&str> = s["untested_because"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        // Armed in `sh` and in `sqlite3`: both load the shim.
        why.iter().any(|w| w.starts_with(
            "in 2 of 2 iterations the preload shim armed in 2 process(es) but never saw the \
             destination"
        )),
        "{why:?}\n{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("never saw the destination"),
        "the terminal summary shows it too: {}",
        run.stdout
    );
}
