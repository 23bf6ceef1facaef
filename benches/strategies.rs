//! Criterion bench: strategy throughput by source size, no writers.
//!
//! `api-oneshot`, `api-step` at nPage 64 and 1024, `vacuum-into` and `copy-locked`, run
//! in-process through `strategy::by_name(..).run(..)` on a WAL source built by the workload,
//! into a fresh destination every iteration. `cargo bench --bench strategies`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use harness::event::Claim;
use harness::strategy::{self, StrategyContext, StrategyParams};
use harness::workload::{self, WorkloadSpec};
use std::path::Path;
use std::time::Duration;

fn remove_dest(dest: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut p = dest.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("strategy-throughput");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for pages in [1000u32, 4000] {
        let spec = WorkloadSpec {
            initial_pages: pages,
            ..WorkloadSpec::default()
        };
        let source = dir.path().join(format!("src-{pages}.db"));
        workload::create_source(&source, &spec).expect("source");
        let bytes = std::fs::metadata(&source).expect("source size").len();
        g.throughput(Throughput::Bytes(bytes));
        let dest = dir.path().join(format!("dst-{pages}.db"));
        for (name, npage) in [
            ("api-oneshot", -1),
            ("api-step", 64),
            ("api-step", 1024),
            ("vacuum-into", -1),
            ("copy-locked", -1),
        ] {
            let label = if name == "api-step" {
                format!("{name}-{npage}")
            } else {
                name.to_string()
            };
            let strat = strategy::by_name(name).expect("strategy");
            let params = StrategyParams {
                npage,
                ..StrategyParams::default()
            };
            g.bench_with_input(BenchmarkId::new(label, pages), &pages, |b, _| {
                b.iter_batched(
                    || remove_dest(&dest),
                    |()| {
                        let mut emit = |_ev| {};
                        let mut ctx = StrategyContext {
                            source: &source,
                            dest: &dest,
                            source_vfs: None,
                            dest_vfs: None,
                            params: &params,
                            workload: &spec,
                            abort_before_step: None,
                            link_fault: None,
                            emit: &mut emit,
                        };
                        let claim = strat.run(&mut ctx);
                        assert_eq!(claim, Claim::Success, "{name}");
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
