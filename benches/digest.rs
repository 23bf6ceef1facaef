//! Criterion bench: the oracle's logical digest against `PRAGMA quick_check` on the same
//! database (target: digest ≤ 1.5 × quick_check). `cargo bench --bench digest`; the ratio is
//! the ratio of the two `time` estimates, taken minutes apart on a shared machine. For the
//! ratio itself use `cargo run --release -- bench digest [--json PATH]`: it builds the same
//! databases (1000 and 4000 pages) and interleaves the two in one process (median of rounds).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use harness::digest::digest_connection;
use harness::workload::{self, WorkloadSpec};
use rusqlite::Connection;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("oracle-digest-vs-quick-check");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for pages in [1000u32, 4000] {
        let spec = WorkloadSpec {
            initial_pages: pages,
            ..WorkloadSpec::default()
        };
        let path = dir.path().join(format!("db-{pages}.db"));
        workload::create_source(&path, &spec).expect("source");
        let conn = Connection::open(&path).expect("open");
        g.bench_with_input(BenchmarkId::new("digest", pages), &pages, |b, _| {
            b.iter(|| digest_connection(&conn).expect("digest"))
        });
        g.bench_with_input(BenchmarkId::new("quick_check", pages), &pages, |b, _| {
            b.iter(|| {
                let ok: String = conn
                    .query_row("PRAGMA quick_check", [], |r| r.get(0))
                    .expect("quick_check");
                assert_eq!(ok, "ok");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
