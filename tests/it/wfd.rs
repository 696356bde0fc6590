//! Wi-Fi Display tests: every public vector decoded as its `expect` says.
//!
//! Where libwds' verdict (`oracle_libwds`) disagrees with the reference grammar we follow the
//! grammar: `win8-m3-reply` is rejected by libwds only because its EDID lexer cannot read any
//! non-`none` `wfd_display_edid` (a libwds bug the vector's note documents), and
//! `win10sink-m3-reply` only because libwds applies the strict R1 `wfd_uibc_capability`
//! grammar, which requires `generic_cap_list=`; the reference tells us to accept the
//! Windows-style value leniently. Both are decoded and checked field by field below.

use miracast_sim::wfd::message::{
    Direction, MessageKind, Role, RtspMessage, TransportHeader, guess_reply_kind, public_tokens,
};
use miracast_sim::wfd::params::{ErrorList, Parameter, ParameterList, VideoTable};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/wfd-vectors-public.json"
    ))
    .expect("tests/data/wfd-vectors-public.json is part of the repository");
    serde_json::from_str::<Vec<Value>>(&text).expect("vector file is JSON")
}

fn direction(v: &Value) -> Direction {
    match v["direction"].as_str() {
        Some("source->sink") => Direction::SourceToSink,
        _ => Direction::SinkToSource,
    }
}

/// Decodes a vector the way the simulator reads a peer's message: framing, CSeq, and every
/// body line typed (a 303 body as error codes).
fn decode(raw: &str) -> Result<(RtspMessage, ParameterList), String> {
    let msg = RtspMessage::parse_one(raw.as_bytes()).map_err(|e| e.to_string())?;
    msg.cseq().map_err(|e| e.to_string())?;
    let list = msg.params().map_err(|e| e.to_string())?;
    if msg.status() == Some(303) {
        ErrorList::from_list(&list).map_err(|e| e.to_string())?;
    } else {
        list.typed().map_err(|e| e.to_string())?;
    }
    Ok((msg, list))
}

fn expected_error_fragment(id: &str) -> &'static str {
    match id {
        "wds-bad-method-case" => "method names are case-sensitive; 'OptionS' is not OPTIONS",
        "wds-cseq-overflow" => "does not fit a 32-bit integer",
        "wds-rtp-port-overflow" => {
            "wfd_client_rtp_ports: rtp-port0 is not a valid port (IPPORT = 1*5DIGIT, 0..65535"
        }
        "wds-audio-modes-overflow" => {
            "wfd_audio_codecs: modes of entry 1 must be exactly 8 hex digits"
        }
        "wds-audio-modes-17hex" => {
            "wfd_audio_codecs: modes of entry 1 must be exactly 8 hex digits (17 given)"
        }
        "wds-error-code-overflow" => {
            "wfd_audio_codecs: error code in a 303 body must be a 3-digit RTSP status"
        }
        "wds-uibc-trailing-garbage" => {
            "wfd_uibc_capability: value is neither 'none' nor a capability list"
        }
        other => panic!("invalid vector {other} has no expected error fragment"),
    }
}

#[test]
fn invalid_vectors_are_rejected_with_a_precise_error() {
    let mut seen = 0;
    for v in vectors().iter().filter(|v| v["valid"] == false) {
        let id = v["id"].as_str().unwrap();
        let err = decode(v["raw"].as_str().unwrap()).expect_err(id);
        let want = expected_error_fragment(id);
        assert!(
            err.contains(want),
            "{id}: got '{err}', want it to contain '{want}'"
        );
        seen += 1;
    }
    assert_eq!(seen, 7);
}

#[test]
fn valid_vectors_decode_as_expected() {
    let all = vectors();
    assert_eq!(all.len(), 44);
    for v in all.iter().filter(|v| v["valid"] == true) {
        let id = v["id"].as_str().unwrap();
        let (msg, list) =
            decode(v["raw"].as_str().unwrap()).unwrap_or_else(|e| panic!("{id}: {e}"));
        check_vector(id, v, &msg, &list);
    }
}

fn check_vector(id: &str, v: &Value, msg: &RtspMessage, list: &ParameterList) {
    let e = &v["expect"];
    let dir = direction(v);
    match e["kind"].as_str().unwrap() {
        "request" => {
            let method: &str = msg.method().unwrap().into();
            assert_eq!(method, e["method"].as_str().unwrap(), "{id} method");
            assert_eq!(msg.uri().unwrap(), e["uri"].as_str().unwrap(), "{id} uri");
        }
        _ => {
            assert_eq!(
                u64::from(msg.status().unwrap()),
                e["status"].as_u64().unwrap(),
                "{id} status"
            );
            let miracast_sim::wfd::message::StartLine::Response { reason, .. } = &msg.start else {
                unreachable!()
            };
            assert_eq!(reason, e["reason"].as_str().unwrap(), "{id} reason");
        }
    }
    assert_eq!(
        u64::from(msg.cseq().unwrap()),
        e["cseq"].as_u64().unwrap(),
        "{id} cseq"
    );
    for (name, value) in e["headers"].as_object().unwrap() {
        assert_eq!(msg.header(name), value.as_str(), "{id} header {name}");
    }
    assert_eq!(
        msg.body.len() as u64,
        e["content_length"].as_u64().unwrap(),
        "{id} content length"
    );
    if let Some(body) = e["body"].as_str() {
        assert_eq!(msg.body, body.as_bytes(), "{id} body");
    }
    if let Some(order) = e["param_order"].as_array() {
        let names: Vec<&str> = list.names().collect();
        let want: Vec<&str> = order.iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(names, want, "{id} parameter order");
        for (name, value) in e["params"].as_object().unwrap() {
            assert_eq!(
                list.line(name).unwrap().value.as_deref(),
                value.as_str(),
                "{id} param {name}"
            );
        }
    }
    if let Some(label) = e["message"].as_str() {
        let got = if msg.is_response() {
            format!("{} response", guess_reply_kind(dir, msg))
        } else {
            let sender = if dir == Direction::SourceToSink {
                Role::Source
            } else {
                Role::Sink
            };
            MessageKind::of_request(msg.method().unwrap(), sender, list).to_string()
        };
        // "M4 (mid-session format change)" is still an M4.
        let want = label.split(" (").next().unwrap();
        assert_eq!(got, want, "{id} classification");
    }
    if let Some(req) = e["require"].as_str() {
        assert_eq!(msg.header("Require"), Some(req), "{id} require");
    }
    if let Some(public) = e["public"].as_array() {
        let want: Vec<String> = public
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            public_tokens(msg.header("Public").unwrap()),
            want,
            "{id} public"
        );
    }
    if let Some(sid) = e["session_id"].as_str() {
        assert_eq!(msg.session().unwrap().id, sid, "{id} session id");
    }
    if let Some(t) = e["session_timeout_s"].as_u64() {
        assert_eq!(
            msg.session().unwrap().timeout_s.map(u64::from),
            Some(t),
            "{id} session timeout"
        );
    }
    if let Some(t) = e["transport"].as_object() {
        check_transport(
            id,
            t,
            &TransportHeader::parse(msg.header("Transport").unwrap()).unwrap(),
        );
    }
    if let Some(ua) = e["user_agent"].as_object() {
        let (product, version) = msg.header("User-Agent").unwrap().split_once('/').unwrap();
        assert_eq!(Some(product), ua["product"].as_str(), "{id} ua product");
        assert_eq!(Some(version), ua["version"].as_str(), "{id} ua version");
    }
    if let Some(ct) = e["content_type"].as_str() {
        assert_eq!(msg.header("Content-Type"), Some(ct), "{id} content type");
    }
    if let Some(headers) = e["generic_headers"].as_object() {
        for (name, value) in headers {
            assert_eq!(
                msg.header(name),
                value.as_str(),
                "{id} generic header {name}"
            );
        }
    }
    if let Some(params) = e["generic_params"].as_object() {
        for (name, value) in params {
            let p = list.line(name).unwrap().typed().unwrap();
            assert!(
                matches!(p, Parameter::Raw { .. }),
                "{id}: {name} must stay raw"
            );
            assert_eq!(
                p.value().as_deref(),
                value.as_str(),
                "{id} generic param {name}"
            );
        }
    }
    if let Some(payload) = e["error_payload"].as_object() {
        let errors = ErrorList::from_list(list).unwrap();
        for (name, codes) in payload {
            let want: Vec<u16> = codes
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap() as u16)
                .collect();
            assert_eq!(
                errors.codes(name),
                Some(want.as_slice()),
                "{id} 303 codes of {name}"
            );
        }
    }
    for name in e["absent_params"]
        .as_array()
        .into_iter()
        .chain(e["omitted_requested_params"].as_array())
        .flatten()
    {
        assert!(
            !list.contains(name.as_str().unwrap()),
            "{id}: {name} must be absent"
        );
    }
    if let Some(total) = e["total_h264_formats"].as_u64() {
        let Parameter::VideoFormats(Some(v)) = list.get("wfd_video_formats").unwrap().unwrap()
        else {
            panic!()
        };
        assert_eq!(v.combination_count() as u64, total, "{id} combinations");
    }
    if let Some(typed) = e["typed"].as_object() {
        for (name, want) in typed {
            let p = list
                .get(name)
                .unwrap()
                .unwrap_or_else(|| panic!("{id}: {name} missing"));
            check_typed(id, name, want, &p);
        }
    }
    if let Some(decoded) = e["decoded"].as_object()
        && msg.status() != Some(303)
    {
        for (name, want) in decoded {
            let p = list.get(name).unwrap().unwrap();
            match &p {
                Parameter::AudioCodecs(a) => check_audio(id, want, a),
                Parameter::VideoFormats(vf) => check_video(id, want, vf.as_ref()),
                other => panic!("{id}: unexpected decoded parameter {other:?}"),
            }
        }
    }
    if let Some(selected) = e["selected"].as_object() {
        let Parameter::VideoFormats(Some(vf)) = list.get("wfd_video_formats").unwrap().unwrap()
        else {
            panic!()
        };
        let modes = vf.codecs[0].modes();
        assert_eq!(modes.len(), 1, "{id}: M4 carries exactly one mode");
        assert_eq!(
            Some(modes[0].2.to_string().as_str()),
            selected["video"].as_str(),
            "{id} selected video"
        );
        if let Some(p) = selected.get("profile") {
            let profiles =
                miracast_sim::wfd::params::H264Profile::from_bitmap(vf.codecs[0].profile);
            assert_eq!(profiles.len(), 1);
            assert_eq!(Some(profiles[0].to_string().as_str()), p.as_str());
        }
        if let Some(l) = selected.get("level") {
            let levels = miracast_sim::wfd::params::H264Level::from_bitmap(vf.codecs[0].level);
            assert_eq!(Some(levels[0].to_string().as_str()), l.as_str());
        }
        if let Some(a) = selected.get("audio") {
            let Parameter::AudioCodecs(ac) = list.get("wfd_audio_codecs").unwrap().unwrap() else {
                panic!()
            };
            let c = ac.0[0];
            assert_eq!(
                format!("{} {}", c.format, c.mode_names().join(",")),
                a.as_str().unwrap()
            );
        }
    }
}

fn check_transport(id: &str, want: &serde_json::Map<String, Value>, t: &TransportHeader) {
    for (k, v) in want {
        match k.as_str() {
            "profile" => assert_eq!(
                Some(t.profile.as_str()),
                v.as_str(),
                "{id} transport profile"
            ),
            "unicast" => assert_eq!(Some(t.unicast), v.as_bool(), "{id} unicast"),
            "client_port" => assert_eq!(
                t.client_port.map(|p| u64::from(p.0)),
                v.as_u64(),
                "{id} client_port"
            ),
            "client_rtcp_port" => {
                assert_eq!(
                    t.client_port.and_then(|p| p.1).map(u64::from),
                    v.as_u64(),
                    "{id} client rtcp"
                )
            }
            "server_port" => assert_eq!(
                t.server_port.map(|p| u64::from(p.0)),
                v.as_u64(),
                "{id} server_port"
            ),
            "server_rtcp_port" | "server_port_range_end" => {
                assert_eq!(
                    t.server_port.and_then(|p| p.1).map(u64::from),
                    v.as_u64(),
                    "{id} {k}"
                )
            }
            other => panic!("{id}: unknown transport field {other}"),
        }
    }
}

fn check_typed(id: &str, name: &str, want: &Value, p: &Parameter) {
    match (p, want) {
        (_, Value::String(s)) => {
            assert!(
                p.value().unwrap().eq_ignore_ascii_case(s),
                "{id} {name}: {p} vs {s}"
            )
        }
        (_, Value::Number(n)) => assert_eq!(p.value().unwrap(), n.to_string(), "{id} {name}"),
        (_, Value::Null) => assert_eq!(p.value().as_deref(), Some("none"), "{id} {name}"),
        (Parameter::AvFormatChangeTiming(t), Value::Object(o)) => {
            assert_eq!(Some(t.pts), o["pts"].as_u64(), "{id} pts");
            assert_eq!(Some(t.dts), o["dts"].as_u64(), "{id} dts");
        }
        (Parameter::ClientRtpPorts(r), Value::Object(o)) => {
            assert_eq!(
                Some(u64::from(r.port0)),
                o["rtp_port0"].as_u64(),
                "{id} port0"
            );
            assert_eq!(
                Some(u64::from(r.port1)),
                o["rtp_port1"].as_u64(),
                "{id} port1"
            );
            if let Some(profile) = o.get("profile") {
                assert_eq!(Some(r.profile.to_string().as_str()), profile.as_str());
            }
        }
        (Parameter::PresentationUrl(u), Value::Object(o)) => {
            assert_eq!(
                u.url0.map(|u| u.to_string()).as_deref(),
                o["url0"].as_str(),
                "{id} url0"
            );
            assert_eq!(
                u.url1.map(|u| u.to_string()).as_deref(),
                o["url1"].as_str(),
                "{id} url1"
            );
        }
        (Parameter::I2c(port), Value::Object(o)) => {
            assert_eq!(port.map(u64::from), o["port"].as_u64())
        }
        (Parameter::ContentProtection(Some(c)), Value::Object(o)) => {
            assert_eq!(Some(c.version.to_string().as_str()), o["hdcp"].as_str());
            assert_eq!(Some(u64::from(c.port)), o["port"].as_u64());
        }
        (Parameter::ConnectorType(Some(c)), Value::Object(o)) => {
            assert_eq!(Some(u64::from(c.0)), o["value"].as_u64());
            assert_eq!(Some(c.name()), o["name"].as_str());
        }
        (Parameter::Video3dFormats(Some(v)), Value::Object(o)) => {
            let c = &v.codecs[0];
            let pairs = [
                ("native", u64::from(v.native)),
                (
                    "preferred_display_mode_supported",
                    u64::from(v.preferred_display_mode_supported),
                ),
                ("codecs", v.codecs.len() as u64),
                ("profile", u64::from(c.profile)),
                ("level", u64::from(c.level)),
                ("video_capability_3d", c.capability),
                ("latency", u64::from(c.latency)),
                ("min_slice_size", u64::from(c.min_slice_size)),
                ("slice_enc_params", u64::from(c.slice_enc_params)),
                (
                    "frame_rate_control_support",
                    u64::from(c.frame_rate_control),
                ),
            ];
            for (k, got) in pairs {
                assert_eq!(Some(got), o[k].as_u64(), "{id} 3d {k}");
            }
        }
        (Parameter::DisplayEdid(Some(edid)), Value::Object(o)) => {
            assert_eq!(Some(u64::from(edid.block_count)), o["block_count"].as_u64());
            assert_eq!(
                edid.payload.as_ref().map(|p| p.len() as u64),
                o["payload_bytes"].as_u64()
            );
            assert_eq!(edid.monitor_name().as_deref(), o["monitor_name"].as_str());
        }
        (Parameter::IntelSinkVersion(s), Value::Object(o)) => {
            assert_eq!(Some(s.product_id.as_str()), o["product_ID"].as_str());
            assert_eq!(Some(s.hw_version.as_str()), o["hw_version"].as_str());
            assert_eq!(Some(s.sw_version.as_str()), o["sw_version"].as_str());
        }
        (Parameter::MicrosoftCursor(Some(c)), Value::Object(o)) => {
            assert_eq!(
                o["xor_support"].as_str(),
                Some(if c.xor_full { "full" } else { "none" })
            );
            assert_eq!(Some(u64::from(c.max_width)), o["max_width"].as_u64());
            assert_eq!(Some(u64::from(c.max_height)), o["max_height"].as_u64());
            assert_eq!(Some(u64::from(c.port)), o["port"].as_u64());
        }
        (p, w) => panic!("{id}: no check for {name} = {w} (parsed {p:?})"),
    }
}

fn check_audio(id: &str, want: &Value, a: &miracast_sim::wfd::params::AudioCodecs) {
    if want.get("none").is_some() {
        assert!(a.is_none(), "{id} audio none");
        return;
    }
    let codecs = want["codecs"].as_array().unwrap();
    assert_eq!(codecs.len(), a.0.len(), "{id} audio entries");
    for (w, c) in codecs.iter().zip(&a.0) {
        assert_eq!(Some(c.format.to_string().as_str()), w["format"].as_str());
        assert_eq!(
            Some(format!("{:08X}", c.modes).as_str()),
            w["modes_bitmap"].as_str()
        );
        let names: Vec<&str> = w["modes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(c.mode_names(), names, "{id} audio modes");
        assert_eq!(Some(u64::from(c.latency) * 5), w["latency_ms"].as_u64());
    }
}

fn check_video(id: &str, want: &Value, vf: Option<&miracast_sim::wfd::params::VideoFormats>) {
    if want.get("none").is_some() {
        assert!(vf.is_none(), "{id} video none");
        return;
    }
    let vf = vf.unwrap();
    let native = &want["native"];
    assert_eq!(
        Some(format!("{:02X}", vf.native).as_str()),
        native["raw"].as_str()
    );
    let (table, index, mode) = vf.native_mode().unwrap();
    assert_eq!(
        Some(table.to_string().as_str()),
        native["table"].as_str(),
        "{id} native table"
    );
    assert_eq!(Some(u64::from(index)), native["index"].as_u64());
    assert_eq!(Some(mode.to_string().as_str()), native["mode"].as_str());
    assert_eq!(
        Some(u64::from(vf.preferred_display_mode_supported)),
        want["preferred_display_mode_supported"].as_u64()
    );
    let codecs = want["codecs"].as_array().unwrap();
    assert_eq!(codecs.len(), vf.codecs.len());
    for (w, c) in codecs.iter().zip(&vf.codecs) {
        let strs = |k: &str| -> Vec<String> {
            w[k].as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        let profiles: Vec<String> = miracast_sim::wfd::params::H264Profile::from_bitmap(c.profile)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(profiles, strs("profile"), "{id} profile");
        let levels: Vec<String> = miracast_sim::wfd::params::H264Level::from_bitmap(c.level)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(levels, strs("level"), "{id} level");
        for (table, key) in [
            (VideoTable::Cea, "cea_modes"),
            (VideoTable::Vesa, "vesa_modes"),
            (VideoTable::Hh, "hh_modes"),
        ] {
            let got: Vec<String> = c
                .modes()
                .iter()
                .filter(|m| m.0 == table)
                .map(|m| m.2.to_string())
                .collect();
            assert_eq!(got, strs(key), "{id} {key}");
        }
        for (table, key) in [
            (VideoTable::Cea, "cea"),
            (VideoTable::Vesa, "vesa"),
            (VideoTable::Hh, "hh"),
        ] {
            let want_bits: Vec<u8> = w["reserved_bits_set"][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect();
            assert_eq!(c.reserved_bits(table), want_bits, "{id} reserved {key}");
        }
        assert_eq!(Some(u64::from(c.latency) * 5), w["latency_ms"].as_u64());
        assert_eq!(
            Some(u64::from(c.min_slice_size)),
            w["min_slice_size"].as_u64()
        );
        assert_eq!(
            Some(u64::from(c.slice_enc_params)),
            w["slice_enc_params"].as_u64()
        );
        assert_eq!(
            Some(u64::from(c.frame_rate_control)),
            w["frame_rate_control_support"].as_u64()
        );
        assert_eq!(c.max_hres.map(u64::from), w["max_hres"].as_u64());
        assert_eq!(c.max_vres.map(u64::from), w["max_vres"].as_u64());
        assert_eq!(Some(c.modes().len() as u64), w["mode_count"].as_u64());
    }
}

#[test]
fn aosp_port1_nonzero_is_accepted_by_our_source() {
    // Parsing is fine; policy: we accept it (as GNOME does) rather than refuse like AOSP.
    let v = vectors()
        .into_iter()
        .find(|v| v["id"] == "aosp-rtp-port1-nonzero")
        .unwrap();
    let (_, list) = decode(v["raw"].as_str().unwrap()).unwrap();
    let caps = miracast_sim::wfd::select::SinkCapabilities::from_m3_reply(&list).unwrap();
    assert_eq!(caps.rtp_port, 19000);
}
