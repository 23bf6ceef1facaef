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
