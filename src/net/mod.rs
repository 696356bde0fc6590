//! The tokio edge: Wi-Fi Display state machines on real TCP connections.
//!
//! The only place where the WFD code meets sockets and clocks. `run_endpoint` pumps any
//! [`Endpoint`] over a [`TcpStream`]: bytes read go to `handle_input`, `poll_transmit` is
//! written out, and virtual time ([`SimTime`]) is the time elapsed since a
//! [`tokio::time::Instant`] base taken when the connection started (so `start_paused` tests
//! control it). Framing and the per-message bound live in the state machines; here we bound
//! each read, and enforce a read timeout (a started message must complete) and an idle
//! timeout (no traffic at all).
//!
//! Entry points: [`sink_connect`], [`sink_listen`], [`source_connect`], [`source_listen`]
//! (and `*_on_stream` for an already connected socket). Each returns a [`RunOutcome`] with
//! the full exchange log and whether negotiation completed. The sink side also opens a UDP
//! socket on the RTP port it announces and counts RTP packets; the source side sends
//! MPEG-TS-shaped RTP packets to the sink's port while playing.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::Instant;

use crate::time::SimTime;
use crate::wfd::params::ParamError;
use crate::wfd::{
    CloseReason, Endpoint, Event, ExchangeRecord, Role, Sink, SinkConfig, Source, SourceConfig,
};

/// Bounds and timeouts of the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoLimits {
    /// Bytes read per `read` call (the read buffer size).
    pub read_chunk: usize,
    /// A message whose first bytes arrived must be complete within this.
    pub read_timeout: Duration,
    /// The connection is dropped after this long without any traffic.
    pub idle_timeout: Duration,
}

impl Default for IoLimits {
    fn default() -> Self {
        IoLimits {
            read_chunk: 16 * 1024,
            read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// Called with each exchanged message as it happens (for printing).
pub type RecordHook = Box<dyn FnMut(&ExchangeRecord) + Send>;

/// Options of a run (either role).
pub struct RunOptions {
    /// Tear down this long after PLAY succeeded (`None`: run until the peer ends it).
    pub duration: Option<Duration>,
    /// Transport bounds.
    pub limits: IoLimits,
    /// Address for the RTP UDP socket (sink: where it listens; source: where it sends from).
    pub rtp_bind: IpAddr,
    /// Source only: send RTP packets to the sink while playing.
    pub send_rtp: bool,
    /// Called for each exchanged message.
    pub on_record: Option<RecordHook>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            duration: None,
            limits: IoLimits::default(),
            rtp_bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            send_rtp: true,
            on_record: None,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("duration", &self.duration)
            .field("limits", &self.limits)
            .field("rtp_bind", &self.rtp_bind)
            .field("send_rtp", &self.send_rtp)
            .finish_non_exhaustive()
    }
}

/// RTP packets seen (sink: received; source: sent).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RtpStats {
    /// Packets.
    pub packets: u64,
    /// Bytes (UDP payload).
    pub bytes: u64,
    /// RTP payload types seen (33 = MPEG-TS).
    pub payload_types: BTreeSet<u8>,
    /// SSRCs seen.
    pub ssrcs: BTreeSet<u32>,
    /// Datagrams too short to be RTP.
    pub malformed: u64,
}

impl RtpStats {
    fn count(&mut self, datagram: &[u8]) {
        if datagram.len() < 12 || datagram[0] >> 6 != 2 {
            self.malformed += 1;
            return;
        }
        self.packets += 1;
        self.bytes += datagram.len() as u64;
        self.payload_types.insert(datagram[1] & 0x7F);
        self.ssrcs.insert(u32::from_be_bytes([
            datagram[8],
            datagram[9],
            datagram[10],
            datagram[11],
        ]));
    }
}

/// The result of one run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunOutcome {
    /// Our role.
    pub role: Role,
    /// Every RTSP message, both directions, with time offsets.
    pub exchange: Vec<ExchangeRecord>,
    /// Every event, in order (exchange records included).
    pub events: Vec<Event>,
    /// M1..M7 completed (PLAY answered 200).
    pub negotiation_completed: bool,
    /// Keep-alives answered (sink) or answered by the peer (source).
    pub keepalives: u32,
    /// IDR requests received (source) or acknowledged (sink).
    pub idr_requests: u32,
    /// RTP packets received (sink) or sent (source).
    pub rtp: RtpStats,
    /// Why the session ended, if the state machine ended it.
    pub close: Option<CloseReason>,
    /// A transport-level ending (read/idle timeout, I/O error), if any.
    pub transport_error: Option<String>,
}

/// A failure to set the run up.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The sink configuration is invalid.
    #[error("sink configuration: {0}")]
    Config(#[from] ParamError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetError {
    let context = context.into();
    move |source| NetError::Io { context, source }
}

fn sim_now(base: Instant) -> SimTime {
    SimTime::from_micros(u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX))
}

fn instant_of(base: Instant, t: SimTime) -> Instant {
    base + Duration::from_micros(t.as_micros())
}

/// Runs our sink against a source listening at `addr` (the usual WFD direction: the sink
/// connects).
///
/// # Errors
/// [`NetError`] when the connection or the RTP socket cannot be set up, or the configuration
/// is invalid.
pub async fn sink_connect(
    addr: SocketAddr,
    config: SinkConfig,
    opts: RunOptions,
) -> Result<RunOutcome, NetError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(io_err(format!("connecting to {addr}")))?;
    sink_on_stream(stream, config, opts).await
}

/// Runs our sink on the first connection accepted on `listener`.
///
/// # Errors
/// As [`sink_connect`].
pub async fn sink_listen(
    listener: &TcpListener,
    config: SinkConfig,
    opts: RunOptions,
) -> Result<RunOutcome, NetError> {
    let (stream, _) = listener
        .accept()
        .await
        .map_err(io_err("accepting a source"))?;
    sink_on_stream(stream, config, opts).await
}

/// Runs our sink on a connected stream.
///
/// # Errors
/// As [`sink_connect`].
pub async fn sink_on_stream(
    stream: TcpStream,
    mut config: SinkConfig,
    mut opts: RunOptions,
) -> Result<RunOutcome, NetError> {
    let udp = UdpSocket::bind(SocketAddr::new(opts.rtp_bind, config.rtp_port))
        .await
        .map_err(io_err(format!(
            "binding the RTP port {}:{}",
            opts.rtp_bind, config.rtp_port
        )))?;
    config.rtp_port = udp
        .local_addr()
        .map_err(io_err("reading the RTP port"))?
        .port();
    let base = Instant::now();
    let mut sink = Sink::new(config, sim_now(base))?;
    let mut out = run_endpoint(&mut sink, stream, base, Some(udp), None, &mut opts).await;
    out.negotiation_completed = sink.negotiation_complete();
    out.keepalives = sink.keepalives_answered();
    Ok(out)
}

/// Runs our source against a sink listening at `addr`.
///
/// # Errors
/// [`NetError`] when the connection or the RTP socket cannot be set up.
pub async fn source_connect(
    addr: SocketAddr,
    config: SourceConfig,
    opts: RunOptions,
) -> Result<RunOutcome, NetError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(io_err(format!("connecting to {addr}")))?;
    source_on_stream(stream, config, opts).await
}

/// Runs our source on the first connection accepted on `listener` (the usual WFD direction:
/// the source listens on 7236).
///
/// # Errors
/// As [`source_connect`].
pub async fn source_listen(
    listener: &TcpListener,
    config: SourceConfig,
    opts: RunOptions,
) -> Result<RunOutcome, NetError> {
    let (stream, _) = listener
        .accept()
        .await
        .map_err(io_err("accepting a sink"))?;
    source_on_stream(stream, config, opts).await
}

/// Runs our source on a connected stream.
///
/// # Errors
/// As [`source_connect`].
pub async fn source_on_stream(
    stream: TcpStream,
    mut config: SourceConfig,
    mut opts: RunOptions,
) -> Result<RunOutcome, NetError> {
    let udp = UdpSocket::bind(SocketAddr::new(opts.rtp_bind, 0))
        .await
        .map_err(io_err("binding the RTP socket"))?;
    config.server_rtp_port = udp
        .local_addr()
        .map_err(io_err("reading the RTP port"))?
        .port();
    if let Ok(SocketAddr::V4(local)) = stream.local_addr() {
        config.local_ip = *local.ip();
    }
    let peer_ip = stream
        .peer_addr()
        .map_err(io_err("reading the peer address"))?
        .ip();
    let base = Instant::now();
    let mut source = Source::new(config, sim_now(base));
    let sender = opts.send_rtp.then_some(RtpSender {
        socket: udp,
        peer_ip,
        seq: 0,
        ssrc: 1,
    });
    let mut out = run_endpoint(&mut source, stream, base, None, sender, &mut opts).await;
    out.negotiation_completed = out.events.iter().any(|e| matches!(e, Event::Playing(_)));
    out.keepalives = source.keepalives_answered();
    out.idr_requests = source.idr_requests();
    Ok(out)
}

struct RtpSender {
    socket: UdpSocket,
    peer_ip: IpAddr,
    seq: u16,
    ssrc: u32,
}

impl RtpSender {
    /// One RTP packet shaped like GNOME's: payload type 33 (MP2T), seven 188-byte TS null
    /// packets (1328 bytes in all).
    async fn send(&mut self, port: u16, at: SimTime, stats: &mut RtpStats) {
        let mut pkt = Vec::with_capacity(1328);
        pkt.extend_from_slice(&[0x80, 33]);
        pkt.extend_from_slice(&self.seq.to_be_bytes());
        let ts = (at.as_micros() * 9 / 100) as u32; // 90 kHz clock
        pkt.extend_from_slice(&ts.to_be_bytes());
        pkt.extend_from_slice(&self.ssrc.to_be_bytes());
        for _ in 0..7 {
            pkt.extend_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
            pkt.extend(std::iter::repeat_n(0xFF, 184));
        }
        self.seq = self.seq.wrapping_add(1);
        if self
            .socket
            .send_to(&pkt, SocketAddr::new(self.peer_ip, port))
            .await
            .is_ok()
        {
            stats.count(&pkt);
        }
    }
}

const RTP_INTERVAL: Duration = Duration::from_millis(20);

/// Pumps `ep` over `stream` until it closes, the peer closes, or a transport timeout.
async fn run_endpoint<E: Endpoint>(
    ep: &mut E,
    mut stream: TcpStream,
    base: Instant,
    udp_in: Option<UdpSocket>,
    mut rtp_out: Option<RtpSender>,
    opts: &mut RunOptions,
) -> RunOutcome {
    let mut out = RunOutcome {
        role: ep.role(),
        exchange: Vec::new(),
        events: Vec::new(),
        negotiation_completed: false,
        keepalives: 0,
        idr_requests: 0,
        rtp: RtpStats::default(),
        close: None,
        transport_error: None,
    };
    // RTSP is request/reply with small messages: without TCP_NODELAY, Nagle plus delayed
    // ACKs add about 40 ms to every reply that follows another write.
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; opts.limits.read_chunk.max(512)];
    let mut udp_buf = vec![0u8; 65536];
    let mut last_activity = Instant::now();
    let mut partial_since: Option<Instant> = None;
    let mut teardown_at: Option<Instant> = None;
    let mut rtp_target: Option<u16> = None;
    let mut next_rtp: Option<Instant> = None;
    let mut peer_closed = false;
    loop {
        // One write per batch: a reply and the request that follows it share a segment.
        let mut batch = Vec::new();
        while let Some(bytes) = ep.poll_transmit() {
            batch.extend_from_slice(&bytes);
        }
        if !batch.is_empty() {
            if let Err(e) = stream.write_all(&batch).await {
                out.transport_error
                    .get_or_insert(format!("write failed: {e}"));
                ep.handle_peer_closed(sim_now(base));
            }
            last_activity = Instant::now();
        }
        while let Some(event) = ep.poll_event() {
            match &event {
                Event::Exchange(r) => {
                    if let Some(hook) = opts.on_record.as_mut() {
                        hook(r);
                    }
                    out.exchange.push(r.clone());
                }
                Event::Playing(info) => {
                    out.negotiation_completed = true;
                    if let Some(d) = opts.duration {
                        teardown_at = Some(Instant::now() + d);
                    }
                    if rtp_out.is_some() && info.sink_rtp_port != 0 {
                        rtp_target = Some(info.sink_rtp_port);
                        next_rtp = Some(Instant::now());
                    }
                }
                Event::Paused => next_rtp = None,
                Event::IdrRequested if ep.role() == Role::Sink => out.idr_requests += 1,
                Event::Closed(reason) => out.close = Some(reason.clone()),
                _ => {}
            }
            out.events.push(event);
        }
        if ep.is_closed() || peer_closed || out.transport_error.is_some() {
            break;
        }
        if ep.has_partial_input() {
            partial_since.get_or_insert_with(Instant::now);
        } else {
            partial_since = None;
        }
        let mut deadline = last_activity + opts.limits.idle_timeout;
        if let Some(p) = partial_since {
            deadline = deadline.min(p + opts.limits.read_timeout);
        }
        if let Some(t) = ep.poll_timeout() {
            deadline = deadline.min(instant_of(base, t));
        }
        if let Some(t) = teardown_at {
            deadline = deadline.min(t);
        }
        if let Some(t) = next_rtp {
            deadline = deadline.min(t);
        }
        let udp_recv = async {
            match &udp_in {
                Some(u) => u.recv_from(&mut udp_buf).await.map(|(n, _)| n),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => {
                    ep.handle_peer_closed(sim_now(base));
                    peer_closed = true;
                }
                Ok(n) => {
                    last_activity = Instant::now();
                    ep.handle_input(sim_now(base), &buf[..n]);
                }
                Err(e) => {
                    out.transport_error = Some(format!("read failed: {e}"));
                    ep.handle_peer_closed(sim_now(base));
                }
            },
            n = udp_recv => {
                if let Ok(n) = n {
                    out.rtp.count(&udp_buf[..n]);
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                let now_i = Instant::now();
                if partial_since.is_some_and(|p| p + opts.limits.read_timeout <= now_i) {
                    out.transport_error = Some(format!(
                        "read timeout: a message stayed incomplete for {:?}", opts.limits.read_timeout
                    ));
                } else if last_activity + opts.limits.idle_timeout <= now_i {
                    out.transport_error = Some(format!("idle timeout: no traffic for {:?}", opts.limits.idle_timeout));
                }
                if teardown_at.is_some_and(|t| t <= now_i) {
                    teardown_at = None;
                    ep.request_teardown(sim_now(base));
                }
                if let (Some(t), Some(port), Some(sender)) = (next_rtp, rtp_target, rtp_out.as_mut())
                    && t <= now_i
                {
                    sender.send(port, sim_now(base), &mut out.rtp).await;
                    next_rtp = Some(now_i + RTP_INTERVAL);
                }
                ep.handle_timeout(sim_now(base));
            }
        }
    }
    // Flush what the state machine queued last (e.g. the reply to M8) before closing.
    while let Some(bytes) = ep.poll_transmit() {
        if stream.write_all(&bytes).await.is_err() {
            break;
        }
    }
    while let Some(event) = ep.poll_event() {
        if let Event::Exchange(r) = &event {
            if let Some(hook) = opts.on_record.as_mut() {
                hook(r);
            }
            out.exchange.push(r.clone());
        }
        if let Event::Closed(reason) = &event {
            out.close = Some(reason.clone());
        }
        out.events.push(event);
    }
    let _ = stream.shutdown().await;
    out
}
