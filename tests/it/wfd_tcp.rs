//! Our WFD source and sink over real TCP on 127.0.0.1: full sessions and faults, short timers.

use std::time::Duration;

use miracast_sim::net::{RunOptions, RunOutcome, sink_connect, source_listen};
use miracast_sim::wfd::sink::{IdrStorm, SinkBehaviour};
use miracast_sim::wfd::{CloseReason, Event, MessageKind, SinkConfig, SourceConfig};
use tokio::net::TcpListener;

/// Timers short enough for a test: keep-alive every 200 ms, replies within 500 ms.
fn fast_source() -> SourceConfig {
    SourceConfig {
        session_timeout_s: 2,
        keepalive_interval_ms: Some(200),
        reply_timeout_ms: 500,
        ..Default::default()
    }
}

fn fast_sink(behaviour: SinkBehaviour) -> SinkConfig {
    SinkConfig {
        rtp_port: 0,
        reply_timeout_ms: 500,
        expect_timeout_ms: 2_000,
        behaviour,
        ..Default::default()
    }
}

async fn session(
    source: SourceConfig,
    sink: SinkConfig,
    duration: Option<Duration>,
) -> (RunOutcome, RunOutcome) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let source_task = async {
        source_listen(&listener, source, RunOptions::default())
            .await
            .unwrap()
    };
    let sink_task = async {
        sink_connect(
            addr,
            sink,
            RunOptions {
                duration,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    };
    let both = async { tokio::join!(source_task, sink_task) };
    // A generous bound so a broken build fails instead of hanging CI.
    tokio::time::timeout(Duration::from_secs(60), both)
        .await
        .expect("session finished")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_session_keepalive_idr_teardown_and_rtp() {
    let behaviour = SinkBehaviour {
        idr_storm: Some(IdrStorm {
            count: 2,
            interval_ms: 50,
            start_after_ms: 50,
        }),
        ..Default::default()
    };
    let (src, sink) = session(
        fast_source(),
        fast_sink(behaviour),
        Some(Duration::from_millis(900)),
    )
    .await;
    assert!(sink.negotiation_completed, "{:?}", sink.close);
    assert!(src.negotiation_completed);
    let labels: Vec<String> = sink.exchange.iter().map(|r| r.label()).collect();
    for k in ["M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8"] {
        assert!(labels.iter().any(|l| l == k), "{k} missing: {labels:?}");
        assert!(
            labels.iter().any(|l| *l == format!("{k} reply")),
            "{k} reply missing: {labels:?}"
        );
    }
    assert!(
        sink.keepalives >= 1,
        "keep-alives answered: {}",
        sink.keepalives
    );
    assert_eq!(src.keepalives, sink.keepalives);
    assert_eq!(src.idr_requests, 2);
    assert_eq!(sink.close, Some(CloseReason::TeardownComplete));
    assert_eq!(src.close, Some(CloseReason::SinkTeardown));
    assert!(sink.rtp.packets > 0, "RTP received");
    assert!(sink.rtp.payload_types.contains(&33));
    assert!(src.rtp.packets >= sink.rtp.packets);
    // The log carries time offsets in order.
    assert!(sink.exchange.windows(2).all(|w| w[0].at <= w[1].at));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_teardown_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let source_task = async {
        source_listen(
            &listener,
            fast_source(),
            RunOptions {
                duration: Some(Duration::from_millis(300)),
                ..Default::default()
            },
        )
        .await
        .unwrap()
    };
    let sink_task = async {
        sink_connect(
            addr,
            fast_sink(SinkBehaviour::default()),
            RunOptions::default(),
        )
        .await
        .unwrap()
    };
    let (src, sink) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(source_task, sink_task)
    })
    .await
    .unwrap();
    assert_eq!(src.close, Some(CloseReason::TeardownComplete));
    assert_eq!(sink.close, Some(CloseReason::TeardownComplete));
    assert!(
        src.exchange
            .iter()
            .any(|r| r.kind == MessageKind::M5 && r.text.contains("TEARDOWN"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_m3_reply_times_out_at_the_source() {
    let behaviour = SinkBehaviour {
        drop_replies: vec![MessageKind::M3],
        ..Default::default()
    };
    let (src, sink) = session(fast_source(), fast_sink(behaviour), None).await;
    assert_eq!(
        src.close,
        Some(CloseReason::ReplyTimeout {
            waiting_for: MessageKind::M3
        })
    );
    assert!(matches!(sink.close, Some(CloseReason::PeerClosed { .. })));
    assert!(!sink.negotiation_completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_keepalive_over_tcp() {
    let behaviour = SinkBehaviour {
        missed_keepalives: Some(1),
        ..Default::default()
    };
    let (src, _sink) = session(fast_source(), fast_sink(behaviour), None).await;
    assert!(src.events.contains(&Event::KeepAliveMissed));
    assert_eq!(src.close, Some(CloseReason::KeepAliveMissed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_after_m4_over_tcp() {
    let behaviour = SinkBehaviour {
        close_after: Some(MessageKind::M4),
        ..Default::default()
    };
    let (src, sink) = session(fast_source(), fast_sink(behaviour), None).await;
    assert_eq!(
        sink.close,
        Some(CloseReason::FaultInjected {
            after: MessageKind::M4
        })
    );
    assert!(
        matches!(src.close, Some(CloseReason::PeerClosed { .. })),
        "{:?}",
        src.close
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_bitrate_over_tcp() {
    let mut source = fast_source();
    source.selection.bitrate_bps = 500_000;
    let (src, sink) = session(source, fast_sink(SinkBehaviour::default()), None).await;
    assert!(matches!(
        src.close,
        Some(CloseReason::InsufficientBitRate { .. })
    ));
    assert!(!sink.negotiation_completed);
}

#[tokio::test(start_paused = true)]
async fn idle_peer_is_dropped_by_the_idle_timeout() {
    // A source that accepts and never speaks: the sink's own M1 expectation fires first
    // (virtual time, so this costs nothing).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(s);
    });
    let sink = sink_connect(
        addr,
        fast_sink(SinkBehaviour::default()),
        RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        sink.close,
        Some(CloseReason::ReplyTimeout {
            waiting_for: MessageKind::M1
        })
    );
    hold.abort();
}
