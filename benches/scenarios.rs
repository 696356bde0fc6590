//! Whole scenarios per second: every file of the shipped corpus (`scenarios/`), loaded once,
//! run end to end by the runner (fresh scheduler, drivers, OS and sink per run), with the trace
//! on (what `miracast-sim run` does) and off (what exploration does).
//!
//! `cargo bench --bench scenarios`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use miracast_sim::runner::{self, RunOptions};
use miracast_sim::scenario::{self, Scenario};
use std::hint::black_box;
use std::path::PathBuf;

fn corpus() -> Vec<Scenario> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    scenario::discover(&[dir])
        .expect("scenarios/ is readable")
        .iter()
        .filter_map(|f| scenario::load(f).ok().map(|(s, _)| s))
        .collect()
}

fn bench(c: &mut Criterion) {
    let scenarios = corpus();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(scenarios.len() as u64));
    group.sample_size(10);
    for (label, trace) in [("trace-on", true), ("trace-off", false)] {
        let options = RunOptions {
            trace,
            ..RunOptions::default()
        };
        group.bench_function(label, |b| {
            b.iter(|| {
                for s in &scenarios {
                    black_box(runner::run_seeded(s, &options).violations.len());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
