//! Plumbing both state machines share: framing of input, per-direction CSeq, the table of
//! outstanding requests with their reply deadlines, the transmit queue (with delayed
//! transmissions for fault injection) and the event queue.

use std::collections::VecDeque;
use std::time::Duration;

use super::event::Event;
use super::message::{Direction, ExchangeRecord, Framer, MessageKind, Role, RtspMessage};
use crate::time::SimTime;

/// A request we sent and whose reply we wait for.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub cseq: u32,
    pub kind: MessageKind,
    pub deadline: SimTime,
    /// The request as sent, for a retry (460 on a per-stream URI).
    pub request: RtspMessage,
}

/// The shared half of an endpoint.
#[derive(Debug)]
pub(crate) struct Conn {
    pub role: Role,
    framer: Framer,
    next_cseq: u32,
    pub pending: Vec<Pending>,
    transmit: VecDeque<Vec<u8>>,
    /// Transmissions held back until a time (fault injection), in insertion order.
    delayed: Vec<(SimTime, Vec<u8>, ExchangeRecord)>,
    pub events: VecDeque<Event>,
    pub reply_timeout: Duration,
    pub closed: bool,
    /// The peer's `Server`/`User-Agent` header, for warnings.
    pub peer_product: Option<String>,
}

impl Conn {
    pub fn new(role: Role, max_message: usize, reply_timeout: Duration, first_cseq: u32) -> Self {
        Conn {
            role,
            framer: Framer::new(max_message),
            next_cseq: first_cseq,
            pending: Vec::new(),
            transmit: VecDeque::new(),
            delayed: Vec::new(),
            events: VecDeque::new(),
            reply_timeout,
            closed: false,
            peer_product: None,
        }
    }

    pub fn push_input(&mut self, bytes: &[u8]) {
        if !self.closed {
            self.framer.push(bytes);
        }
    }

    pub fn has_partial_input(&self) -> bool {
        self.framer.buffered() > 0
    }

    /// The next whole message. A framing error is recorded as [`Event::ProtocolError`] and
    /// returned as its text (for the caller's `CloseReason::ProtocolError`); it leaves the
    /// framer cleared (the connection is unusable afterwards).
    pub fn next_message(&mut self) -> Result<Option<RtspMessage>, String> {
        if self.closed {
            return Ok(None);
        }
        match self.framer.next_message() {
            Ok(Some(msg)) => {
                if self.peer_product.is_none() {
                    self.peer_product = msg
                        .header("Server")
                        .or_else(|| msg.header("User-Agent"))
                        .map(str::to_owned);
                }
                Ok(Some(msg))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.framer.clear();
                let message = e.to_string();
                self.events.push_back(Event::ProtocolError {
                    message: message.clone(),
                });
                Err(message)
            }
        }
    }

    /// Logs a received message as `kind`.
    pub fn log_received(&mut self, now: SimTime, msg: &RtspMessage, kind: MessageKind) {
        let record = record(now, Direction::from_sender(self.role.peer()), kind, msg);
        self.events.push_back(Event::Exchange(record));
    }

    pub fn alloc_cseq(&mut self) -> u32 {
        let c = self.next_cseq;
        self.next_cseq = self.next_cseq.wrapping_add(1);
        c
    }

    /// Sends a request built with a fresh CSeq by `build`, and waits for its reply.
    pub fn send_request(&mut self, now: SimTime, kind: MessageKind, request: RtspMessage) -> u32 {
        let cseq = request.cseq().unwrap_or(0);
        self.pending.push(Pending {
            cseq,
            kind,
            deadline: now + self.reply_timeout,
            request: request.clone(),
        });
        self.emit(now, kind, &request, None);
        cseq
    }

    /// Sends a reply (or holds it until `delay_until`).
    pub fn send_reply(
        &mut self,
        now: SimTime,
        kind: MessageKind,
        reply: &RtspMessage,
        delay_until: Option<SimTime>,
    ) {
        self.emit(now, kind, reply, delay_until);
    }

    /// Sends raw bytes logged as `kind` (fault injection of malformed replies).
    pub fn send_raw(&mut self, now: SimTime, kind: MessageKind, bytes: Vec<u8>, reply: bool) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let first_line = text.lines().next().unwrap_or_default().to_owned();
        let rec = ExchangeRecord {
            at: now,
            direction: Direction::from_sender(self.role),
            kind,
            reply,
            cseq: None,
            status: None,
            first_line,
            text,
        };
        self.events.push_back(Event::Exchange(rec));
        self.transmit.push_back(bytes);
    }

    fn emit(
        &mut self,
        now: SimTime,
        kind: MessageKind,
        msg: &RtspMessage,
        delay_until: Option<SimTime>,
    ) {
        let bytes = msg.to_bytes();
        match delay_until {
            Some(at) if at > now => {
                let mut rec = record(at, Direction::from_sender(self.role), kind, msg);
                rec.at = at;
                self.delayed.push((at, bytes, rec));
            }
            _ => {
                let rec = record(now, Direction::from_sender(self.role), kind, msg);
                self.events.push_back(Event::Exchange(rec));
                self.transmit.push_back(bytes);
            }
        }
    }

    /// Takes the reply's pending entry, `None` if it matches no outstanding request.
    pub fn take_pending(&mut self, cseq: u32) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.cseq == cseq)?;
        Some(self.pending.remove(i))
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Earliest reply deadline or delayed transmission.
    pub fn next_deadline(&self) -> Option<SimTime> {
        let p = self.pending.iter().map(|p| p.deadline).min();
        let d = self.delayed.iter().map(|d| d.0).min();
        match (p, d) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Releases delayed transmissions that are due.
    pub fn release_delayed(&mut self, now: SimTime) {
        if self.closed {
            return;
        }
        let mut i = 0;
        while i < self.delayed.len() {
            if self.delayed[i].0 <= now {
                let (_, bytes, rec) = self.delayed.remove(i);
                self.events.push_back(Event::Exchange(rec));
                self.transmit.push_back(bytes);
            } else {
                i += 1;
            }
        }
    }

    /// Removes and returns requests whose reply deadline has passed.
    pub fn expired(&mut self, now: SimTime) -> Vec<Pending> {
        let (expired, keep): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|p| p.deadline <= now);
        self.pending = keep;
        expired
    }

    pub fn warn(&mut self, what: impl Into<String>) {
        self.events.push_back(Event::PeerWarning {
            peer: self.peer_product.clone(),
            what: what.into(),
        });
    }

    /// Ends the session: no more transmissions will be queued, timers stop.
    pub fn close(&mut self, reason: super::event::CloseReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.pending.clear();
        self.delayed.clear();
        self.events.push_back(Event::Closed(reason));
    }
}

fn record(
    at: SimTime,
    direction: Direction,
    kind: MessageKind,
    msg: &RtspMessage,
) -> ExchangeRecord {
    let text = msg.to_string();
    ExchangeRecord {
        at,
        direction,
        kind,
        reply: msg.is_response(),
        cseq: msg.cseq().ok(),
        status: msg.status(),
        first_line: msg.first_line(),
        text,
    }
}

/// Converts a configured millisecond count.
pub(crate) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}
