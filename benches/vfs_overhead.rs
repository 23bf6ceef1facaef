//! Criterion bench: one small WAL autocommit insert through `unix`, through the unarmed fault
//! VFS, and through the fault VFS with tracing on. `cargo bench --bench vfs_overhead`.
//! (`bench vfs-overhead` in the harness gives the interleaved ratio as JSON.)

use criterion::{criterion_group, criterion_main, Criterion};
use rusqlite::{Connection, OpenFlags};
use vfs_faults::{FaultPlan, FaultVfs, Options};

fn conn(dir: &std::path::Path, tag: &str, vfs: &str) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let c = Connection::open_with_flags_and_vfs(dir.join(format!("{tag}.db")), flags, vfs)
        .expect("open");
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT)")
        .unwrap();
    c
}

fn bench(c: &mut Criterion) {
    FaultVfs::register("faults-criterion", FaultPlan::default()).expect("register");
    let traced = FaultVfs::register_with(
        "faults-criterion-trace",
        Options {
            trace: true,
            ..Options::default()
        },
    )
    .expect("register");
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("wal-autocommit-insert");
    for (tag, vfs) in [
        ("unix", "unix"),
        ("faults", "faults-criterion"),
        ("faults-trace", "faults-criterion-trace"),
    ] {
        let db = conn(dir.path(), tag, vfs);
        let mut st = db.prepare("INSERT INTO t(a, b) VALUES(?1, ?2)").unwrap();
        let mut i = 0i64;
        g.bench_function(tag, |b| {
            b.iter(|| {
                i += 1;
                st.execute((std::hint::black_box(i), "payload-0123456789"))
                    .unwrap();
                if (i as u64).is_multiple_of(10_000) {
                    traced.clear_trace();
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
