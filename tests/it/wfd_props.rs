//! Property tests of the WFD codec: serialise-then-parse gives the same value for every
//! parameter type, and no input (message bytes, parameter values, captures) makes anything
//! panic.

use miracast_sim::time::SimTime;
use miracast_sim::wfd::capture::decode_capture;
use miracast_sim::wfd::message::{Framer, RtspMessage};
use miracast_sim::wfd::params::*;
use miracast_sim::wfd::{Endpoint, Sink, SinkConfig, Source, SourceConfig};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn codec() -> impl Strategy<Value = H264Codec> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        ),
        (
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            option::of(any::<u16>()),
            option::of(any::<u16>()),
        ),
    )
        .prop_map(
            |(
                (profile, level, cea, vesa, hh),
                (latency, min_slice_size, slice_enc_params, frame_rate_control, max_hres, max_vres),
            )| {
                H264Codec {
                    profile,
                    level,
                    cea,
                    vesa,
                    hh,
                    latency,
                    min_slice_size,
                    slice_enc_params,
                    frame_rate_control,
                    max_hres,
                    max_vres,
                }
            },
        )
}

fn codec3d() -> impl Strategy<Value = H264Codec3d> {
    (
        (any::<u8>(), any::<u8>(), any::<u64>(), any::<u8>()),
        (
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            option::of(any::<u16>()),
            option::of(any::<u16>()),
        ),
    )
        .prop_map(
            |(
                (profile, level, capability, latency),
                (min_slice_size, slice_enc_params, frame_rate_control, max_hres, max_vres),
            )| {
                H264Codec3d {
                    profile,
                    level,
                    capability,
                    latency,
                    min_slice_size,
                    slice_enc_params,
                    frame_rate_control,
                    max_hres,
                    max_vres,
                }
            },
        )
}

fn audio() -> impl Strategy<Value = AudioCodecs> {
    vec(
        (
            prop_oneof![
                Just(AudioFormat::Lpcm),
                Just(AudioFormat::Aac),
                Just(AudioFormat::Ac3)
            ],
            any::<u32>(),
            any::<u8>(),
        )
            .prop_map(|(format, modes, latency)| AudioCodec {
                format,
                modes,
                latency,
            }),
        0..4,
    )
    .prop_map(AudioCodecs)
}

fn uri() -> impl Strategy<Value = PresentationUri> {
    (any::<[u8; 4]>(), option::of(any::<u16>()), any::<u8>()).prop_map(|(ip, port, stream_id)| {
        PresentationUri {
            host: ip.into(),
            port,
            stream_id,
        }
    })
}

fn edid() -> impl Strategy<Value = Option<DisplayEdid>> {
    option::of((0u16..3).prop_flat_map(|count| {
        let n = usize::from(count) * 128;
        // An empty payload is spelled `none`, so a payload needs at least one block.
        option::of(vec(any::<u8>(), n..=n)).prop_map(move |payload| DisplayEdid {
            block_count: count,
            payload: payload.filter(|p| !p.is_empty()),
        })
    }))
}

fn uibc() -> impl Strategy<Value = Option<UibcCapability>> {
    let types = prop::sample::select(device::UIBC_INPUT_TYPES.to_vec());
    let paths = prop::sample::select(device::UIBC_INPUT_PATHS.to_vec());
    option::of(
        (
            vec(
                prop_oneof![
                    Just(UibcInputCategory::Generic),
                    Just(UibcInputCategory::Hidc)
                ],
                0..3,
            ),
            option::of(vec(types.clone().prop_map(str::to_owned), 0..4)),
            option::of(vec(
                (types, paths).prop_map(|(t, p)| HidcCapability {
                    input_type: t.to_owned(),
                    path: p.to_owned(),
                }),
                0..4,
            )),
            option::of(any::<u16>()),
        )
            .prop_map(|(categories, generic, hidc, port)| UibcCapability {
                categories,
                generic,
                hidc,
                port,
            }),
    )
}

fn text(re: &'static str) -> impl Strategy<Value = String> {
    proptest::string::string_regex(re)
        .unwrap()
        .prop_filter("not 'none'", |s| !s.eq_ignore_ascii_case("none"))
}

/// Every typed parameter, plus raw ones under names no codec claims.
fn parameter() -> impl Strategy<Value = Parameter> {
    let group_a = prop_oneof![
        audio().prop_map(Parameter::AudioCodecs),
        option::of((any::<u8>(), any::<u8>(), vec(codec(), 1..3)).prop_map(
            |(native, pref, codecs)| VideoFormats {
                native,
                preferred_display_mode_supported: pref,
                codecs
            }
        ))
        .prop_map(Parameter::VideoFormats),
        option::of((any::<u8>(), any::<u8>(), vec(codec3d(), 1..3)).prop_map(
            |(native, pref, codecs)| Video3dFormats {
                native,
                preferred_display_mode_supported: pref,
                codecs
            }
        ))
        .prop_map(Parameter::Video3dFormats),
        option::of((
            prop_oneof![Just(HdcpVersion::Hdcp2_0), Just(HdcpVersion::Hdcp2_1)],
            any::<u16>()
        ))
        .prop_map(|c| Parameter::ContentProtection(
            c.map(|(version, port)| ContentProtection { version, port })
        )),
        edid().prop_map(Parameter::DisplayEdid),
        option::of((any::<u8>(), option::of(any::<[u8; 6]>()))).prop_map(|c| {
            Parameter::CoupledSink(c.map(|(status, mac)| CoupledSink { status, mac }))
        }),
        prop_oneof![
            Just(TriggerMethod::Setup),
            Just(TriggerMethod::Play),
            Just(TriggerMethod::Pause),
            Just(TriggerMethod::Teardown)
        ]
        .prop_map(Parameter::TriggerMethod),
        (option::of(uri()), option::of(uri()))
            .prop_map(|(url0, url1)| Parameter::PresentationUrl(PresentationUrl { url0, url1 })),
        (
            prop_oneof![
                Just(RtpProfile::UdpUnicast),
                Just(RtpProfile::TcpUnicast),
                Just(RtpProfile::TcpInterleaved)
            ],
            any::<u16>(),
            any::<u16>()
        )
            .prop_map(|(profile, port0, port1)| Parameter::ClientRtpPorts(
                ClientRtpPorts {
                    profile,
                    port0,
                    port1
                }
            )),
        prop_oneof![Just(Route::Primary), Just(Route::Secondary)].prop_map(Parameter::Route),
        option::of(any::<u16>()).prop_map(Parameter::I2c),
        (0u64..1 << 40, 0u64..1 << 40).prop_map(|(pts, dts)| Parameter::AvFormatChangeTiming(
            AvFormatChangeTiming { pts, dts }
        )),
    ];
    let group_b = prop_oneof![
        option::of(vec(text("[0-9A-F]{1,6}"), 1..6)).prop_map(Parameter::PreferredDisplayMode),
        uibc().prop_map(Parameter::UibcCapability),
        prop_oneof![Just(UibcSetting::Enable), Just(UibcSetting::Disable)]
            .prop_map(Parameter::UibcSetting),
        any::<bool>().prop_map(Parameter::StandbyResumeCapability),
        Just(Parameter::Standby),
        option::of(any::<u8>()).prop_map(|c| Parameter::ConnectorType(c.map(ConnectorType))),
        Just(Parameter::IdrRequest),
        any::<bool>().prop_map(Parameter::IdrRequestCapability),
        any::<bool>().prop_map(Parameter::MicrosoftDiagnosticsCapability),
        (
            any::<u32>(),
            text("([A-Za-z0-9.]([A-Za-z0-9 .]{0,20}[A-Za-z0-9.])?)?")
        )
            .prop_map(|(code, reason)| Parameter::MicrosoftTeardownReason(
                TeardownReason { code, reason }
            )),
        any::<bool>().prop_map(Parameter::MicrosoftFormatChangeCapability),
        prop_oneof![
            Just(LatencyManagement::Supported),
            Just(LatencyManagement::None),
            Just(LatencyManagement::Low),
            Just(LatencyManagement::Normal),
            Just(LatencyManagement::High)
        ]
        .prop_map(Parameter::MicrosoftLatencyManagement),
        any::<bool>().prop_map(Parameter::MicrosoftRtcpCapability),
        any::<u64>().prop_map(Parameter::MicrosoftMaxBitrate),
        any::<bool>().prop_map(Parameter::MicrosoftMultiscreenProjection),
        any::<bool>().prop_map(Parameter::MicrosoftAudioMute),
    ];
    let group_c = prop_oneof![
        (0u64..1 << 48).prop_map(Parameter::MicrosoftVideoFormats),
        option::of((any::<bool>(), any::<u16>(), any::<u16>(), any::<u16>())).prop_map(|c| {
            Parameter::MicrosoftCursor(c.map(|(xor_full, max_width, max_height, port)| {
                MicrosoftCursor {
                    xor_full,
                    max_width,
                    max_height,
                    port,
                }
            }))
        }),
        text("[A-Za-z0-9_.]([A-Za-z0-9 _.]{0,16}[A-Za-z0-9_.])?")
            .prop_map(Parameter::IntelFriendlyName),
        option::of(text("[A-Za-z0-9.,]([A-Za-z0-9 .,]{0,28}[A-Za-z0-9.,])?"))
            .prop_map(Parameter::IntelSinkManufacturerName),
        option::of(text("[A-Za-z0-9.,]([A-Za-z0-9 .,]{0,28}[A-Za-z0-9.,])?"))
            .prop_map(Parameter::IntelSinkModelName),
        option::of(text("http://[a-z]{1,20}/[a-z0-9]{0,20}"))
            .prop_map(Parameter::IntelSinkDeviceUrl),
        (
            text("[A-Za-z0-9]{1,16}"),
            text("[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,4}\\.[0-9]{1,4}"),
            text("[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,4}\\.[0-9]{1,4}")
        )
            .prop_map(
                |(product_id, hw_version, sw_version)| Parameter::IntelSinkVersion(
                    IntelSinkVersion {
                        product_id,
                        hw_version,
                        sw_version
                    }
                )
            ),
        option::of(text("[A-Za-z0-9+/]{464,600}")).prop_map(Parameter::IntelSinkManufacturerLogo),
        any::<u16>().prop_map(Parameter::IntelFastCursor),
        (
            text("x_[a-z0-9_]{1,12}"),
            option::of(text("([!-~]([ -~]{0,28}[!-~])?)?"))
        )
            .prop_map(|(name, value)| Parameter::Raw { name, value }),
    ];
    prop_oneof![group_a, group_b, group_c]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_parameter_round_trips(p in parameter()) {
        let value = p.value();
        let back = Parameter::parse(p.name(), value.as_deref()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &p, "via '{}'", p);
    }

    #[test]
    fn parameter_bodies_round_trip_in_messages(ps in vec(parameter(), 0..8), cseq in any::<u32>()) {
        let list = ParameterList::from_params(&ps);
        let msg = RtspMessage::request(rtsp_types::Method::SetParameter, "rtsp://localhost/wfd1.0", cseq).with_params(&list);
        let back = RtspMessage::parse_one(&msg.to_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.cseq().unwrap(), cseq);
        let typed = back.params().unwrap().typed().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(typed, ps);
    }

    #[test]
    fn parameter_parsing_never_panics(i in 0..names::TYPED.len(), value in option::of("\\PC{0,80}")) {
        let _ = Parameter::parse(names::TYPED[i], value.as_deref());
    }

    #[test]
    fn parameter_parsing_never_panics_on_near_misses(p in parameter(), cut in 0usize..200, junk in "[ -~]{0,5}") {
        if let Some(v) = p.value() {
            let mut end = cut.min(v.len());
            while !v.is_char_boundary(end) { end -= 1; }
            let mutated = format!("{}{}", &v[..end], junk);
            let _ = Parameter::parse(p.name(), Some(&mutated));
        }
    }

    #[test]
    fn message_parsing_never_panics(bytes in vec(any::<u8>(), 0..600)) {
        let _ = RtspMessage::parse_one(&bytes);
        let _ = decode_capture(&bytes);
    }

    #[test]
    fn framing_never_panics_on_rtsp_like_noise(
        chunks in vec(prop_oneof![
            Just(b"OPTIONS * RTSP/1.0\r\n".to_vec()),
            Just(b"RTSP/1.0 200 OK\r\n".to_vec()),
            Just(b"CSeq: 1\r\n".to_vec()),
            Just(b"Content-Length: 5\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            vec(any::<u8>(), 0..20),
        ], 0..20)
    ) {
        let mut framer = Framer::new(1024);
        for c in &chunks {
            framer.push(c);
            while let Ok(Some(_)) = framer.next_message() {}
        }
        let mut source = Source::new(SourceConfig::default(), SimTime::ZERO);
        let mut sink = Sink::new(SinkConfig::default(), SimTime::ZERO).unwrap();
        for (i, c) in chunks.iter().enumerate() {
            let now = SimTime::from_millis(i as u64);
            source.handle_input(now, c);
            sink.handle_input(now, c);
            while source.poll_transmit().is_some() {}
            while sink.poll_transmit().is_some() {}
        }
        source.handle_timeout(SimTime::from_millis(100_000));
        sink.handle_timeout(SimTime::from_millis(100_000));
        prop_assert!(source.is_closed());
    }
}
