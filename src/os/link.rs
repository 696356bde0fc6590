//! The OS-owned RTSP socket of deterministic runs: an in-memory connection between the UMD and a
//! sans-IO sink, pumped by a simulated sink thread in virtual time.
//!
//! The sink side is any [`SinkPeer`] (the Wi-Fi Display sink state machine in practice). Bytes
//! the UMD sends are handed to the peer at once; what the peer transmits arrives at the UMD's
//! end, in order. The peer's own timers (keep-alive timeouts, scripted delays, IDR storms) run on
//! the `sink` daemon thread.

use crate::ddi::{RtspSocket, SocketError};
use crate::rules::{CheckId, Culprit, Findings, RuleId};
use crate::sched::{Sched, Shared, SimEvent, wait_any};
use crate::time::SimTime;
use crate::trace::{EventKind, SinkActivity, WireSummary};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

/// A sans-IO peer at the far end of the RTSP connection.
pub trait SinkPeer {
    /// Bytes arrived from the source (the UMD).
    fn handle_input(&mut self, now: SimTime, bytes: &[u8]);
    /// The next bytes to send to the source, if any.
    fn poll_transmit(&mut self, now: SimTime) -> Option<Vec<u8>>;
    /// When the peer next wants [`SinkPeer::handle_timeout`].
    fn poll_timeout(&self) -> Option<SimTime>;
    /// Time passed.
    fn handle_timeout(&mut self, now: SimTime);
    /// What the peer did besides sending bytes, for the trace, if anything.
    fn poll_note(&mut self) -> Option<SinkActivity>;
    /// True once the peer has closed the connection.
    fn is_closed(&self) -> bool;
}

struct LinkState {
    to_umd: VecDeque<u8>,
    umd_closed: bool,
    os_closed: bool,
}

/// The UMD's end of an in-memory RTSP connection, plus the pump that drives the peer.
pub struct SimRtspLink {
    sched: Sched,
    findings: Findings,
    raw: u64,
    peer: Rc<Shared<Box<dyn SinkPeer>>>,
    state: Shared<LinkState>,
    to_umd_ready: SimEvent,
    to_sink_ready: SimEvent,
    shutdown: SimEvent,
    stop_begun: Shared<bool>,
}

impl SimRtspLink {
    /// Connects a new link to `peer` and starts the `sink` daemon thread that runs its timers.
    pub fn connect(
        sched: &Sched,
        findings: &Findings,
        raw: u64,
        peer: Rc<Shared<Box<dyn SinkPeer>>>,
    ) -> Rc<Self> {
        let link = Rc::new(SimRtspLink {
            sched: sched.clone(),
            findings: findings.clone(),
            raw,
            peer,
            state: Shared::new(
                sched,
                LinkState {
                    to_umd: VecDeque::new(),
                    umd_closed: false,
                    os_closed: false,
                },
            ),
            to_umd_ready: SimEvent::new(sched, format!("rtsp-{raw}-to-umd"), false),
            to_sink_ready: SimEvent::new(sched, format!("rtsp-{raw}-to-sink"), true),
            shutdown: SimEvent::new(sched, format!("rtsp-{raw}-shutdown"), false),
            stop_begun: Shared::new(sched, false),
        });
        let pump = link.clone();
        sched.spawn(
            format!("sink-{raw}"),
            true,
            async move { pump.run_sink().await },
        );
        link
    }

    /// Marks that `StopMiracastSession` has begun: further UMD sends are noted (R32).
    pub fn note_stop_begun(&self) {
        self.stop_begun.set(true);
    }

    /// The OS closes its socket (after `StopMiracastSession`, or a failed start).
    pub fn close_by_os(&self) {
        self.state.borrow_mut().os_closed = true;
        self.shutdown.set();
        self.to_umd_ready.set();
        self.sched.emit(EventKind::Sink {
            what: SinkActivity::OsClose { socket: self.raw },
        });
    }

    /// True when the UMD closed the OS's socket (R41).
    pub fn closed_by_umd(&self) -> bool {
        self.state.borrow().umd_closed
    }

    /// Runs `f` on the peer (scenario sink actions), then lets the pump flush its output.
    pub fn with_peer<R>(&self, f: impl FnOnce(&mut dyn SinkPeer, SimTime) -> R) -> R {
        let now = self.sched.now();
        let r = f(self.peer.borrow_mut().as_mut(), now);
        self.flush_peer();
        self.to_sink_ready.set();
        r
    }

    fn flush_peer(&self) {
        let now = self.sched.now();
        let mut peer = self.peer.borrow_mut();
        while let Some(note) = peer.poll_note() {
            self.sched.emit(EventKind::Sink { what: note });
        }
        let mut any = false;
        while let Some(bytes) = peer.poll_transmit(now) {
            self.sched.emit_traffic(EventKind::Sink {
                what: SinkActivity::SinkSend {
                    message: WireSummary::of(&bytes),
                },
            });
            self.state.borrow_mut().to_umd.extend(bytes);
            any = true;
        }
        if any || peer.is_closed() {
            self.to_umd_ready.set();
        }
    }

    async fn run_sink(self: Rc<Self>) {
        loop {
            if self.state.borrow().os_closed {
                return;
            }
            let timeout = self
                .peer
                .borrow()
                .poll_timeout()
                .map(|t| t.saturating_since(self.sched.now()));
            let woke = wait_any(&self.sched, &[&self.to_sink_ready, &self.shutdown], timeout).await;
            if woke == Some(1) {
                return;
            }
            let now = self.sched.now();
            if woke.is_none() {
                self.peer.borrow_mut().handle_timeout(now);
            }
            self.flush_peer();
        }
    }
}

#[async_trait(?Send)]
impl RtspSocket for SimRtspLink {
    fn raw(&self) -> u64 {
        self.raw
    }

    async fn send(&self, bytes: &[u8]) -> Result<(), SocketError> {
        // The send is traced when it begins, before the choice point at the socket call: a send
        // the UMD started is a send on the network (R32), even if the socket turns out closed.
        // Once Stop has begun, a send is an ordered event (R32 compares it with Stop's return);
        // before, reading `stop_begun` already orders it before Stop (which writes it).
        let after_stop = self.stop_begun.get();
        let event = EventKind::Sink {
            what: SinkActivity::UmdSend {
                after_stop,
                message: WireSummary::of(bytes),
            },
        };
        if after_stop {
            self.sched.emit(event);
        } else {
            self.sched.emit_traffic(event);
        }
        self.sched.yield_now().await;
        {
            let st = self.state.borrow();
            if st.umd_closed || st.os_closed {
                return Err(SocketError::ClosedLocally);
            }
        }
        if self.peer.borrow().is_closed() {
            return Err(SocketError::Closed);
        }
        let now = self.sched.now();
        self.peer.borrow_mut().handle_input(now, bytes);
        self.flush_peer();
        self.to_sink_ready.set();
        Ok(())
    }

    async fn recv(&self, timeout: Option<Duration>) -> Result<Vec<u8>, SocketError> {
        self.sched.yield_now().await;
        let deadline = timeout.map(|t| self.sched.now() + t);
        loop {
            {
                let mut st = self.state.borrow_mut();
                if st.umd_closed || st.os_closed {
                    return Err(SocketError::ClosedLocally);
                }
                if !st.to_umd.is_empty() {
                    let bytes: Vec<u8> = st.to_umd.drain(..).collect();
                    drop(st);
                    self.to_umd_ready.reset();
                    self.sched.emit_traffic(EventKind::Sink {
                        what: SinkActivity::UmdRecv {
                            message: WireSummary::of(&bytes),
                        },
                    });
                    return Ok(bytes);
                }
            }
            if self.peer.borrow().is_closed() {
                return Err(SocketError::Closed);
            }
            self.to_umd_ready.reset();
            let remaining = match deadline {
                Some(d) if d <= self.sched.now() => return Err(SocketError::TimedOut),
                Some(d) => Some(d.saturating_since(self.sched.now())),
                None => None,
            };
            if !self.to_umd_ready.wait(remaining).await
                && deadline.is_some_and(|d| d <= self.sched.now())
            {
                return Err(SocketError::TimedOut);
            }
        }
    }

    fn close(&self) {
        let first = !std::mem::replace(&mut self.state.borrow_mut().umd_closed, true);
        let seq = self.sched.trace_len();
        self.sched.emit(EventKind::Sink {
            what: SinkActivity::UmdClose { socket: self.raw },
        });
        if first {
            self.findings.report(
                CheckId::RtspSocketOwnership,
                RuleId::R41,
                Culprit::Umd,
                format!("the UMD closed the OS-owned RTSP socket {} (closesocket); only the OS may close it", self.raw),
                vec![seq],
            );
        }
        self.to_umd_ready.set();
        self.shutdown.set();
    }
}
