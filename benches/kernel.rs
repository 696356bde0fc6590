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

use criterion::{Criterion, criterion_group, criterion_main};
use miracast_sim::backend::real::{BridgeConfig, RealKmd, RealRuntime};
use miracast_sim::ddi::{ChildDescriptor, ChildStatus, ChildStatusKind, MiracastKmd};
use miracast_sim::sched::{FirstStrategy, RunEnd, RunLimits, Sched};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn build_kmd() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kernel_bench");
    std::fs::create_dir_all(&out_dir).expect("create the bench output directory");
    let out = out_dir.join("libkmd.so");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()))
        .args(["-std=c11", "-O2", "-shared", "-fPIC", "-I"])
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("tests/fixtures/real_driver"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("tests/fixtures/real_driver/kmd.c"))
        .status()
        .expect("run `cc` (install the Debian package `gcc`)");
    assert!(status.success(), "building kmd.c failed");
    out
}

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
    let path = build_kmd();
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
