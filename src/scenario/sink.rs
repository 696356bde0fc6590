//! [`SinkAdapter`]: the Wi-Fi Display sink state machine ([`crate::wfd::Sink`]) behind the OS
//! model's [`SinkPeer`] interface, plus the scenario's sink actions.
//!
//! The OS model holds the adapter as a `Box<dyn SinkPeer>` and cannot be asked for the concrete
//! type back, so scenario actions (monitor arrives, IDR request, teardown) go through a
//! [`SinkControl`] that shares the adapter's state: the action is queued, and the adapter
//! applies it the next time the OS pumps it (the runner pumps it right away with
//! `Os::with_sink`). Each new RTSP connection gets a fresh sink state machine
//! ([`SinkControl::reconnect`]), as a real sink accepts a new connection per session.

use crate::os::SinkPeer;
use crate::time::SimTime;
use crate::trace::SinkActivity;
use crate::wfd::params::DisplayEdid;
use crate::wfd::sink::synthetic_edid;
use crate::wfd::{Endpoint, Event, Sink, SinkConfig};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// A scenario action on the sink (the trace's vocabulary for it).
pub use crate::trace::SinkAction as SinkCommand;

struct Shared {
    config: SinkConfig,
    sink: Option<Sink>,
    commands: VecDeque<SinkCommand>,
    notes: VecDeque<SinkActivity>,
}

impl Shared {
    fn apply(&mut self, now: SimTime) {
        while let Some(cmd) = self.commands.pop_front() {
            let Some(sink) = self.sink.as_mut() else {
                continue;
            };
            match cmd {
                SinkCommand::MonitorArrives => {
                    let edid = sink.capabilities().edid.clone().unwrap_or_else(|| {
                        DisplayEdid::from_bytes(synthetic_edid("SIM MONITOR", 1920, 1080, 60))
                    });
                    sink.notify_monitor(now, Some(edid));
                }
                SinkCommand::MonitorDeparts => sink.notify_monitor(now, None),
                SinkCommand::IdrRequest => sink.request_idr(now),
                SinkCommand::Teardown => Endpoint::request_teardown(sink, now),
            }
            self.notes.push_back(SinkActivity::Action { action: cmd });
        }
        self.drain_events();
    }

    fn drain_events(&mut self) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        while let Some(event) = Endpoint::poll_event(sink) {
            if let Some(activity) = sink_activity(&event) {
                self.notes.push_back(activity);
            }
        }
    }
}

/// What a sink event shows in the trace, if anything: the M4 configuration typed (R62), other
/// events in words. Message exchanges are already in the trace as `umd-send`/`sink-send`.
pub fn sink_activity(event: &Event) -> Option<SinkActivity> {
    if let Event::Configured(c) = event {
        return Some(SinkActivity::Configured {
            mode: c.chosen_mode.map(|m| m.to_string()),
            required_bitrate: c.chosen_mode.map(crate::wfd::select::required_bitrate),
        });
    }
    describe(event).map(|text| SinkActivity::Event { text })
}

/// A short trace line for a sink event.
fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::Exchange(_) => return None,
        Event::Configured(_) => "sink: configured by M4".to_owned(),
        Event::Playing(_) => "sink: playing".to_owned(),
        Event::Paused => "sink: paused".to_owned(),
        Event::IdrRequested => "sink: IDR request answered".to_owned(),
        Event::KeepAlive => "sink: keep-alive answered".to_owned(),
        Event::ReplyTimeout { waiting_for } => {
            format!("sink: reply timeout waiting for {waiting_for:?}")
        }
        Event::Closed(reason) => format!("sink: closed ({reason:?})"),
        other => {
            let mut text = format!("sink: {other:?}");
            text.truncate(160);
            text
        }
    })
}

/// The sink as the OS model's RTSP peer.
pub struct SinkAdapter {
    shared: Rc<RefCell<Shared>>,
}

/// The scenario's handle on the sink: actions and reconnection.
#[derive(Clone)]
pub struct SinkControl {
    shared: Rc<RefCell<Shared>>,
}

impl SinkAdapter {
    /// A sink with `config` and the handle that controls it. The sink state machine is created
    /// at the first connection.
    pub fn new(config: SinkConfig) -> (SinkAdapter, SinkControl) {
        let shared = Rc::new(RefCell::new(Shared {
            config,
            sink: None,
            commands: VecDeque::new(),
            notes: VecDeque::new(),
        }));
        (
            SinkAdapter {
                shared: shared.clone(),
            },
            SinkControl { shared },
        )
    }
}

impl SinkControl {
    /// A new RTSP connection is about to be made: a fresh sink state machine answers it.
    /// Returns the configuration error, if any (validation already checks it).
    pub fn reconnect(&self, now: SimTime) -> Result<(), String> {
        let mut shared = self.shared.borrow_mut();
        let sink = Sink::new(shared.config.clone(), now).map_err(|e| e.to_string())?;
        shared.sink = Some(sink);
        shared.commands.clear();
        Ok(())
    }

    /// Queues an action; the adapter applies it at its next pump.
    pub fn push(&self, command: SinkCommand) {
        self.shared.borrow_mut().commands.push_back(command);
    }

    /// True while a sink state machine exists and has not closed.
    pub fn is_open(&self) -> bool {
        self.shared
            .borrow()
            .sink
            .as_ref()
            .is_some_and(|s| !Endpoint::is_closed(s))
    }
}

impl SinkPeer for SinkAdapter {
    fn handle_input(&mut self, now: SimTime, bytes: &[u8]) {
        let mut shared = self.shared.borrow_mut();
        shared.apply(now);
        if let Some(sink) = shared.sink.as_mut() {
            Endpoint::handle_input(sink, now, bytes);
        }
        shared.drain_events();
    }

    fn poll_transmit(&mut self, now: SimTime) -> Option<Vec<u8>> {
        let mut shared = self.shared.borrow_mut();
        shared.apply(now);
        let bytes = Endpoint::poll_transmit(shared.sink.as_mut()?);
        shared.drain_events();
        bytes
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        Endpoint::poll_timeout(self.shared.borrow().sink.as_ref()?)
    }

    fn handle_timeout(&mut self, now: SimTime) {
        let mut shared = self.shared.borrow_mut();
        shared.apply(now);
        if let Some(sink) = shared.sink.as_mut() {
            Endpoint::handle_timeout(sink, now);
        }
        shared.drain_events();
    }

    fn poll_note(&mut self) -> Option<SinkActivity> {
        self.shared.borrow_mut().notes.pop_front()
    }

    fn is_closed(&self) -> bool {
        self.shared
            .borrow()
            .sink
            .as_ref()
            .is_none_or(Endpoint::is_closed)
    }
}
