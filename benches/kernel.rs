//! The cost of a scheduling point taken through the kernel routines (`include/wdm.h`) next to a
//! plain DDI call, in one run: the fixture KMD of `tests/fixtures/real_driver` is loaded through
//! the real-driver backend and called in a loop on one simulated thread.
//!
//! - `plain DDI call`: `DxgkDdiQueryChildRelations`, which calls no kernel routine (one hand-off
//!   to the driver's real thread and back, and the DDI's entry and exit);
//! - `DDI call + spin lock`: `DxgkDdiQueryChildStatus`, which takes and releases its spin lock
//!   (`KeAcquireSpinLock`, `KeReleaseSpinLock`): the same call plus two kernel routines, each a
//!   round trip to the simulated thread and a scheduling point.
//!
//! The difference between the two, halved, is the cost of one scheduling point through the
//! kernel routines. Only the calls are timed (the library is loaded outside the measurement).
//!
//! `cargo bench --all-features --bench kernel` (needs `cc`: Debian package `gcc`).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use miracast_sim::backend::real::{BridgeConfig, RealKmd, RealRuntime};
use miracast_sim::ddi::{ChildDescriptor, ChildStatus, ChildStatusKind, MiracastKmd};
use miracast_sim::sched::{FirstStrategy, RunEnd, RunLimits, Sched};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
enum Call {
    Plain,
    SpinLock,
}

/// Times `iters` calls of `call` on a freshly loaded KMD.
fn run(path: &Path, call: Call, iters: u64) -> Duration {
    let sched = Sched::new(Box::new(FirstStrategy));
    let rt = RealRuntime::new(&sched, BridgeConfig::default());
    let kmd = Rc::new(RealKmd::load(&rt, path).expect("load the fixture KMD"));
    let k = kmd.clone();
    sched.spawn("os-bench", false, async move {
        for _ in 0..iters {
            match call {
                Call::Plain => {
                    let mut relations = [ChildDescriptor::default(); 2];
                    let _ = k.query_child_relations(&mut relations).await;
                }
                Call::SpinLock => {
                    let mut status = ChildStatus {
                        child_uid: 1,
                        status: ChildStatusKind::Uninitialized,
                    };
                    let _ = k.query_child_status(&mut status, true).await;
                }
            }
        }
    });
    let start = Instant::now();
    let end = sched.run(RunLimits::default());
    let took = start.elapsed();
    assert_eq!(end, RunEnd::Completed);
    drop(kmd);
    took
}

fn kernel_routines(c: &mut Criterion) {
    let path = common::build_fixture("kmd.c", "kernel_bench");
    let mut g = c.benchmark_group("kernel routines");
    g.sample_size(20);
    g.bench_function("plain DDI call (DxgkDdiQueryChildRelations)", |b| {
        b.iter_custom(|iters| run(&path, Call::Plain, iters))
    });
    g.bench_function(
        "DDI call + spin lock acquire and release (DxgkDdiQueryChildStatus)",
        |b| b.iter_custom(|iters| run(&path, Call::SpinLock, iters)),
    );
    g.finish();
}

criterion_group!(benches, kernel_routines);
criterion_main!(benches);
