//! Source and sink state machines against each other in virtual time: the happy path, every
//! sink personality, every fault with its documented outcome, and the bit-rate rule.

use std::time::Duration;

use miracast_sim::time::SimTime;
use miracast_sim::wfd::pair::{DriveEnd, Pair};
use miracast_sim::wfd::select::SelectionOutcome;
use miracast_sim::wfd::sink::{
    DelayReply, ExtraParameter, IdrStorm, MonitorEvent, Personality, SinkBehaviour,
};
use miracast_sim::wfd::source::HdcpPolicy;
use miracast_sim::wfd::{CloseReason, Event, MessageKind, SinkConfig, SourceConfig};

const LIMIT: SimTime = SimTime::from_millis(600_000);

fn sink_with(behaviour: SinkBehaviour) -> SinkConfig {
    SinkConfig {
        behaviour,
        ..Default::default()
    }
}

/// Runs a pair until both sides close (or ten virtual minutes), never hanging.
fn run(source: SourceConfig, sink: SinkConfig) -> Pair {
    let mut pair = Pair::new(source, sink).unwrap();
    let end = pair.drive(LIMIT);
    assert_ne!(end, DriveEnd::StepLimit, "livelock");
    pair
}

fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

#[test]
fn every_personality_negotiates_and_streams() {
    for p in Personality::ALL {
        let mut pair = Pair::new(
            SourceConfig::default(),
            SinkConfig {
                personality: p,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            pair.run_until_playing(LIMIT),
            "{}: {:?}",
            p.name(),
            pair.source_close()
        );
        let negotiated = pair.source.negotiated().unwrap().clone();
        match p {
            Personality::P720Only => assert_eq!(negotiated.video.mode.to_string(), "1280x720p60"),
            Personality::P1080p60
            | Personality::NoAudio
            | Personality::Hdcp2Required
            | Personality::NoMonitor => {
                assert_eq!(negotiated.video.mode.to_string(), "1920x1080p60")
            }
            Personality::VesaOnly => assert_eq!(negotiated.video.mode.to_string(), "1600x1200p60"),
            Personality::P4k => assert_eq!(negotiated.video.mode.to_string(), "1920x1080p60"),
        }
        assert_eq!(
            negotiated.monitor_connected,
            p != Personality::NoMonitor,
            "{}",
            p.name()
        );
        assert_eq!(negotiated.edid.is_some(), p != Personality::NoMonitor);
        assert_eq!(
            negotiated.audio.is_some(),
            p != Personality::NoAudio,
            "{}",
            p.name()
        );
        assert_eq!(negotiated.hdcp.is_some(), p == Personality::Hdcp2Required);
        if p == Personality::P4k {
            assert_eq!(negotiated.sink_max_bitrate_bps, Some(200_000_000));
        }
    }
}

#[test]
fn vesa_only_ranks_by_pixel_rate_not_by_resolution() {
    let mut source = SourceConfig::default();
    source.selection.bitrate_bps = 50_000_000;
    let mut pair = Pair::new(
        source,
        SinkConfig {
            personality: Personality::VesaOnly,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(pair.run_until_playing(LIMIT));
    let n = pair.source.negotiated().unwrap();
    // 1920x1200p30 (138 M) loses to 1600x1200p60 (230 M) by the ranking rule.
    assert_eq!(n.video.mode.to_string(), "1600x1200p60");
    assert!(!n.mode_list_reduced_for_bandwidth);
}

#[test]
fn low_bitrate_reduces_the_mode_list() {
    let mut source = SourceConfig::default();
    source.selection.bitrate_bps = 8_000_000;
    let mut pair = Pair::new(source, SinkConfig::default()).unwrap();
    assert!(pair.run_until_playing(LIMIT));
    let n = pair.source.negotiated().unwrap();
    assert!(n.mode_list_reduced_for_bandwidth);
    assert!(n.video.required_bitrate_bps <= 8_000_000);
    assert_eq!(n.video.mode.to_string(), "1280x720p60");
}

#[test]
fn insufficient_bitrate_for_1024x768_is_a_distinct_outcome() {
    let mut source = SourceConfig::default();
    source.selection.bitrate_bps = 1_000_000;
    let pair = run(source.clone(), SinkConfig::default());
    assert!(matches!(
        pair.source_close(),
        Some(CloseReason::InsufficientBitRate {
            available_bps: 1_000_000,
            ..
        })
    ));
    assert!(pair.source_events.iter().any(|e| matches!(e, Event::Selection(s) if matches!(**s, SelectionOutcome::InsufficientBitRate { .. }))));
    assert!(!pair.exchange().iter().any(|r| r.kind == MessageKind::M4));
    // The sink sees the connection close during negotiation.
    assert!(matches!(
        pair.sink_close(),
        Some(CloseReason::PeerClosed { .. })
    ));

    // Without a monitor the rule does not apply.
    let no_monitor = SinkConfig {
        personality: Personality::NoMonitor,
        ..Default::default()
    };
    let mut pair = Pair::new(source.clone(), no_monitor).unwrap();
    assert!(pair.run_until_playing(LIMIT));
    assert!(
        pair.source
            .negotiated()
            .unwrap()
            .mode_list_reduced_for_bandwidth
    );

    // A scenario can lower the threshold directly.
    source.selection.min_bitrate_1024x768 = Some(900_000);
    let mut pair = Pair::new(source, SinkConfig::default()).unwrap();
    assert!(pair.run_until_playing(LIMIT));
}

#[test]
fn keepalives_idr_and_teardown() {
    let mut pair = Pair::new(SourceConfig::default(), SinkConfig::default()).unwrap();
    assert!(pair.run_until_playing(LIMIT));
    pair.advance(Duration::from_secs(200));
    assert_eq!(pair.source.keepalives_answered(), 3, "M16 every 55 s");
    assert_eq!(pair.sink.keepalives_answered(), 3);
    pair.sink.request_idr(pair.now);
    pair.advance(Duration::from_millis(50));
    assert_eq!(pair.source.idr_requests(), 1);
    pair.source.request_teardown(pair.now);
    assert_eq!(pair.drive(LIMIT), DriveEnd::BothClosed);
    assert_eq!(pair.source_close(), Some(&CloseReason::TeardownComplete));
    assert_eq!(pair.sink_close(), Some(&CloseReason::TeardownComplete));
}

#[test]
fn cseq_counters_are_per_direction() {
    let mut pair = Pair::new(SourceConfig::default(), SinkConfig::default()).unwrap();
    assert!(pair.run_until_playing(LIMIT));
    let ex = pair.exchange();
    let source_requests: Vec<u32> = ex
        .iter()
        .filter(|r| !r.reply && r.direction == miracast_sim::wfd::Direction::SourceToSink)
        .filter_map(|r| r.cseq)
        .collect();
    let sink_requests: Vec<u32> = ex
        .iter()
        .filter(|r| !r.reply && r.direction == miracast_sim::wfd::Direction::SinkToSource)
        .filter_map(|r| r.cseq)
        .collect();
    assert_eq!(source_requests, vec![1, 2, 3, 4]);
    assert_eq!(sink_requests, vec![1, 2, 3]);
}

#[test]
fn short_delay_is_tolerated_long_delay_times_out() {
    let short = sink_with(SinkBehaviour {
        delay_replies: vec![DelayReply {
            message: MessageKind::M3,
            delay_ms: 3_000,
        }],
        ..Default::default()
    });
    let mut pair = Pair::new(SourceConfig::default(), short).unwrap();
    assert!(pair.run_until_playing(LIMIT));

    let long = sink_with(SinkBehaviour {
        delay_replies: vec![DelayReply {
            message: MessageKind::M4,
            delay_ms: 6_000,
        }],
        ..Default::default()
    });
    let pair = run(SourceConfig::default(), long);
    assert_eq!(
        pair.source_close(),
        Some(&CloseReason::ReplyTimeout {
            waiting_for: MessageKind::M4
        })
    );
    assert!(pair.source_events.contains(&Event::ReplyTimeout {
        waiting_for: MessageKind::M4
    }));
}

#[test]
fn dropped_replies_time_out_for_each_source_request() {
    for kind in [
        MessageKind::M1,
        MessageKind::M3,
        MessageKind::M4,
        MessageKind::M5,
    ] {
        let pair = run(
            SourceConfig::default(),
            sink_with(SinkBehaviour {
                drop_replies: vec![kind],
                ..Default::default()
            }),
        );
        assert_eq!(
            pair.source_close(),
            Some(&CloseReason::ReplyTimeout { waiting_for: kind }),
            "{kind}"
        );
    }
}

#[test]
fn dropped_or_missed_keepalive_is_reported_as_missing_keepalive() {
    for behaviour in [
        SinkBehaviour {
            drop_replies: vec![MessageKind::M16],
            ..Default::default()
        },
        SinkBehaviour {
            missed_keepalives: Some(1),
            ..Default::default()
        },
        SinkBehaviour {
            delay_replies: vec![DelayReply {
                message: MessageKind::M16,
                delay_ms: 10_000,
            }],
            ..Default::default()
        },
    ] {
        let pair = run(SourceConfig::default(), sink_with(behaviour));
        assert!(pair.source_events.contains(&Event::KeepAliveMissed));
        assert_eq!(pair.source_close(), Some(&CloseReason::KeepAliveMissed));
    }
}

#[test]
fn malformed_replies_are_protocol_errors() {
    let pair = run(
        SourceConfig::default(),
        sink_with(SinkBehaviour {
            malformed_replies: vec![MessageKind::M3],
            ..Default::default()
        }),
    );
    let Some(CloseReason::ProtocolError { message }) = pair.source_close() else {
        panic!("{:?}", pair.source_close())
    };
    assert!(
        message
            .contains("wfd_audio_codecs: modes of entry 1 must be exactly 8 hex digits (17 given)"),
        "{message}"
    );

    let pair = run(
        SourceConfig::default(),
        sink_with(SinkBehaviour {
            malformed_replies: vec![MessageKind::M1],
            ..Default::default()
        }),
    );
    let Some(CloseReason::ProtocolError { message }) = pair.source_close() else {
        panic!("{:?}", pair.source_close())
    };
    assert!(
        message.contains("status code must be 3 digits"),
        "{message}"
    );
}

#[test]
fn wrong_cseq_is_warned_then_times_out() {
    let pair = run(
        SourceConfig::default(),
        sink_with(SinkBehaviour {
            wrong_cseq_replies: vec![MessageKind::M3],
            ..Default::default()
        }),
    );
    assert!(pair.source_events.iter().any(|e| matches!(e, Event::PeerWarning { what, .. } if what.contains("matches no outstanding request"))));
    assert_eq!(
        pair.source_close(),
        Some(&CloseReason::ReplyTimeout {
            waiting_for: MessageKind::M3
        })
    );
}

#[test]
fn extra_unknown_parameters_are_tolerated() {
    let behaviour = SinkBehaviour {
        extra_parameters: vec![ExtraParameter {
            name: "vendor_x".into(),
            value: "1!!1! anything".into(),
        }],
        ..Default::default()
    };
    let mut pair = Pair::new(SourceConfig::default(), sink_with(behaviour)).unwrap();
    assert!(pair.run_until_playing(LIMIT));
    assert!(
        pair.exchange()
            .iter()
            .any(|r| r.text.contains("vendor_x: 1!!1! anything"))
    );
}

#[test]
fn close_mid_negotiation_after_each_message() {
    for kind in [
        MessageKind::M1,
        MessageKind::M2,
        MessageKind::M3,
        MessageKind::M4,
        MessageKind::M5,
        MessageKind::M6,
    ] {
        let pair = run(
            SourceConfig::default(),
            sink_with(SinkBehaviour {
                close_after: Some(kind),
                ..Default::default()
            }),
        );
        assert_eq!(
            pair.sink_close(),
            Some(&CloseReason::FaultInjected { after: kind })
        );
        assert!(
            matches!(pair.source_close(), Some(CloseReason::PeerClosed { .. })),
            "{kind}: {:?}",
            pair.source_close()
        );
    }
}

#[test]
fn idr_storm_gives_one_event_per_request() {
    let behaviour = SinkBehaviour {
        idr_storm: Some(IdrStorm {
            count: 25,
            interval_ms: 20,
            start_after_ms: 100,
        }),
        teardown_after_ms: Some(5_000),
        ..Default::default()
    };
    let pair = run(SourceConfig::default(), sink_with(behaviour));
    assert_eq!(
        count(&pair.source_events, |e| *e == Event::IdrRequested),
        25
    );
    assert_eq!(count(&pair.sink_events, |e| *e == Event::IdrRequested), 25);
}

#[test]
fn sink_teardown_is_a_disconnect_request() {
    let pair = run(
        SourceConfig::default(),
        sink_with(SinkBehaviour {
            teardown_after_ms: Some(1_000),
            ..Default::default()
        }),
    );
    assert!(
        pair.source_events
            .iter()
            .any(|e| matches!(e, Event::SinkTeardownRequest { .. }))
    );
    assert_eq!(pair.source_close(), Some(&CloseReason::SinkTeardown));
    assert_eq!(pair.sink_close(), Some(&CloseReason::TeardownComplete));
}

#[test]
fn monitor_depart_and_arrive_are_reported() {
    let behaviour = SinkBehaviour {
        monitor_events: vec![
            MonitorEvent {
                after_ms: 100,
                present: false,
            },
            MonitorEvent {
                after_ms: 200,
                present: true,
            },
        ],
        teardown_after_ms: Some(1_000),
        ..Default::default()
    };
    let pair = run(SourceConfig::default(), sink_with(behaviour));
    let changes: Vec<bool> = pair
        .source_events
        .iter()
        .filter_map(|e| match e {
            Event::MonitorChanged { connected, .. } => Some(*connected),
            _ => None,
        })
        .collect();
    assert_eq!(changes, vec![false, true]);
    assert!(
        pair.exchange()
            .iter()
            .any(|r| r.text.contains("wfd_display_edid: none"))
    );
}

#[test]
fn hdcp_policy_refuse_closes_proceed_continues() {
    let sink = SinkConfig {
        personality: Personality::Hdcp2Required,
        ..Default::default()
    };
    let refuse = SourceConfig {
        hdcp: HdcpPolicy::Refuse,
        ..Default::default()
    };
    let pair = run(refuse, sink.clone());
    assert_eq!(pair.source_close(), Some(&CloseReason::HdcpRequired));
    let mut pair = Pair::new(SourceConfig::default(), sink).unwrap();
    assert!(pair.run_until_playing(LIMIT));
}

#[test]
fn source_stops_keepalives_then_sink_watchdog_closes() {
    // A source whose keep-alive period exceeds the announced timeout.
    let source = SourceConfig {
        session_timeout_s: 10,
        keepalive_interval_ms: Some(60_000),
        ..Default::default()
    };
    let pair = run(source, SinkConfig::default());
    assert_eq!(pair.sink_close(), Some(&CloseReason::KeepAliveTimeout));
}

#[test]
fn uibc_is_negotiated_when_both_want_it() {
    let sink = SinkConfig {
        capabilities: miracast_sim::wfd::sink::CapabilityOverrides {
            uibc_capability: Some(
                "input_category_list=HIDC;hidc_cap_list=Keyboard/USB, Mouse/USB;port=none".into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut pair = Pair::new(
        SourceConfig {
            uibc: true,
            ..Default::default()
        },
        sink,
    )
    .unwrap();
    assert!(pair.run_until_playing(LIMIT));
    let n = pair.source.negotiated().unwrap();
    assert!(n.uibc_supported && n.uibc_enabled);
    assert!(
        pair.exchange()
            .iter()
            .any(|r| r.text.contains("wfd_uibc_setting: enable"))
    );
}

#[test]
fn no_common_mode_closes_with_no_common_format() {
    let mut source = SourceConfig::default();
    source.selection.video.cea = 0;
    source.selection.video.vesa = 0;
    source.selection.video.hh = 0;
    let pair = run(source, SinkConfig::default());
    assert!(matches!(
        pair.source_close(),
        Some(CloseReason::NoCommonFormat { .. })
    ));
}

/// Feeds a scripted peer's bytes to our source and returns what it sent back.
fn feed(source: &mut miracast_sim::wfd::Source, now: SimTime, bytes: &str) -> Vec<String> {
    use miracast_sim::wfd::Endpoint;
    source.handle_input(now, bytes.as_bytes());
    std::iter::from_fn(|| source.poll_transmit())
        .map(|b| String::from_utf8(b).unwrap())
        .collect()
}

#[test]
fn m4_refused_with_303_is_retried_with_another_mode_then_fails() {
    use miracast_sim::wfd::{Endpoint, Source};
    let mut src = Source::new(SourceConfig::default(), SimTime::ZERO);
    let m1 = src.poll_transmit().unwrap();
    assert!(
        String::from_utf8(m1)
            .unwrap()
            .starts_with("OPTIONS * RTSP/1.0")
    );
    let t = SimTime::from_millis(1);
    // The M2 arrives before the M1 reply: requests and replies interleave.
    let out = feed(
        &mut src,
        t,
        "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: org.wfa.wfd1.0\r\n\r\n",
    );
    assert!(out[0].starts_with("RTSP/1.0 200 OK") && out[0].contains("SETUP"));
    let out = feed(
        &mut src,
        t,
        "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: org.wfa.wfd1.0, GET_PARAMETER, SET_PARAMETER\r\n\r\n",
    );
    assert!(
        out[0].starts_with("GET_PARAMETER rtsp://localhost/wfd1.0"),
        "M3 only after both: {out:?}"
    );
    let body = "wfd_video_formats: 00 00 02 04 000000E0 00000000 00000000 00 0000 0000 11 none none\r\nwfd_audio_codecs: none\r\nwfd_client_rtp_ports: RTP/AVP/UDP;unicast 19000 0 mode=play\r\n";
    let m3_reply = format!(
        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: text/parameters\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let out = feed(&mut src, t, &m3_reply);
    // 1920x1080p30 ranks first (124 M), then 1280x720p60 (111 M), then 1280x720p30.
    assert!(
        out[0].contains("wfd_video_formats: 00 00 02 04 00000080 00000000 00000000"),
        "{}",
        out[0]
    );
    let refuse = |cseq: u32| {
        let b = "wfd_video_formats: 415\r\n";
        format!(
            "RTSP/1.0 303 See Other\r\nCSeq: {cseq}\r\nContent-Type: text/parameters\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
    };
    let out = feed(&mut src, t, &refuse(3));
    assert!(out[0].contains("00 00 02 04 00000040"), "{}", out[0]);
    let out = feed(&mut src, t, &refuse(4));
    assert!(out[0].contains("00 00 02 04 00000020"), "{}", out[0]);
    let out = feed(&mut src, t, &refuse(5));
    assert!(out.is_empty());
    let events: Vec<Event> = std::iter::from_fn(|| src.poll_event()).collect();
    assert!(events.contains(&Event::Closed(CloseReason::ErrorReply {
        to: MessageKind::M4,
        status: 303
    })));
}

/// Feeds a scripted peer's bytes to our sink and returns what it sent back.
fn feed_sink(sink: &mut miracast_sim::wfd::Sink, now: SimTime, bytes: &str) -> Vec<String> {
    use miracast_sim::wfd::Endpoint;
    sink.handle_input(now, bytes.as_bytes());
    std::iter::from_fn(|| sink.poll_transmit())
        .map(|b| String::from_utf8(b).unwrap())
        .collect()
}

fn with_body(head: &str, body: &str) -> String {
    format!(
        "{head}Content-Type: text/parameters\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Everything GNOME Network Displays 0.90.5 does on the wire (the interop notes in README.md),
/// replayed against our sink: each departure is tolerated and named in a warning.
#[test]
fn sink_accepts_everything_gnome_network_displays_does() {
    use miracast_sim::wfd::{Endpoint, Sink};
    let config = SinkConfig {
        personality: Personality::NoAudio,
        capabilities: miracast_sim::wfd::sink::CapabilityOverrides {
            video_formats: Some(
                "00 00 02 04 00000060 00000000 00000000 00 0000 0000 11 none none".into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut sink = Sink::new(config, SimTime::ZERO).unwrap();
    let gst = "Server: GStreamer RTSP server\r\n";
    let t = SimTime::from_millis(500);
    let out = feed_sink(
        &mut sink,
        t,
        &format!("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: org.wfa.wfd1.0\r\n{gst}\r\n"),
    );
    assert!(out[0].starts_with("RTSP/1.0 200 OK"));
    assert!(
        out[1].starts_with("OPTIONS * RTSP/1.0"),
        "M2 follows: {out:?}"
    );
    // M3 arrives before the reply to our M2.
    let m3 = with_body(
        &format!("GET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\nCSeq: 2\r\n{gst}"),
        "wfd_client_rtp_ports\r\nwfd_audio_codecs\r\nwfd_video_formats\r\nwfd_display_edid\r\nwfd_idr_request_capability\r\nmicrosoft_cursor\r\n",
    );
    let out = feed_sink(&mut sink, t, &m3);
    assert!(out[0].contains("wfd_audio_codecs: none"));
    assert!(
        !out[0].contains("microsoft_cursor"),
        "unknown-to-us names are omitted"
    );
    let out = feed_sink(
        &mut sink,
        t,
        &format!(
            "RTSP/1.0 200 OK\r\nCSeq: 1\r\n{gst}Public: org.wfa.wfd1.0, SET_PARAMETER, GET_PARAMETER, OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, PAUSE, TEARDOWN\r\n\r\n"
        ),
    );
    assert!(out.is_empty());
    // M4: 1920x1080p30 whatever we offered, our profile/level echoed, AAC although we have no audio.
    let m4 = with_body(
        &format!("SET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\nCSeq: 3\r\n{gst}"),
        "wfd_video_formats: 00 00 02 04 00000080 00000000 00000000 00 0000 0000 11 none none\r\nwfd_audio_codecs: AAC 00000001 00\r\nwfd_presentation_URL: rtsp://127.0.0.1:7236/wfd1.0/streamid=0 none\r\nwfd_client_rtp_ports: RTP/AVP/UDP;unicast 19000 19001 mode=play\r\n",
    );
    let out = feed_sink(&mut sink, t, &m4);
    assert!(out[0].starts_with("RTSP/1.0 200 OK"), "{out:?}");
    let m5 = with_body(
        &format!("SET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\nCSeq: 4\r\n{gst}"),
        "wfd_trigger_method: SETUP\r\n",
    );
    let out = feed_sink(&mut sink, t, &m5);
    assert!(out[1].starts_with("SETUP rtsp://127.0.0.1:7236/wfd1.0/streamid=0 RTSP/1.0"));
    let out = feed_sink(
        &mut sink,
        t,
        &format!(
            "RTSP/1.0 200 OK\r\nCSeq: 2\r\n{gst}Transport: RTP/AVP;unicast;client_port=19000;server_port=50202-50203;ssrc=00000001;mode=\"PLAY\"\r\nSession: 6rFkN1mNKtkcXSP4;timeout=30\r\n\r\n"
        ),
    );
    assert!(out[0].starts_with("PLAY "), "{out:?}");
    assert!(
        out[0].contains("Session: 6rFkN1mNKtkcXSP4\r\n"),
        "id without ;timeout"
    );
    feed_sink(
        &mut sink,
        t,
        "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 6rFkN1mNKtkcXSP4\r\n\r\n",
    );
    assert!(sink.negotiation_complete());
    // Keep-alive on the stream URL, 25.7 s later.
    let ka = SimTime::from_millis(26_400);
    let out = feed_sink(
        &mut sink,
        ka,
        &format!(
            "GET_PARAMETER rtsp://127.0.0.1:7236/wfd1.0/streamid=0 RTSP/1.0\r\nCSeq: 5\r\nSession: 6rFkN1mNKtkcXSP4\r\n{gst}\r\n"
        ),
    );
    assert!(out[0].starts_with("RTSP/1.0 200 OK") && out[0].contains("CSeq: 5"));
    // TEARDOWN on the stream URL: 460, then the aggregate URL.
    sink.request_teardown(ka);
    let out: Vec<String> = std::iter::from_fn(|| sink.poll_transmit())
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    assert!(out[0].starts_with("TEARDOWN rtsp://127.0.0.1:7236/wfd1.0/streamid=0 "));
    let out = feed_sink(
        &mut sink,
        ka,
        &format!("RTSP/1.0 460 Only aggregate operation allowed\r\nCSeq: 4\r\n{gst}\r\n"),
    );
    assert!(
        out[0].starts_with("TEARDOWN rtsp://127.0.0.1:7236/wfd1.0 RTSP/1.0"),
        "{out:?}"
    );
    feed_sink(&mut sink, ka, "RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n");
    assert!(sink.is_closed());
    let events: Vec<Event> = std::iter::from_fn(|| sink.poll_event()).collect();
    let warnings: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::PeerWarning { peer, what } => {
                assert_eq!(peer.as_deref(), Some("GStreamer RTSP server"));
                Some(what.clone())
            }
            _ => None,
        })
        .collect();
    for needle in [
        "methods beyond WFD: OPTIONS, DESCRIBE, ANNOUNCE, RECORD",
        "M4 selects 1920x1080p30, which this sink did not offer",
        "announces audio 'AAC 00000001 00' although the sink offered none",
        "port1 is 19001",
        "omits /UDP",
        "answered 460",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "no warning with '{needle}' in {warnings:#?}"
        );
    }
    assert_eq!(
        events.last(),
        Some(&Event::Closed(CloseReason::TeardownComplete))
    );
}
