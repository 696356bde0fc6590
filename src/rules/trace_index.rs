//! An index over a finished trace for the trace checks: every DDI call as an interval
//! (`Enter` matched with its `Leave` on the same thread), thread labels, and typed looks at a
//! call's arguments and results.
//!
//! Positions (`pos`) are indices into the event list, which is the trace's total order; the
//! checks report the events' own `seq`. Nothing here trusts the trace to be well formed: an
//! unmatched `Leave` is ignored, an `Enter` without a `Leave` is a call still running when the
//! trace ended, and a `Leave` that skips frames closes the frames it skips as unfinished.

use crate::ddi::{Ddi, Direction};
use crate::status::NtStatus;
use crate::time::SimTime;
use crate::trace::{
    CallArgs, CallOut, ChildStatusRecord, EventKind, IoctlMeaning, Trace, TraceEvent,
};
use std::collections::BTreeMap;

/// One DDI or callback call.
#[derive(Clone, Debug)]
pub(super) struct Call<'t> {
    /// Which DDI.
    pub ddi: Ddi,
    /// The simulated thread.
    pub thread: u32,
    /// Position of the `Enter`.
    pub enter: usize,
    /// Position of the `Leave`; `None` when the call had not returned when the trace ended
    /// (or its frame was skipped by a malformed `Leave`).
    pub leave: Option<usize>,
    /// The `Enter`'s arguments.
    pub args: &'t CallArgs,
    /// The `Leave`'s status.
    pub status: Option<NtStatus>,
    /// The `Leave`'s out-values ([`CallOut::None`] until it left).
    pub out: &'t CallOut,
    /// The enclosing call on the same thread (index into [`Index::calls`]).
    pub parent: Option<usize>,
}

impl Call<'_> {
    /// Position just past the call: its `Leave`, or the end of the trace.
    pub fn end(&self, trace_len: usize) -> usize {
        self.leave.unwrap_or(trace_len)
    }

    /// The Miracast child status this call carries: what `DxgkCbIndicateChildStatus` indicated
    /// or what `DxgkDdiQueryChildStatus` answered, when it is a `StatusMiracastConnection`.
    /// Returns (ChildUid, Connected).
    pub fn miracast_status(&self) -> Option<(u32, bool)> {
        let record: &ChildStatusRecord = match (self.ddi, self.args, self.out) {
            (Ddi::DxgkCbIndicateChildStatus, CallArgs::ChildStatus(r), _) => r,
            (Ddi::DxgkDdiQueryChildStatus, _, CallOut::ChildStatus(r)) => r,
            _ => return None,
        };
        record.miracast_connected().map(|c| (record.child_uid, c))
    }

    /// `HardwareAccess` of an IOCTL (false for any other call).
    pub fn hardware_access(&self) -> bool {
        matches!(
            self.args,
            CallArgs::IoControl {
                hardware_access: true,
                ..
            }
        )
    }

    /// What an IOCTL's private payload means, when a profile said.
    pub fn ioctl_op(&self) -> Option<IoctlMeaning> {
        match self.args {
            CallArgs::IoControl { op, .. } => *op,
            _ => None,
        }
    }

    /// The simulator's message id of a send, a delivery or a completion.
    pub fn message_id(&self) -> Option<u64> {
        match self.args {
            CallArgs::SendMessage { id, .. }
            | CallArgs::HandleKernelModeMessage { id, .. }
            | CallArgs::SendMessageCallback { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// True for a DDI the OS calls in the KMD (including the KMD's completion routine).
    pub fn is_kmd_ddi(&self) -> bool {
        self.ddi.direction() == Direction::OsToKmd
    }
}

/// The index.
pub(super) struct Index<'t> {
    /// The events, in trace order.
    pub events: &'t [TraceEvent],
    /// Every call, in `Enter` order.
    pub calls: Vec<Call<'t>>,
    /// For each position holding an `Enter`, the index of its call.
    call_at: BTreeMap<usize, usize>,
    /// For each position holding a matched `Leave`, the index of its call.
    left_at: BTreeMap<usize, usize>,
    /// Thread names, best effort (see [`Index::new`]).
    names: BTreeMap<u32, &'t str>,
}

impl<'t> Index<'t> {
    /// Builds the index.
    ///
    /// Thread names: the scheduler writes `ThreadStart` on the *creating* thread (or on the new
    /// thread when it has no parent) and numbers threads from 0 in creation order, so the k-th
    /// `ThreadStart` names thread k; an event written on the new thread itself (its `thread`
    /// differs from `parent`) names that thread directly. Names are only used in finding text.
    pub fn new(trace: &'t Trace) -> Self {
        let events = trace.events.as_slice();
        let mut calls: Vec<Call<'t>> = Vec::new();
        let mut call_at = BTreeMap::new();
        let mut left_at = BTreeMap::new();
        let mut names = BTreeMap::new();
        let mut stacks: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut thread_starts: u32 = 0;
        for (pos, e) in events.iter().enumerate() {
            match &e.kind {
                EventKind::ThreadStart { name, parent } => {
                    let id = match parent {
                        Some(p) if *p == e.thread => thread_starts,
                        _ => e.thread,
                    };
                    names.entry(id).or_insert(name.as_str());
                    thread_starts = thread_starts.saturating_add(1);
                }
                EventKind::Enter { ddi, args } => {
                    let stack = stacks.entry(e.thread).or_default();
                    let index = calls.len();
                    calls.push(Call {
                        ddi: *ddi,
                        thread: e.thread,
                        enter: pos,
                        leave: None,
                        args,
                        status: None,
                        out: &NO_OUT,
                        parent: stack.last().copied(),
                    });
                    stack.push(index);
                    call_at.insert(pos, index);
                }
                EventKind::Leave { ddi, status, out } => {
                    let stack = stacks.entry(e.thread).or_default();
                    // The innermost open call of this DDI on this thread; frames above it are
                    // left unfinished (a malformed trace, or a thread that unwound).
                    if let Some(depth) = stack.iter().rposition(|&c| calls[c].ddi == *ddi) {
                        let index = stack[depth];
                        stack.truncate(depth);
                        let call = &mut calls[index];
                        call.leave = Some(pos);
                        call.status = *status;
                        call.out = out;
                        left_at.insert(pos, index);
                    }
                }
                _ => {}
            }
        }
        Index {
            events,
            calls,
            call_at,
            left_at,
            names,
        }
    }

    /// Number of events.
    pub fn trace_len(&self) -> usize {
        self.events.len()
    }

    /// The `seq` of the event at `pos` (the position itself if out of range, which only a
    /// caller bug could produce).
    pub fn seq(&self, pos: usize) -> u32 {
        self.events
            .get(pos)
            .map_or(u32::try_from(pos).unwrap_or(u32::MAX), |e| e.seq)
    }

    /// The virtual time of the event at `pos`.
    pub fn time(&self, pos: usize) -> SimTime {
        self.events.get(pos).map_or(SimTime::ZERO, |e| e.time)
    }

    /// The call whose `Enter` is at `pos`.
    pub fn call_entered_at(&self, pos: usize) -> Option<&Call<'t>> {
        self.call_at.get(&pos).map(|&i| &self.calls[i])
    }

    /// The call whose `Leave` is at `pos`.
    pub fn call_left_at(&self, pos: usize) -> Option<&Call<'t>> {
        self.left_at.get(&pos).map(|&i| &self.calls[i])
    }

    /// The calls of one DDI, in `Enter` order.
    pub fn calls_of(&self, ddi: Ddi) -> impl Iterator<Item = &Call<'t>> {
        self.calls.iter().filter(move |c| c.ddi == ddi)
    }

    /// True when `call` is running at position `pos` (entered before it, not yet left).
    pub fn running_at(&self, call: &Call<'_>, pos: usize) -> bool {
        call.enter < pos && pos < call.end(self.trace_len())
    }

    /// True when the two calls' intervals intersect (one's `Enter` inside the other).
    pub fn overlap(&self, a: &Call<'_>, b: &Call<'_>) -> bool {
        self.running_at(a, b.enter) || self.running_at(b, a.enter)
    }

    /// The call, if any, that encloses `call` on its thread and is of `ddi` (any depth).
    pub fn enclosing(&self, call: &Call<'_>, ddi: Ddi) -> Option<&Call<'t>> {
        let mut next = call.parent;
        // Parents always have smaller indices, so this walk ends; the bound is belt and braces.
        for _ in 0..self.calls.len() {
            let c = &self.calls[next?];
            if c.ddi == ddi {
                return Some(c);
            }
            next = c.parent;
        }
        None
    }

    /// The calls nested (at any depth) inside `call` on its thread, of `ddi`.
    pub fn nested<'a>(
        &'a self,
        call: &'a Call<'_>,
        ddi: Ddi,
    ) -> impl Iterator<Item = &'a Call<'t>> {
        let end = call.end(self.trace_len());
        self.calls.iter().filter(move |c| {
            c.ddi == ddi && c.thread == call.thread && call.enter < c.enter && c.enter < end
        })
    }

    /// Pairs of calls (by index, earlier `Enter` first) from `selected` whose intervals
    /// intersect, found with a sweep over `Enter` order. With `other_threads_only`, calls on
    /// the same thread (nesting) are not paired.
    pub fn overlapping_pairs(
        &self,
        selected: &[usize],
        other_threads_only: bool,
    ) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for &b in selected {
            let enter = self.calls[b].enter;
            open.retain(|&a| self.calls[a].end(self.trace_len()) > enter);
            for &a in &open {
                if !other_threads_only || self.calls[a].thread != self.calls[b].thread {
                    pairs.push((a, b));
                }
            }
            open.push(b);
        }
        pairs
    }

    /// `t3 (umd-ioctl-1)`, or `t3` when the thread's name is unknown.
    pub fn thread_label(&self, thread: u32) -> String {
        match self.names.get(&thread) {
            Some(name) => format!("t{thread} ({name})"),
            None => format!("t{thread}"),
        }
    }
}

/// True for an error-severity NTSTATUS (the top two bits set), as `NT_ERROR` defines it.
pub(super) fn is_error(status: NtStatus) -> bool {
    status.as_u32() >> 30 == 3
}

/// The out-values of a call that has not left.
static NO_OUT: CallOut = CallOut::None;

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(events: &[(u32, EventKind)]) -> Trace {
        Trace {
            events: events
                .iter()
                .enumerate()
                .map(|(i, (thread, kind))| TraceEvent {
                    seq: i as u32 + 100,
                    time: SimTime::ZERO,
                    thread: *thread,
                    kind: kind.clone(),
                })
                .collect(),
        }
    }

    fn enter(ddi: Ddi, hardware_access: Option<bool>) -> EventKind {
        EventKind::Enter {
            ddi,
            args: match hardware_access {
                Some(hardware_access) => CallArgs::IoControl {
                    hardware_access,
                    input_size: 8,
                    output_size: 4,
                    op: None,
                },
                None => CallArgs::None,
            },
        }
    }

    fn leave(ddi: Ddi) -> EventKind {
        EventKind::Leave {
            ddi,
            status: Some(NtStatus::STATUS_SUCCESS),
            out: CallOut::BytesReturned { bytes_returned: 4 },
        }
    }

    #[test]
    fn calls_nest_per_thread_and_overlap_across_threads() {
        let t = trace(&[
            (1, enter(Ddi::MiracastIoControl, Some(true))),
            (1, enter(Ddi::DxgkDdiMiracastIoControl, Some(true))),
            (2, enter(Ddi::DxgkDdiQueryChildStatus, None)),
            (1, leave(Ddi::DxgkDdiMiracastIoControl)),
            (2, leave(Ddi::DxgkDdiQueryChildStatus)),
            (1, leave(Ddi::MiracastIoControl)),
        ]);
        let ix = Index::new(&t);
        assert_eq!(ix.calls.len(), 3);
        let kmd = &ix.calls[1];
        assert_eq!(kmd.parent, Some(0));
        assert_eq!((kmd.enter, kmd.leave), (1, Some(3)));
        assert!(kmd.hardware_access() && kmd.is_kmd_ddi());
        assert_eq!(kmd.out, &CallOut::BytesReturned { bytes_returned: 4 });
        assert_eq!(
            ix.enclosing(kmd, Ddi::MiracastIoControl).map(|c| c.enter),
            Some(0)
        );
        assert!(ix.overlap(kmd, &ix.calls[2]));
        assert_eq!(
            ix.nested(&ix.calls[0], Ddi::DxgkDdiMiracastIoControl)
                .count(),
            1
        );
        assert_eq!(
            ix.overlapping_pairs(&[0, 1, 2], false),
            vec![(0, 1), (0, 2), (1, 2)]
        );
        assert_eq!(ix.overlapping_pairs(&[0, 1, 2], true), vec![(0, 2), (1, 2)]);
        assert_eq!(ix.seq(2), 102);
        assert_eq!(
            ix.call_left_at(3).map(|c| c.ddi),
            Some(Ddi::DxgkDdiMiracastIoControl)
        );
    }

    #[test]
    fn malformed_leaves_are_tolerated() {
        let t = trace(&[
            (1, leave(Ddi::StartMiracastSession)), // never entered: ignored
            (1, enter(Ddi::StartMiracastSession, None)),
            (1, enter(Ddi::MiracastIoControl, None)),
            (1, leave(Ddi::StartMiracastSession)), // skips the IOCTL's frame
            (3, enter(Ddi::GetNextChunkData, None)), // still running at the end
        ]);
        let ix = Index::new(&t);
        assert_eq!(ix.calls.len(), 3);
        assert_eq!(ix.calls[0].leave, Some(3));
        assert_eq!(ix.calls[1].leave, None);
        assert_eq!(ix.calls[2].end(ix.trace_len()), 5);
        assert!(!ix.running_at(&ix.calls[2], 5) && ix.running_at(&ix.calls[1], 4));
    }

    #[test]
    fn threads_are_named_from_their_start_events() {
        let t = trace(&[
            (
                0,
                EventKind::ThreadStart {
                    name: "os-main".into(),
                    parent: None,
                },
            ),
            (
                0,
                EventKind::ThreadStart {
                    name: "umd-ioctl-1".into(),
                    parent: Some(0),
                },
            ),
            (
                5,
                EventKind::ThreadStart {
                    name: "dpc".into(),
                    parent: Some(0),
                },
            ),
        ]);
        let ix = Index::new(&t);
        assert_eq!(ix.thread_label(0), "t0 (os-main)");
        assert_eq!(ix.thread_label(1), "t1 (umd-ioctl-1)");
        assert_eq!(ix.thread_label(5), "t5 (dpc)");
        assert_eq!(ix.thread_label(9), "t9");
    }

    #[test]
    fn error_severity_is_the_top_two_bits() {
        assert!(is_error(NtStatus::STATUS_CANCELLED));
        assert!(!is_error(NtStatus::STATUS_PENDING) && !is_error(NtStatus::STATUS_BUFFER_OVERFLOW));
    }
}
