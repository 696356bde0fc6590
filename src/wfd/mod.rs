//! Wi-Fi Display (Miracast) RTSP, sans-IO: parameter codec, message classification, and the
//! source and sink state machines (M1..M16). No sockets, no clock: time is an input.
//!
//! Map:
//! - [`params`]: typed codec of every WFD parameter and the `text/parameters` body.
//! - [`message`]: RTSP framing on `rtsp-types`, M1..M16 classification, exchange records.
//! - [`select`]: the source's capability selection, bit-rate estimate and negotiated result.
//! - [`source`]: the source (UMD side) state machine.
//! - [`sink`]: the simulated sink: personalities, faults, state machine.
//! - [`event`]: what both state machines report, and why a session ends.
//! - [`pair`]: a source and a sink pumped against each other in virtual time, no sockets.
//! - [`capture`]: RTSP messages recovered from raw captures and text logs, labelled M1..M16.
//!
//! # Driving a state machine
//!
//! Both [`source::Source`] and [`sink::Sink`] implement [`Endpoint`]: feed received bytes with
//! [`Endpoint::handle_input`], expired timers with [`Endpoint::handle_timeout`] (ask
//! [`Endpoint::poll_timeout`] when), a closed connection with
//! [`Endpoint::handle_peer_closed`]; after every such call drain [`Endpoint::poll_transmit`]
//! (bytes to write) and [`Endpoint::poll_event`] (what happened). Once [`Endpoint::is_closed`]
//! is true and the transmit queue is empty, close the connection.

pub mod capture;
pub(crate) mod conn;
pub mod event;
pub mod message;
pub mod pair;
pub mod params;
pub mod select;
pub mod sink;
pub mod source;

pub use event::{CloseReason, Event};
pub use message::{Direction, ExchangeRecord, MessageKind, Role};
pub use pair::Pair;
pub use select::NegotiatedSession;
pub use sink::{Sink, SinkConfig};
pub use source::{Source, SourceConfig};

use crate::time::SimTime;

/// The sans-IO interface shared by [`Source`] and [`Sink`], so transports and the in-memory
/// [`Pair`] can drive either.
pub trait Endpoint {
    /// Which role this endpoint plays.
    fn role(&self) -> Role;
    /// Bytes received from the peer at `now`.
    fn handle_input(&mut self, now: SimTime, bytes: &[u8]);
    /// The peer closed the connection.
    fn handle_peer_closed(&mut self, now: SimTime);
    /// Next bytes to send, in order.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    /// When [`Endpoint::handle_timeout`] must next be called (`None`: no timer armed).
    fn poll_timeout(&self) -> Option<SimTime>;
    /// Time has reached `now`; fire due timers.
    fn handle_timeout(&mut self, now: SimTime);
    /// Next event.
    fn poll_event(&mut self) -> Option<Event>;
    /// True once the session is over ([`Event::Closed`] was queued).
    fn is_closed(&self) -> bool;
    /// True while part of a message is buffered (for read timeouts at the edge).
    fn has_partial_input(&self) -> bool;
    /// Ends the session the orderly way for this role.
    fn request_teardown(&mut self, now: SimTime);
}
