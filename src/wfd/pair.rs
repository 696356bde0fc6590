//! A source and a sink pumped against each other in virtual time, without sockets: the
//! deterministic counterpart of the TCP transport, reusing the same state machines.
//!
//! The link delivers bytes in order after a fixed one-way latency; a closed endpoint's
//! queued bytes are delivered before the peer learns of the close. [`Pair::drive`] jumps
//! virtual time from one pending delivery or timer to the next, so a 60-second keep-alive
//! period costs nothing to simulate.

use std::collections::VecDeque;
use std::time::Duration;

use super::Endpoint;
use super::event::Event;
use super::message::ExchangeRecord;
use super::params::ParamError;
use super::sink::{Sink, SinkConfig};
use super::source::{Source, SourceConfig};
use crate::time::SimTime;

#[derive(Debug)]
enum Delivery {
    Bytes(Vec<u8>),
    Closed,
}

#[derive(Debug)]
struct InFlight {
    at: SimTime,
    to_sink: bool,
    what: Delivery,
}

/// How a [`Pair::drive`] call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveEnd {
    /// Both endpoints are closed and nothing is in flight.
    BothClosed,
    /// Nothing is pending anywhere (no data, no timer) but a side is still open.
    Idle,
    /// The next thing to happen is after the time limit.
    TimeLimit,
    /// The step bound was hit (a livelock guard; a test should treat it as a failure).
    StepLimit,
}

/// Source and sink connected by an in-memory link.
#[derive(Debug)]
pub struct Pair {
    /// The source.
    pub source: Source,
    /// The sink.
    pub sink: Sink,
    /// Current virtual time.
    pub now: SimTime,
    /// One-way link latency.
    pub latency: Duration,
    /// Every event the source reported, in order.
    pub source_events: Vec<Event>,
    /// Every event the sink reported, in order.
    pub sink_events: Vec<Event>,
    in_flight: VecDeque<InFlight>,
    source_close_sent: bool,
    sink_close_sent: bool,
}

impl Pair {
    /// Connects a new source and sink at time zero with a 1 ms link.
    ///
    /// # Errors
    /// [`ParamError`] when the sink configuration has a malformed capability override.
    pub fn new(source: SourceConfig, sink: SinkConfig) -> Result<Pair, ParamError> {
        let now = SimTime::ZERO;
        Ok(Pair {
            sink: Sink::new(sink, now)?,
            source: Source::new(source, now),
            now,
            latency: Duration::from_millis(1),
            source_events: Vec::new(),
            sink_events: Vec::new(),
            in_flight: VecDeque::new(),
            source_close_sent: false,
            sink_close_sent: false,
        })
    }

    fn collect(&mut self) {
        while let Some(bytes) = self.source.poll_transmit() {
            self.in_flight.push_back(InFlight {
                at: self.now + self.latency,
                to_sink: true,
                what: Delivery::Bytes(bytes),
            });
        }
        while let Some(bytes) = self.sink.poll_transmit() {
            self.in_flight.push_back(InFlight {
                at: self.now + self.latency,
                to_sink: false,
                what: Delivery::Bytes(bytes),
            });
        }
        while let Some(e) = self.source.poll_event() {
            self.source_events.push(e);
        }
        while let Some(e) = self.sink.poll_event() {
            self.sink_events.push(e);
        }
        if self.source.is_closed() && !self.source_close_sent {
            self.source_close_sent = true;
            self.in_flight.push_back(InFlight {
                at: self.now + self.latency,
                to_sink: true,
                what: Delivery::Closed,
            });
        }
        if self.sink.is_closed() && !self.sink_close_sent {
            self.sink_close_sent = true;
            self.in_flight.push_back(InFlight {
                at: self.now + self.latency,
                to_sink: false,
                what: Delivery::Closed,
            });
        }
    }

    /// Performs the next delivery or timer at or before `limit`. Returns `None` when it did
    /// something, or why it stopped.
    pub fn step(&mut self, limit: SimTime) -> Option<DriveEnd> {
        self.collect();
        let next_delivery = self.in_flight.iter().map(|f| f.at).min();
        let next_timer = [self.source.poll_timeout(), self.sink.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let next = match (next_delivery, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => {
                    return Some(if self.source.is_closed() && self.sink.is_closed() {
                        DriveEnd::BothClosed
                    } else {
                        DriveEnd::Idle
                    });
                }
            },
        };
        if next > limit {
            self.now = self.now.max(limit);
            return Some(DriveEnd::TimeLimit);
        }
        self.now = self.now.max(next);
        if next_delivery == Some(next) {
            let i = self
                .in_flight
                .iter()
                .position(|f| f.at == next)
                .unwrap_or(0);
            if let Some(f) = self.in_flight.remove(i) {
                let now = self.now;
                let target: &mut dyn Endpoint = if f.to_sink {
                    &mut self.sink
                } else {
                    &mut self.source
                };
                if !target.is_closed() {
                    match f.what {
                        Delivery::Bytes(b) => target.handle_input(now, &b),
                        Delivery::Closed => target.handle_peer_closed(now),
                    }
                }
            }
        } else {
            let now = self.now;
            if self.source.poll_timeout().is_some_and(|t| t <= now) {
                self.source.handle_timeout(now);
            }
            if self.sink.poll_timeout().is_some_and(|t| t <= now) {
                self.sink.handle_timeout(now);
            }
        }
        self.collect();
        None
    }

    /// Runs until both sides closed, nothing is pending, or `limit` is reached. Bounded by a
    /// step count so a livelock is reported ([`DriveEnd::StepLimit`]) instead of hanging.
    pub fn drive(&mut self, limit: SimTime) -> DriveEnd {
        const MAX_STEPS: usize = 200_000;
        for _ in 0..MAX_STEPS {
            if let Some(end) = self.step(limit) {
                return end;
            }
        }
        DriveEnd::StepLimit
    }

    /// Runs for `d` of virtual time from now.
    pub fn advance(&mut self, d: Duration) -> DriveEnd {
        let limit = self.now + d;
        self.drive(limit)
    }

    /// Runs until the sink reports [`Event::Playing`] (or `limit`). True when it did.
    pub fn run_until_playing(&mut self, limit: SimTime) -> bool {
        const MAX_STEPS: usize = 200_000;
        for _ in 0..MAX_STEPS {
            if self
                .sink_events
                .iter()
                .any(|e| matches!(e, Event::Playing(_)))
            {
                return true;
            }
            if self.step(limit).is_some() {
                return self
                    .sink_events
                    .iter()
                    .any(|e| matches!(e, Event::Playing(_)));
            }
        }
        false
    }

    /// The exchange as the source saw it (every message both ways, in order).
    pub fn exchange(&self) -> Vec<ExchangeRecord> {
        self.source_events
            .iter()
            .filter_map(|e| match e {
                Event::Exchange(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// The source's [`Event::Closed`] reason, if closed.
    pub fn source_close(&self) -> Option<&super::CloseReason> {
        self.source_events.iter().rev().find_map(|e| match e {
            Event::Closed(r) => Some(r),
            _ => None,
        })
    }

    /// The sink's [`Event::Closed`] reason, if closed.
    pub fn sink_close(&self) -> Option<&super::CloseReason> {
        self.sink_events.iter().rev().find_map(|e| match e {
            Event::Closed(r) => Some(r),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wfd::{CloseReason, MessageKind};

    #[test]
    fn full_session_in_virtual_time() {
        let mut pair = Pair::new(SourceConfig::default(), SinkConfig::default()).unwrap();
        assert!(pair.run_until_playing(SimTime::from_millis(10_000)));
        let kinds: Vec<String> = pair.exchange().iter().map(ExchangeRecord::label).collect();
        for k in [
            "M1", "M1 reply", "M2", "M2 reply", "M3", "M3 reply", "M4", "M4 reply", "M5",
            "M5 reply", "M6", "M6 reply", "M7", "M7 reply",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
        }
        // Two keep-alives at 55 s intervals.
        pair.advance(Duration::from_secs(115));
        assert_eq!(pair.source.keepalives_answered(), 2);
        pair.sink.request_idr(pair.now);
        pair.advance(Duration::from_millis(10));
        assert_eq!(pair.source.idr_requests(), 1);
        pair.source.request_teardown(pair.now);
        assert_eq!(
            pair.drive(pair.now + Duration::from_secs(10)),
            DriveEnd::BothClosed
        );
        assert_eq!(pair.source_close(), Some(&CloseReason::TeardownComplete));
        assert_eq!(pair.sink_close(), Some(&CloseReason::TeardownComplete));
        assert!(pair.exchange().iter().any(|r| r.kind == MessageKind::M8));
    }
}
