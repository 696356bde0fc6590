//! Simulated DDI calls per second through the OS model and the scheduler, on the reference
//! drivers: a session is connected, the KMD sends messages that the UMD handles, UMD threads
//! issue `MiracastIoControl`, the session is torn down. Every `enter` event in the trace is one
//! DDI or callback call; the bench reports calls per second (criterion's elements/s).
//!
//! `cargo bench --bench os`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use miracast_sim::model::{KmdConfig, Knobs, UmdConfig, reference_drivers};
use miracast_sim::os::{Os, OsConfig, SinkFacts};
use miracast_sim::rules::Findings;
use miracast_sim::scenario::SinkAdapter;
use miracast_sim::sched::{RandomStrategy, RunEnd, RunLimits, Sched};
use miracast_sim::trace::EventKind;
use miracast_sim::wfd::SinkConfig;
use std::hint::black_box;

const MESSAGES: u32 = 50;
const IOCTLS: u32 = 50;

/// Runs one session and returns how many DDI/callback calls it made.
fn one_session(seed: u64, trace: bool) -> u64 {
    let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
    sched.set_trace_enabled(trace);
    let findings = Findings::default();
    let (kmd, umd) = reference_drivers(
        &sched,
        KmdConfig::default(),
        UmdConfig::default(),
        &Knobs::default(),
    );
    let os = Os::new(&sched, &findings, OsConfig::default(), kmd, umd);
    os.set_profile(Some(miracast_sim::profile::reference()));
    let (sink, _control) = SinkAdapter::new(SinkConfig::default());
    os.attach_sink(
        Box::new(sink),
        SinkFacts {
            monitor_present: true,
            supports_1024x768: true,
            monitor_type: None,
        },
    );
    let main = os.clone();
    sched.spawn("os-main", false, async move {
        let _ = main.bring_up_adapter().await;
        let _ = main.connect().await;
        for i in 0..MESSAGES {
            let _ = main.escape_send_message(&i.to_le_bytes(), 8).await;
        }
        let ioctl = main.clone();
        main.sched().spawn("umd-ioctl", false, async move {
            for _ in 0..IOCTLS {
                let _ = ioctl.io_control_from_umd_thread(false, b"bench", 16).await;
            }
        });
        main.sched()
            .sleep(std::time::Duration::from_millis(100))
            .await;
        main.disconnect().await;
    });
    let end = sched.run(RunLimits::default());
    assert_eq!(end, RunEnd::Completed, "the bench session must complete");
    if trace {
        sched
            .take_trace()
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Enter { .. }))
            .count() as u64
    } else {
        0
    }
}

fn ddi_calls(c: &mut Criterion) {
    let calls = one_session(1, true);
    let mut group = c.benchmark_group("os_model");
    group.throughput(Throughput::Elements(calls));
    group.bench_function("session_ddi_calls_traced", |b| {
        let mut seed = 0;
        b.iter(|| {
            seed += 1;
            black_box(one_session(seed, true))
        });
    });
    group.bench_function("session_ddi_calls_untraced", |b| {
        let mut seed = 0;
        b.iter(|| {
            seed += 1;
            black_box(one_session(seed, false))
        });
    });
    group.finish();
}

criterion_group!(benches, ddi_calls);
criterion_main!(benches);
