//! WFD benchmarks: the parameter codec on real M3/M4 bodies, and the M1..M7 handshake over
//! loopback TCP next to a bare 7-round-trip TCP exchange measured in the same run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use miracast_sim::net::{RunOptions, sink_connect, source_listen};
use miracast_sim::wfd::params::ParameterList;
use miracast_sim::wfd::{SinkConfig, SourceConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The M3 reply body a Samsung sink sent a Windows 8.1 source (public capture, 12 parameters).
const M3_REPLY: &str = "wfd_audio_codecs: LPCM 00000003 00, AAC 00000001 00\r\n\
wfd_video_formats: 40 00 02 04 0001DEFF 053C7FFF 00000FFF 00 0000 0000 11 none none, 01 04 0001DEFF 053C7FFF 00000FFF 00 0000 0000 11 none none\r\n\
wfd_3d_video_formats: 80 00 03 0F 0000000000000005 00 0001 1401 13 none none\r\n\
wfd_content_protection: HDCP2.1 port=1189\r\n\
wfd_display_edid: 0002 00ffffffffffff004c2dde07000000002f14010380834a780aee91a3544c99260f5054bdef80714f8100814081809500950fb300a940023a801871382d40582c4500a05a0000001e662150b051001b3040703600a05a0000001e000000fd00184b1a5117000a202020202020000000fc0053414d53554e470a202020202001fd02032ef14b901f0413051403122021222309070783010000e2000f72030c004000b82d20d0080140073f405090a0023a80d072382d40102c4580a05a0000001e011d00bc52d01e20b8285540a05a0000001e011d80d0721c1620102c2580a05a0000009e00000000000000000000000000000000000000000000000000000078\r\n\
wfd_coupled_sink: none\r\n\
wfd_client_rtp_ports: RTP/AVP/UDP;unicast 19000 0 mode=play\r\n\
wfd_uibc_capability: none\r\n\
wfd_connector_type: 05\r\n\
wfd_standby_resume_capability: supported\r\n\
intel_sink_version: product_ID=widicesdk hw_version=02.00.00.0000 sw_version=02.04.46.0000\r\n\
intel_lower_bandwidth: none\r\n";

/// The M4 body of the same capture (4 parameters).
const M4_BODY: &str = "wfd_audio_codecs: AAC 00000001 00\r\n\
wfd_video_formats: 00 00 02 04 00000020 00000000 00000000 00 0000 0000 11 none none\r\n\
wfd_presentation_URL: rtsp://192.168.173.1/wfd1.0/streamid=0 none\r\n\
wfd_client_rtp_ports: RTP/AVP/UDP;unicast 19000 0 mode=play\r\n";

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("wfd_params");
    for (name, body) in [("m3_reply", M3_REPLY), ("m4", M4_BODY)] {
        let list = ParameterList::parse(body.as_bytes()).unwrap();
        let typed = list.typed().unwrap();
        group.throughput(Throughput::Elements(typed.len() as u64));
        group.bench_function(format!("parse_{name}"), |b| {
            b.iter(|| {
                ParameterList::parse(black_box(body.as_bytes()))
                    .unwrap()
                    .typed()
                    .unwrap()
            })
        });
        group.bench_function(format!("serialise_{name}"), |b| {
            b.iter(|| ParameterList::from_params(black_box(&typed)).to_body())
        });
    }
    group.finish();
}

async fn handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let source = source_listen(
        &listener,
        SourceConfig::default(),
        RunOptions {
            send_rtp: false,
            ..Default::default()
        },
    );
    // Tear down as soon as PLAY is answered: M1..M7, then M8 closes both sides.
    let sink_opts = RunOptions {
        duration: Some(Duration::ZERO),
        ..Default::default()
    };
    let sink = sink_connect(
        addr,
        SinkConfig {
            rtp_port: 0,
            ..Default::default()
        },
        sink_opts,
    );
    let (a, b) = tokio::join!(source, sink);
    assert!(a.unwrap().negotiation_completed && b.unwrap().negotiation_completed);
}

/// Seven request/reply round trips of 200 bytes on a fresh loopback connection, with
/// `TCP_NODELAY` like the WFD transport.
async fn bare_round_trips() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 200];
        for _ in 0..7 {
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        }
    };
    let client = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [7u8; 200];
        for _ in 0..7 {
            s.write_all(&buf).await.unwrap();
            s.read_exact(&mut buf).await.unwrap();
        }
    };
    tokio::join!(server, client);
}

fn transport(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("wfd_loopback");
    group.sample_size(30);
    group.bench_function("handshake_m1_m7_tcp", |b| {
        b.iter(|| rt.block_on(handshake()))
    });
    group.bench_function("bare_7_round_trips_tcp", |b| {
        b.iter(|| rt.block_on(bare_round_trips()))
    });
    group.finish();
}

criterion_group!(benches, codec, transport);
criterion_main!(benches);
