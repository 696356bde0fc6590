//! The cost of the FFI path: the same session (bring-up, connect with a full M1..M7 negotiation,
//! a second of data-rate notifications with the monitor arrival IOCTL, a power-off and power-on
//! commit with kernel messages and completion routines, disconnect) on the reference drivers and
//! on the C fixture drivers of `tests/fixtures/real_driver` loaded through the real-driver
//! backend. The difference is what real threads, channel hand-offs and the loopback RTSP socket
//! cost per session.
//!
//! A second group runs the scenarios of the shipped corpus (`scenarios/`) that the C fixtures can
//! run (those `run scenarios/ --backend real:UMD,KMD` does not skip), through the runner, in
//! process, once on the reference models and once on the fixtures: what running a corpus on a
//! driver binary costs next to the model, for the same work. Every run must pass, so the
//! bench measures the runs a user sees pass.
//!
//! `cargo bench --all-features --bench real_driver` (needs `cc`: Debian package `gcc`).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use miracast_sim::backend::real::{BridgeConfig, load_real_drivers};
use miracast_sim::ddi::{MiracastKmd, MiracastUmd};
use miracast_sim::model::{KmdConfig, Knobs, UmdConfig, reference_drivers};
use miracast_sim::os::{Os, OsConfig, SinkFacts};
use miracast_sim::rules::Findings;
use miracast_sim::runner::{self, RunOptions};
use miracast_sim::scenario::sink::SinkAdapter;
use miracast_sim::scenario::{self, Backend, Scenario};
use miracast_sim::sched::{RandomStrategy, RunEnd, RunLimits, Sched};
use miracast_sim::status::NtStatus;
use miracast_sim::wfd::SinkConfig;
use std::hint::black_box;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

type Drivers = (Rc<dyn MiracastKmd>, Rc<dyn MiracastUmd>);

/// One whole session on the drivers `make` returns; panics unless it connects and completes.
fn session(make: &dyn Fn(&Sched) -> Drivers) {
    let sched = Sched::new(Box::new(RandomStrategy::new(7)));
    let findings = Findings::default();
    let (kmd, umd) = make(&sched);
    let os = Os::new(&sched, &findings, OsConfig::default(), kmd, umd);
    os.set_profile(Some(miracast_sim::profile::reference()));
    let (sink, control) = SinkAdapter::new(SinkConfig::default());
    os.attach_sink(
        Box::new(sink),
        SinkFacts {
            monitor_present: true,
            supports_1024x768: true,
            monitor_type: None,
        },
    );
    let os2 = os.clone();
    sched.spawn("os-main", false, async move {
        assert_eq!(os2.bring_up_adapter().await, NtStatus::STATUS_SUCCESS);
        control.reconnect(os2.now()).expect("sink");
        assert_eq!(os2.connect().await, NtStatus::STATUS_SUCCESS);
        os2.sched().sleep(Duration::from_millis(1_500)).await;
        let _ = os2.commit_vidpn(true).await;
        os2.sched().sleep(Duration::from_millis(100)).await;
        let _ = os2.commit_vidpn(false).await;
        os2.sched().sleep(Duration::from_millis(100)).await;
        os2.disconnect().await;
    });
    assert_eq!(sched.run(RunLimits::default()), RunEnd::Completed);
    black_box(findings.snapshot());
}

fn bench(c: &mut Criterion) {
    let (umd_path, kmd_path) = (
        common::build_fixture("umd.c", "real_driver_bench"),
        common::build_fixture("kmd.c", "real_driver_bench"),
    );
    let mut group = c.benchmark_group("session");
    group.bench_function("reference_model", |b| {
        b.iter(|| {
            session(&|sched| {
                reference_drivers(
                    sched,
                    KmdConfig::default(),
                    UmdConfig {
                        register_data_rate_notifications: true,
                        ..UmdConfig::default()
                    },
                    &Knobs::default(),
                )
            })
        })
    });
    group.bench_function("c_fixture_ffi", |b| {
        b.iter(|| {
            session(&|sched| {
                let (kmd, umd, _runtime) =
                    load_real_drivers(sched, &umd_path, &kmd_path, BridgeConfig::default())
                        .expect("load the fixture drivers");
                (kmd, umd)
            })
        })
    });
    group.finish();
}

fn corpus() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    scenario::discover(&[dir])
        .expect("scenarios/ is readable")
        .iter()
        .filter_map(|f| scenario::load(f).ok().map(|(s, _)| s))
        .collect()
}

fn bench_corpus(c: &mut Criterion) {
    let (umd_path, kmd_path) = (
        common::build_fixture("umd.c", "real_driver_bench"),
        common::build_fixture("kmd.c", "real_driver_bench"),
    );
    let spec = format!("{},{}", umd_path.display(), kmd_path.display());
    let fixtures = Backend::Real(spec.into());
    let profile = miracast_sim::profile::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real_driver/profile.json"),
    )
    .expect("the fixtures' driver profile loads");
    // Exactly the scenarios the fixtures can run (what `run scenarios/ --backend real:...`
    // does not skip), on both backends: the same work, so the ratio is the cost of the binary.
    let scenarios: Vec<Scenario> = corpus()
        .into_iter()
        .filter(|s| runner::cannot_run(s, &fixtures, Some(profile)).is_empty())
        .collect();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(scenarios.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (label, backend) in [
        ("reference_model", Backend::Model),
        ("c_fixtures", fixtures.clone()),
    ] {
        let options = RunOptions {
            backend: Some(backend),
            profile: Some(profile),
            ..RunOptions::default()
        };
        group.bench_function(label, |b| {
            b.iter(|| {
                for s in &scenarios {
                    let result = runner::run_seeded(s, &options);
                    let verdict = runner::judge(s, &result);
                    assert!(verdict.passed, "{} fails on {label}: {verdict:?}", s.name);
                    black_box(result.violations.len());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_corpus);
criterion_main!(benches);
