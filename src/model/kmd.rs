//! The reference display miniport: one Miracast target plus ordinary targets, keeping every
//! documented KMD rule unless a [`Knobs`] fault is switched on.
//!
//! Concurrency. The OS calls the KMD re-entrantly (Level-0 GPU-context DDIs, Level-1 child I/O
//! next to the Miracast class, completion routines on any thread, R27). All mutable state is in
//! two [`Tracked`] cells behind one [`SimMutex`]; the lock is never held across a call into the
//! OS, because the OS may call straight back into the KMD from inside that call (the completion
//! routine may run before `DxgkCbMiracastSendMessage` returns). The interrupt routine takes the
//! same lock, standing for `DxgkCbSynchronizeExecution`. Because a send uses the MiracastHandle
//! outside the lock, `DxgkDdiMiracastDestroyContext` waits for the sends in flight (a rundown,
//! R19); and the EDID stays readable until the departure is reported (R15). Both were found by
//! exploration.

use super::knobs::{ChunkIdFault, KmdConfig, Knobs};
use super::protocol::{self, IoctlRequest, KmdMessage, KmdStatusReply, SinkInfo};
use crate::ddi::*;
use crate::sched::{Sched, SimEvent, SimMutex, Tracked};
use crate::status::NtStatus;
use async_trait::async_trait;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Prefix of `DXGKARG_CREATECONTEXT.pPrivateDriverData` that marks a Direct3D UMD this KMD is
/// not compatible with: `DxgkDdiCreateContext` answers `STATUS_GRAPHICS_DRIVER_MISMATCH` (R71).
pub const INCOMPATIBLE_D3D_UMD_MARKER: &[u8] = crate::ddi::INCOMPATIBLE_D3D_UMD_MARKER;

/// `STATUS_MONITOR_NO_DESCRIPTOR` (0xC01E0001): `DxgkDdiQueryDeviceDescriptor` for a child
/// whose EDID the KMD does not know.
pub const MONITOR_NO_DESCRIPTOR: NtStatus = NtStatus(0xC01E_0001_u32 as i32);

/// Pool bytes a Miracast context holds from create to destroy (R12: freed at destroy).
pub const MIRACAST_CONTEXT_POOL_BYTES: u64 = 4096;

/// First `MiracastContext` handle value (contexts count up from here).
const MIRACAST_CONTEXT_BASE: u64 = 0x4D43_0000;
/// First GPU context handle value.
const GPU_CONTEXT_BASE: u64 = 0x4743_0000_0000;
/// Output buffer the KMD offers with its own messages (a `PING` echo fits).
const MESSAGE_OUTPUT_SIZE: usize = 64;
/// How long after `DxgkDdiMiracastDestroyContext` the `send_after_destroy` fault's work item
/// sends (the destroy has long returned by then).
const LATE_SEND_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

/// A message the KMD sent whose completion routine ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedMessage {
    /// Message kind (`POWER_OFF_MONITOR`, ...) or `RAW` for scenario bytes.
    pub name: &'static str,
    /// What the completion routine received.
    pub io_status: IoStatusBlock,
    /// The output buffer as the completion routine saw it (empty if already released).
    pub output: Vec<u8>,
}

/// The Miracast context and the OS callbacks that came with it.
struct MiracastContext {
    handle: Handle,
    services: Rc<dyn MiracastDisplayServices>,
    miracast_handle: Handle,
}

/// What the KMD last reported about the monitor behind the sink.
#[derive(Clone, Debug)]
struct Monitor {
    connected: bool,
    /// Last type reported with `Connected = TRUE`, repeated when unknown (R16);
    /// `UNINITIALIZED` until a first report.
    monitor_type: VideoOutputTechnology,
    edid: Option<Vec<u8>>,
}

struct KmdState {
    dxgkrnl: Option<Rc<dyn DxgkrnlServices>>,
    interface_queried: bool,
    miracast: Option<MiracastContext>,
    contexts_created: u64,
    monitor: Monitor,
    sink_info: Option<SinkInfo>,
    monitor_powered_off: bool,
    iframe_requests: u32,
    gpu_contexts: BTreeMap<u64, u64>,
    next_gpu_context: u64,
    /// First encoded slice of the current frame, for the `Duplicate` chunk-id fault.
    first_slice: Option<ChunkId>,
    dpcs_requested: u32,
    /// Sends between reading the Miracast context and `DxgkCbMiracastSendMessage` returning:
    /// `DxgkDdiMiracastDestroyContext` waits for them (rundown), so no send uses a
    /// MiracastHandle once its destroy has returned (R19).
    sends_in_flight: u32,
}

struct PendingMessage {
    name: &'static str,
    buffers: Rc<MessageBuffers>,
}

#[derive(Default)]
struct MessageTable {
    next_id: u64,
    /// Sent and accepted; the buffers stay alive here until the completion routine (R26).
    pending: BTreeMap<u64, PendingMessage>,
    completed: Vec<CompletedMessage>,
    /// Completion routines that found no record (only with a fault on).
    orphan_completions: u32,
    /// Sends the OS did not accept, with the status it gave.
    refused: Vec<(&'static str, NtStatus)>,
}

/// The reference display miniport. Build it with [`ReferenceKmd::new`] or
/// [`super::reference_drivers`].
pub struct ReferenceKmd {
    config: KmdConfig,
    knobs: Knobs,
    lock: SimMutex,
    state: Tracked<KmdState>,
    messages: Rc<Tracked<MessageTable>>,
    /// Set when the last in-flight send has returned (`sends_in_flight` is 0).
    sends_drained: SimEvent,
    /// Simulated hardware, not driver state: the scenario flips it between calls.
    hardware_busy: Cell<bool>,
    /// For the KMD's own work items (only the `send_after_destroy` fault has one).
    sched: Sched,
}

impl ReferenceKmd {
    /// A KMD on `sched` with `config`, breaking the rules `knobs` switch on.
    pub fn new(sched: &Sched, config: KmdConfig, knobs: Knobs) -> Self {
        ReferenceKmd {
            hardware_busy: Cell::new(config.hardware_busy),
            sched: sched.clone(),
            lock: SimMutex::new(sched, "kmd.lock"),
            state: Tracked::new(
                sched,
                "kmd.state",
                KmdState {
                    dxgkrnl: None,
                    interface_queried: false,
                    miracast: None,
                    contexts_created: 0,
                    monitor: Monitor {
                        connected: false,
                        monitor_type: VideoOutputTechnology::Uninitialized,
                        edid: None,
                    },
                    sink_info: None,
                    monitor_powered_off: false,
                    iframe_requests: 0,
                    gpu_contexts: BTreeMap::new(),
                    next_gpu_context: 0,
                    first_slice: None,
                    dpcs_requested: 0,
                    sends_in_flight: 0,
                },
            ),
            messages: Rc::new(Tracked::new(sched, "kmd.messages", MessageTable::default())),
            sends_drained: SimEvent::new(sched, "kmd.sends-drained", false),
            config,
            knobs,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &KmdConfig {
        &self.config
    }

    /// Sets the simulated encoder busy or free (R17), for scenario steps.
    pub fn set_hardware_busy(&self, busy: bool) {
        self.hardware_busy.set(busy);
    }

    /// True while the simulated encoder is busy.
    pub fn hardware_busy(&self) -> bool {
        self.hardware_busy.get()
    }

    /// Live GPU contexts (R71, R72).
    pub fn live_gpu_contexts(&self) -> usize {
        self.state.peek(|s| s.gpu_contexts.len())
    }

    /// Messages sent and accepted whose completion routine has not run.
    pub fn pending_messages(&self) -> usize {
        self.messages.peek(|m| m.pending.len())
    }

    /// Messages whose completion routine ran, in completion order.
    pub fn completed_messages(&self) -> Vec<CompletedMessage> {
        self.messages.peek(|m| m.completed.clone())
    }

    /// Completion routines that found no record of their message.
    pub fn orphan_completions(&self) -> u32 {
        self.messages.peek(|m| m.orphan_completions)
    }

    /// Sends the OS refused, with the status it returned.
    pub fn refused_messages(&self) -> Vec<(&'static str, NtStatus)> {
        self.messages.peek(|m| m.refused.clone())
    }

    /// What the KMD last reported: connected, and the monitor type.
    pub fn monitor(&self) -> (bool, VideoOutputTechnology) {
        self.state
            .peek(|s| (s.monitor.connected, s.monitor.monitor_type))
    }

    /// The last `SINK_INFO` the UMD sent in this context.
    pub fn sink_info(&self) -> Option<SinkInfo> {
        self.state.peek(|s| s.sink_info)
    }

    /// `REQUEST_IFRAME` IOCTLs received.
    pub fn iframe_requests(&self) -> u32 {
        self.state.peek(|s| s.iframe_requests)
    }

    /// `DxgkCbNotifyDpc` calls made after a chunk overflow (R53).
    pub fn dpcs_requested(&self) -> u32 {
        self.state.peek(|s| s.dpcs_requested)
    }

    /// True while a Miracast context exists.
    pub fn has_miracast_context(&self) -> bool {
        self.state.peek(|s| s.miracast.is_some())
    }

    /// Ordinary target ids: the first `other_targets` ids that are not a Miracast target.
    fn ordinary_targets(&self) -> Vec<u32> {
        let miracast = self.miracast_targets();
        (0..)
            .filter(|id| !miracast.contains(id))
            .take(self.config.other_targets as usize)
            .collect()
    }

    /// The Miracast target ids this KMD reports: one (R4), two with the fault on.
    fn miracast_targets(&self) -> Vec<u32> {
        if !self.config.miracast_supported {
            return Vec::new();
        }
        let first = self.config.miracast_target_id;
        let mut ids = vec![first];
        if self.knobs.two_miracast_targets {
            ids.push(first.wrapping_add(1));
        }
        ids
    }

    fn number_of_children(&self) -> u32 {
        self.config.other_targets + self.miracast_targets().len() as u32
    }

    /// A target id that is not the Miracast target (for the R17 and R51 faults).
    fn not_the_miracast_target(&self) -> u32 {
        self.ordinary_targets()
            .first()
            .copied()
            .unwrap_or(self.config.miracast_target_id.wrapping_add(1))
    }

    fn reported_monitor_type(&self, from_sink: VideoOutputTechnology) -> VideoOutputTechnology {
        if self.knobs.monitor_type_always_miracast {
            VideoOutputTechnology::Miracast
        } else {
            from_sink
        }
    }

    async fn indicate_miracast(
        &self,
        connected: bool,
        monitor_type: VideoOutputTechnology,
    ) -> NtStatus {
        self.indicate(ChildStatusKind::MiracastConnection {
            connected,
            monitor_type,
        })
        .await
    }

    /// Drops the EDID once the departure is reported, unless a monitor arrived again since.
    async fn forget_edid_if_departed(&self) {
        let _g = self.lock.lock().await;
        self.state.write(|s| {
            if !s.monitor.connected {
                s.monitor.edid = None;
            }
        });
    }

    /// `DxgkCbIndicateChildStatus` for the Miracast target with `status`.
    async fn indicate(&self, status: ChildStatusKind) -> NtStatus {
        let dxgkrnl = {
            let _g = self.lock.lock().await;
            self.state.read(|s| s.dxgkrnl.clone())
        };
        let Some(dxgkrnl) = dxgkrnl else {
            return NtStatus::STATUS_INVALID_DEVICE_STATE;
        };
        dxgkrnl
            .indicate_child_status(ChildStatus {
                child_uid: self.config.miracast_target_id,
                status,
            })
            .await
    }

    /// Sends `input` to the UMD with `DxgkCbMiracastSendMessage`, keeping R25-R27: the record
    /// (and with it the buffers) exists before the call, because the completion routine may
    /// run before the call returns, on another thread; only `STATUS_PENDING` means accepted.
    async fn send_to_umd(&self, input: Vec<u8>, output_size: usize) -> NtStatus {
        let status = self.send_once(&input, output_size).await;
        if self.knobs.send_pending_treated_as_failure && status == NtStatus::STATUS_PENDING {
            // The fault believes the send failed and tries once more (the first message is in
            // fact in flight, with its buffers already freed).
            return self.send_once(&input, output_size).await;
        }
        status
    }

    async fn send_once(&self, input: &[u8], output_size: usize) -> NtStatus {
        let name = protocol::describe_message(input).unwrap_or("RAW");
        let (context, id) = {
            let _g = self.lock.lock().await;
            let context = self.state.write(|s| {
                let context = s
                    .miracast
                    .as_ref()
                    .map(|m| (m.services.clone(), m.miracast_handle));
                if context.is_some() {
                    s.sends_in_flight += 1;
                }
                context
            });
            let id = self.messages.write(|m| {
                m.next_id += 1;
                m.next_id
            });
            (context, id)
        };
        let Some((services, miracast_handle)) = context else {
            return NtStatus::STATUS_INVALID_DEVICE_STATE;
        };
        let status = self
            .send_on(services, miracast_handle, id, name, input, output_size)
            .await;
        // The handle is no longer in use: a destroy waiting for the rundown may go on.
        let _g = self.lock.lock().await;
        let drained = self.state.write(|s| {
            s.sends_in_flight -= 1;
            s.sends_in_flight == 0
        });
        if drained {
            self.sends_drained.set();
        }
        status
    }

    async fn send_on(
        &self,
        services: Rc<dyn MiracastDisplayServices>,
        miracast_handle: Handle,
        id: u64,
        name: &'static str,
        input: &[u8],
        output_size: usize,
    ) -> NtStatus {
        let buffers = MessageBuffers::new(input.to_vec(), output_size);
        let record = PendingMessage {
            name,
            buffers: buffers.clone(),
        };
        if !self.knobs.pending_state_recorded_after_send {
            {
                let _g = self.lock.lock().await;
                self.messages.write(|m| m.pending.insert(id, record));
            }
            // The lock is free again: the completion routine may run inside this call.
            let status = services
                .send_message(miracast_handle, buffers.clone(), Some(Handle(id)))
                .await;
            return self.after_send(id, name, &buffers, status).await;
        }
        let status = services
            .send_message(miracast_handle, buffers.clone(), Some(Handle(id)))
            .await;
        if status == NtStatus::STATUS_PENDING {
            // The R27 fault: recorded after the call, unlocked, as if the completion routine
            // could only run later.
            self.messages.write(|m| m.pending.insert(id, record));
        }
        self.after_send(id, name, &buffers, status).await
    }

    async fn after_send(
        &self,
        id: u64,
        name: &'static str,
        buffers: &Rc<MessageBuffers>,
        status: NtStatus,
    ) -> NtStatus {
        let accepted = if self.knobs.send_pending_treated_as_failure {
            status == NtStatus::STATUS_SUCCESS
        } else {
            status == NtStatus::STATUS_PENDING
        };
        if !accepted {
            // Not delivered: no completion routine will run (G14), so the buffers are ours to
            // free now.
            let _g = self.lock.lock().await;
            self.messages.write(|m| {
                m.pending.remove(&id);
                m.refused.push((name, status));
            });
            buffers.release();
        } else if self.knobs.message_buffer_released_early {
            buffers.release();
        }
        status
    }

    fn apply_chunk_fault(&self, state: &mut KmdState, info: &mut ChunkInfo) {
        match self.knobs.chunk_id_fault {
            None => {}
            Some(ChunkIdFault::Duplicate) if info.chunk_type == ChunkType::EncodeComplete => {
                let frame = info.chunk_id.frame_number();
                match state.first_slice {
                    Some(first) if first.frame_number() == frame => info.chunk_id = first,
                    _ => state.first_slice = Some(info.chunk_id),
                }
            }
            Some(ChunkIdFault::Duplicate) => {}
            Some(ChunkIdFault::Overflow) => {
                info.chunk_id = ChunkId(info.chunk_id.0 | (1 << 40));
            }
        }
    }
}

#[async_trait(?Send)]
impl MiracastKmd for ReferenceKmd {
    async fn start_device(&self, dxgkrnl: Rc<dyn DxgkrnlServices>) -> (NtStatus, u32) {
        let _g = self.lock.lock().await;
        self.state.write(|s| s.dxgkrnl = Some(dxgkrnl));
        // R5: the Miracast target is a potential child, counted from the start.
        (NtStatus::STATUS_SUCCESS, self.number_of_children())
    }

    async fn query_miracast_interface(
        &self,
        size: u16,
        version: u16,
    ) -> (NtStatus, Option<MiracastDisplayInterface>) {
        if !self.config.miracast_supported || version != DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1 {
            // R1: a KMD without Miracast (or asked for a version it lacks) fails the query.
            return (NtStatus::STATUS_NOT_SUPPORTED, None);
        }
        if size < DXGK_MIRACAST_DISPLAY_INTERFACE_SIZE {
            return (NtStatus::STATUS_INVALID_PARAMETER, None);
        }
        {
            let _g = self.lock.lock().await;
            self.state.write(|s| s.interface_queried = true);
        }
        let mut interface = MiracastDisplayInterface::complete(Handle(MIRACAST_CONTEXT_BASE));
        if self.knobs.incomplete_miracast_interface {
            interface.has_io_control = false;
        }
        (NtStatus::STATUS_SUCCESS, Some(interface))
    }

    async fn query_child_relations(&self, relations: &mut [ChildDescriptor]) -> NtStatus {
        let interface_queried = {
            let _g = self.lock.lock().await;
            self.state.read(|s| s.interface_queried)
        };
        let mut children: Vec<ChildDescriptor> = self
            .ordinary_targets()
            .into_iter()
            .map(|uid| ChildDescriptor {
                child_device_type: ChildDeviceType::VideoOutput,
                interface_technology: VideoOutputTechnology::DisplayportExternal,
                hpd_awareness: HpdAwareness::Interruptible,
                acpi_uid: 0,
                child_uid: uid,
            })
            .collect();
        // R3: only an OS that asked for the Miracast interface sees a Miracast target; before
        // that the counted child is an unknown output that never connects.
        let technology = if interface_queried || self.knobs.miracast_target_before_interface_query {
            VideoOutputTechnology::Miracast
        } else {
            VideoOutputTechnology::Other
        };
        for uid in self.miracast_targets() {
            children.push(ChildDescriptor {
                child_device_type: ChildDeviceType::VideoOutput,
                interface_technology: technology,
                // R5: interruptible, so the OS never polls the Miracast target.
                hpd_awareness: if self.knobs.miracast_hpd_polled {
                    HpdAwareness::Polled
                } else {
                    HpdAwareness::Interruptible
                },
                acpi_uid: 0,
                child_uid: uid,
            });
        }
        children.sort_by_key(|c| c.child_uid);
        // R6: NumberOfChildren + 1 entries, the last one left zero.
        if relations.len() < children.len() + 1 {
            return NtStatus::STATUS_BUFFER_TOO_SMALL;
        }
        relations[..children.len()].copy_from_slice(&children);
        if self.knobs.nonzero_child_relations_terminator {
            relations[children.len()] = children[children.len() - 1];
        }
        NtStatus::STATUS_SUCCESS
    }

    async fn query_child_status(
        &self,
        status: &mut ChildStatus,
        _non_destructive_only: bool,
    ) -> NtStatus {
        if self.miracast_targets().contains(&status.child_uid) {
            let monitor = {
                let _g = self.lock.lock().await;
                self.state.read(|s| s.monitor.clone())
            };
            let (mut connected, mut monitor_type) = (monitor.connected, monitor.monitor_type);
            if self.knobs.monitor_before_session && !connected {
                (connected, monitor_type) = (true, VideoOutputTechnology::Miracast);
            }
            if status.child_uid != self.config.miracast_target_id {
                // The second target of the R4 fault never connects.
                (connected, monitor_type) = (false, VideoOutputTechnology::Uninitialized);
            }
            // R9/R16: "not connected" until a session reported a monitor, then the last
            // reported connector.
            status.status = if self.knobs.child_status_wrong_arm {
                ChildStatusKind::Connection { connected }
            } else {
                ChildStatusKind::MiracastConnection {
                    connected,
                    monitor_type,
                }
            };
            return NtStatus::STATUS_SUCCESS;
        }
        if !self.ordinary_targets().contains(&status.child_uid) {
            return NtStatus::STATUS_INVALID_PARAMETER;
        }
        status.status = match status.status {
            ChildStatusKind::Rotation { .. } => ChildStatusKind::Rotation { angle: 0 },
            _ => ChildStatusKind::Connection { connected: false },
        };
        NtStatus::STATUS_SUCCESS
    }

    async fn query_device_descriptor(&self, child_uid: u32) -> (NtStatus, Vec<u8>) {
        if child_uid != self.config.miracast_target_id || !self.config.miracast_supported {
            return (MONITOR_NO_DESCRIPTOR, Vec::new());
        }
        let edid = {
            let _g = self.lock.lock().await;
            self.state.read(|s| s.monitor.edid.clone())
        };
        match edid {
            // R15: the EDID the UMD passed with MONITOR_ARRIVED.
            Some(edid) if !edid.is_empty() && !self.knobs.edid_not_returned => {
                (NtStatus::STATUS_SUCCESS, edid)
            }
            _ => (MONITOR_NO_DESCRIPTOR, Vec::new()),
        }
    }

    async fn commit_vidpn(&self, commit: VidPnCommit) -> NtStatus {
        if !self.config.miracast_supported || commit.target_id != self.config.miracast_target_id {
            return NtStatus::STATUS_SUCCESS;
        }
        let (was_off, has_context) = {
            let _g = self.lock.lock().await;
            self.state.write(|s| {
                let was_off = s.monitor_powered_off;
                s.monitor_powered_off = commit.monitor_power_off;
                (was_off, s.miracast.is_some())
            })
        };
        if !has_context {
            return NtStatus::STATUS_SUCCESS;
        }
        // R31: the UMD hears of a power-off before the commit returns.
        let message = match (was_off, commit.monitor_power_off) {
            (false, true) if !self.knobs.no_power_off_message => Some(KmdMessage::PowerOffMonitor),
            (true, false) => Some(KmdMessage::PowerOnMonitor),
            _ => None,
        };
        if self.knobs.message_after_disconnect_in_commit
            && matches!(message, Some(KmdMessage::PowerOffMonitor))
        {
            // The R21 fault: the monitor is reported gone first, and the message below still
            // goes to the UMD although the KMD now knows of the disconnect.
            let departed = {
                let _g = self.lock.lock().await;
                self.state.write(|s| {
                    std::mem::replace(&mut s.monitor.connected, false)
                        .then_some(s.monitor.monitor_type)
                })
            };
            if let Some(monitor_type) = departed {
                let _ = self.indicate_miracast(false, monitor_type).await;
            }
        }
        if let Some(message) = message {
            // A refused message does not fail the commit; the refusal is recorded.
            let _ = self.send_to_umd(message.encode(), 0).await;
        }
        NtStatus::STATUS_SUCCESS
    }

    async fn create_context(&self, args: &CreateContextArgs) -> (NtStatus, Handle) {
        if args
            .private_driver_data
            .starts_with(INCOMPATIBLE_D3D_UMD_MARKER)
        {
            return (NtStatus::STATUS_GRAPHICS_DRIVER_MISMATCH, Handle(0));
        }
        let _g = self.lock.lock().await;
        let (dxgkrnl, live) = self
            .state
            .read(|s| (s.dxgkrnl.clone(), s.gpu_contexts.len()));
        if let Some(cap) = self.knobs.gpu_context_cap
            && live >= cap as usize
        {
            return (NtStatus::STATUS_INSUFFICIENT_RESOURCES, Handle(0));
        }
        let Some(dxgkrnl) = dxgkrnl else {
            return (NtStatus::STATUS_INVALID_DEVICE_STATE, Handle(0));
        };
        // R71: running out of memory is the only reason to refuse a GPU context.
        let bytes = self.config.bytes_per_gpu_context;
        if !dxgkrnl.allocate_pool(bytes) {
            return (NtStatus::STATUS_NO_MEMORY, Handle(0));
        }
        let id = self.state.write(|s| {
            s.next_gpu_context += 1;
            s.gpu_contexts.insert(s.next_gpu_context, bytes);
            s.next_gpu_context
        });
        (NtStatus::STATUS_SUCCESS, Handle(GPU_CONTEXT_BASE + id))
    }

    async fn destroy_context(&self, context: Handle) -> NtStatus {
        let _g = self.lock.lock().await;
        let Some(id) = context.0.checked_sub(GPU_CONTEXT_BASE) else {
            return NtStatus::STATUS_INVALID_HANDLE;
        };
        if self.knobs.gpu_context_leaked_on_destroy {
            let known = self.state.read(|s| s.gpu_contexts.contains_key(&id));
            return if known {
                NtStatus::STATUS_SUCCESS
            } else {
                NtStatus::STATUS_INVALID_HANDLE
            };
        }
        // R72: the pool and the tracking record go.
        let (bytes, dxgkrnl) = self
            .state
            .write(|s| (s.gpu_contexts.remove(&id), s.dxgkrnl.clone()));
        match (bytes, dxgkrnl) {
            (Some(bytes), Some(dxgkrnl)) => {
                dxgkrnl.free_pool(bytes);
                NtStatus::STATUS_SUCCESS
            }
            _ => NtStatus::STATUS_INVALID_HANDLE,
        }
    }

    async fn interrupt_routine(&self, event: HardwareEvent) -> bool {
        let HardwareEvent::ChunkProcessed {
            chunk_info,
            private_driver_data,
        } = event;
        if !self.config.miracast_supported {
            return false;
        }
        let mut info = chunk_info;
        let (dxgkrnl, context) = {
            let _g = self.lock.lock().await;
            self.state.write(|s| {
                self.apply_chunk_fault(s, &mut info);
                (
                    s.dxgkrnl.clone(),
                    s.miracast
                        .as_ref()
                        .map(|m| (m.services.clone(), m.miracast_handle)),
                )
            })
        };
        let Some(dxgkrnl) = dxgkrnl else {
            return false;
        };
        if self.knobs.encode_rate_zero && info.chunk_type == ChunkType::EncodeComplete {
            // The R59 fault: the encoder's rate is lost on the way to the OS.
            info.encode_rate = 0;
        }
        let max = self.config.max_chunk_private_driver_data_size as usize;
        let mut private = private_driver_data;
        if !self.knobs.chunk_private_data_over_caps {
            // R52: never more than the caps announced.
            private.truncate(max);
        }
        // R51: the Miracast target is the one encoding.
        let vidpn_target_id = if self.knobs.chunk_interrupt_wrong_target {
            self.not_the_miracast_target()
        } else {
            self.config.miracast_target_id
        };
        let status = dxgkrnl
            .notify_interrupt(MiracastEncodeChunkCompleted {
                vidpn_target_id,
                chunk_info: info,
                private_driver_data: private.clone(),
            })
            .await;
        if status == NtStatus::STATUS_NO_MEMORY && !self.knobs.no_notify_dpc_on_overflow {
            // R53: the chunk queue overflowed; the DPC lets the OS reset it.
            {
                let _g = self.lock.lock().await;
                self.state.write(|s| s.dpcs_requested += 1);
            }
            dxgkrnl.notify_dpc().await;
        }
        if let Some((services, miracast_handle)) = context {
            if self.config.report_chunk_info || self.knobs.report_chunk_info_private_data {
                // R57: logging only, reserved arguments left empty.
                let reserved = self.knobs.report_chunk_info_private_data.then_some(private);
                let _ = services
                    .report_chunk_info(miracast_handle, info, reserved)
                    .await;
            }
            if self.knobs.send_message_from_isr {
                let ping = KmdMessage::Ping {
                    seq: info.chunk_id.frame_number() as u32,
                    data: Vec::new(),
                };
                let _ = self.send_to_umd(ping.encode(), MESSAGE_OUTPUT_SIZE).await;
            }
        }
        true
    }

    async fn dpc_routine(&self) {}

    async fn set_encoder_busy(&self, busy: bool) -> NtStatus {
        self.hardware_busy.set(busy);
        NtStatus::STATUS_SUCCESS
    }

    async fn monitor_departs(&self) -> NtStatus {
        let departed = {
            let _guard = self.lock.lock().await;
            self.take_departure()
        };
        match departed {
            Some(monitor_type) => self.announce_departure(monitor_type).await,
            None => NtStatus::STATUS_INVALID_DEVICE_STATE,
        }
    }

    async fn escape_send_message(&self, payload: &[u8], output_size: u32) -> NtStatus {
        if !self.config.miracast_supported {
            return NtStatus::STATUS_NOT_SUPPORTED;
        }
        // The step's status is what DxgkCbMiracastSendMessage answered, as a binary KMD's test
        // hook reports it (miracast_sim_kmd.h).
        self.send_to_umd(payload.to_vec(), output_size as usize)
            .await
    }

    async fn miracast_query_caps(&self, caps_size: u32) -> (NtStatus, MiracastCaps, u32) {
        if !self.config.miracast_supported {
            return (NtStatus::STATUS_NOT_SUPPORTED, MiracastCaps::default(), 0);
        }
        let mut flags = u32::from(self.config.hdcp_support);
        if self.knobs.caps_reserved_bits {
            flags |= 1 << 3;
        }
        let caps = MiracastCaps {
            max_chunk_private_driver_data_size: self.config.max_chunk_private_driver_data_size,
            flags,
        };
        if self.knobs.caps_written_past_buffer {
            return (NtStatus::STATUS_SUCCESS, caps, 2 * DXGK_MIRACAST_CAPS_SIZE);
        }
        // R8: the buffer must hold the whole structure before anything is written (G20: the
        // code is our choice).
        if caps_size < DXGK_MIRACAST_CAPS_SIZE {
            return (
                NtStatus::STATUS_BUFFER_TOO_SMALL,
                MiracastCaps::default(),
                0,
            );
        }
        (NtStatus::STATUS_SUCCESS, caps, DXGK_MIRACAST_CAPS_SIZE)
    }

    async fn miracast_create_context(
        &self,
        callbacks: Rc<dyn MiracastDisplayServices>,
    ) -> (NtStatus, Handle, u32) {
        if !self.config.miracast_supported {
            return (NtStatus::STATUS_NOT_SUPPORTED, Handle(0), 0);
        }
        if self.hardware_busy.get() {
            // R17: busy hardware is exactly STATUS_RESOURCE_IN_USE.
            let status = if self.knobs.busy_wrong_status {
                NtStatus::STATUS_INSUFFICIENT_RESOURCES
            } else {
                NtStatus::STATUS_RESOURCE_IN_USE
            };
            return (status, Handle(0), 0);
        }
        let miracast_handle = callbacks.miracast_handle();
        let created = {
            let _g = self.lock.lock().await;
            self.state.write(|s| {
                if s.miracast.is_some() {
                    // One session per Miracast target (R22): the encoder is taken.
                    return Err(NtStatus::STATUS_RESOURCE_IN_USE);
                }
                let Some(dxgkrnl) = s.dxgkrnl.clone() else {
                    return Err(NtStatus::STATUS_INVALID_DEVICE_STATE);
                };
                if !dxgkrnl.allocate_pool(MIRACAST_CONTEXT_POOL_BYTES) {
                    return Err(NtStatus::STATUS_NO_MEMORY);
                }
                s.contexts_created += 1;
                let handle = Handle(MIRACAST_CONTEXT_BASE + s.contexts_created);
                s.miracast = Some(MiracastContext {
                    handle,
                    services: callbacks,
                    miracast_handle,
                });
                s.first_slice = None;
                if self.knobs.monitor_before_session {
                    s.monitor.connected = true;
                    s.monitor.monitor_type = VideoOutputTechnology::Miracast;
                }
                Ok(handle)
            })
        };
        let handle = match created {
            Ok(handle) => handle,
            Err(status) => return (status, Handle(0), 0),
        };
        if self.knobs.monitor_before_session {
            let _ = self
                .indicate_miracast(true, VideoOutputTechnology::Miracast)
                .await;
        }
        // R17: TargetId is the target reported as D3DKMDT_VOT_MIRACAST.
        let target_id = if self.knobs.wrong_miracast_target_id {
            self.not_the_miracast_target()
        } else {
            self.config.miracast_target_id
        };
        (NtStatus::STATUS_SUCCESS, handle, target_id)
    }

    async fn miracast_io_control(
        &self,
        context: Handle,
        _hardware_access: bool,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        let (status, written) = self.io_control(context, input, output).await;
        if self.knobs.io_control_overstates_bytes_returned {
            return (status, output.len() as u32 + 16);
        }
        (status, written)
    }

    async fn miracast_destroy_context(&self, context: Handle) {
        let departed = {
            let _g = self.lock.lock().await;
            self.state.write(|s| {
                if s.miracast.as_ref().map(|m| m.handle) != Some(context) {
                    return None;
                }
                let old = s.miracast.take();
                if let Some(dxgkrnl) = &s.dxgkrnl {
                    dxgkrnl.free_pool(MIRACAST_CONTEXT_POOL_BYTES);
                }
                s.sink_info = None;
                s.monitor_powered_off = false;
                s.first_slice = None;
                let was_connected = std::mem::replace(&mut s.monitor.connected, false);
                Some((was_connected.then_some(s.monitor.monitor_type), old))
            })
        };
        let Some((departed, old)) = departed else {
            return;
        };
        // Rundown (R19): a send that read the context before it was taken may still be inside
        // DxgkCbMiracastSendMessage with its MiracastHandle; wait until every such send is out.
        loop {
            {
                let _g = self.lock.lock().await;
                if self.state.read(|s| s.sends_in_flight) == 0 {
                    break;
                }
                self.sends_drained.reset();
            }
            self.sends_drained.wait(None).await;
        }
        // R12: departure is reported at once when a monitor was reported.
        if let Some(monitor_type) = departed
            && !self.knobs.no_departure_at_kmd_destroy
        {
            let _ = self.indicate_miracast(false, monitor_type).await;
        }
        self.forget_edid_if_departed().await;
        if self.knobs.send_after_destroy
            && let Some(old) = old
        {
            // The R19 fault: a work item the destroy did not cancel sends once the destroy
            // has returned, with the freed context's MiracastHandle.
            let (lock, messages, sched) =
                (self.lock.clone(), self.messages.clone(), self.sched.clone());
            self.sched.spawn("kmd-late-send", false, async move {
                sched.sleep(LATE_SEND_DELAY).await;
                send_with_stale_handle(&lock, &messages, old.services, old.miracast_handle).await;
            });
        }
    }

    async fn send_message_callback(&self, callback_context: Handle, io_status: IoStatusBlock) {
        let _g = self.lock.lock().await;
        self.messages
            .write(|m| match m.pending.remove(&callback_context.0) {
                Some(record) => {
                    // R26: the buffers are freed here and nowhere earlier.
                    let output = if record.buffers.is_released() {
                        Vec::new()
                    } else {
                        // What the OS copied back (`Information` bytes), not the whole
                        // declared buffer: a huge buffer costs nothing until touched.
                        let out = record.buffers.output.borrow();
                        let n = usize::try_from(io_status.information)
                            .unwrap_or(usize::MAX)
                            .min(out.len());
                        out[..n].to_vec()
                    };
                    record.buffers.release();
                    m.completed.push(CompletedMessage {
                        name: record.name,
                        io_status,
                        output,
                    });
                }
                None => m.orphan_completions += 1,
            });
    }
}

impl ReferenceKmd {
    /// The monitor is gone (the UMD said so, or the hardware did): marks it disconnected and
    /// returns its type, or `None` when none was connected. The caller holds `lock`.
    fn take_departure(&self) -> Option<VideoOutputTechnology> {
        self.state.write(|s| {
            std::mem::replace(&mut s.monitor.connected, false).then_some(s.monitor.monitor_type)
        })
    }

    /// Reports a departure [`Self::take_departure`] took, without holding `lock`.
    async fn announce_departure(&self, monitor_type: VideoOutputTechnology) -> NtStatus {
        // The EDID stays readable until the OS knows the monitor is gone: Plug and Play may
        // still read it for the arrival it saw (R15).
        let status = self.indicate_miracast(false, monitor_type).await;
        self.forget_edid_if_departed().await;
        status
    }

    async fn io_control(
        &self,
        context: Handle,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        // R23: sizes come unchecked from user mode; the decoder checks every length.
        let request = match IoctlRequest::decode(input) {
            Ok(request) => request,
            Err(_) => return (NtStatus::STATUS_INVALID_PARAMETER, 0),
        };
        let guard = self.lock.lock().await;
        let valid = self
            .state
            .read(|s| s.miracast.as_ref().map(|m| m.handle) == Some(context));
        if !valid {
            return (NtStatus::STATUS_INVALID_HANDLE, 0);
        }
        match request {
            IoctlRequest::MonitorArrived { monitor_type, edid } => {
                let monitor_type = self.reported_monitor_type(monitor_type);
                self.state.write(|s| {
                    s.monitor = Monitor {
                        connected: true,
                        monitor_type,
                        edid: Some(edid),
                    }
                });
                drop(guard);
                if self.knobs.monitor_arrival_ioctl_ignored {
                    // The R11 fault: the arrival is remembered but never reported.
                    return (NtStatus::STATUS_SUCCESS, 0);
                }
                if self.knobs.arrival_with_status_connection {
                    // The R10 fault: the HotPlug arm, as for a wired output.
                    let status = ChildStatusKind::Connection { connected: true };
                    return (self.indicate(status).await, 0);
                }
                // R10/R11: arrival with the connector the sink reported.
                (self.indicate_miracast(true, monitor_type).await, 0)
            }
            IoctlRequest::MonitorDeparted => {
                let departed = self.take_departure();
                drop(guard);
                match departed {
                    Some(monitor_type) => (self.announce_departure(monitor_type).await, 0),
                    None => (NtStatus::STATUS_SUCCESS, 0),
                }
            }
            IoctlRequest::SinkInfo(info) => {
                self.state.write(|s| s.sink_info = Some(info));
                (NtStatus::STATUS_SUCCESS, 0)
            }
            IoctlRequest::QueryStatus => {
                if output.len() < KmdStatusReply::SIZE {
                    return (NtStatus::STATUS_BUFFER_TOO_SMALL, 0);
                }
                let in_flight = self.messages.read(|m| m.pending.len() as u32);
                let reply = self.state.read(|s| KmdStatusReply {
                    monitor_connected: s.monitor.connected,
                    monitor_type: s.monitor.monitor_type,
                    messages_in_flight: in_flight,
                    iframe_requests: s.iframe_requests,
                });
                output[..KmdStatusReply::SIZE].copy_from_slice(&reply.encode());
                (NtStatus::STATUS_SUCCESS, KmdStatusReply::SIZE as u32)
            }
            IoctlRequest::RequestIframe => {
                self.state.write(|s| s.iframe_requests += 1);
                (NtStatus::STATUS_SUCCESS, 0)
            }
        }
    }
}

/// The R19 fault: a `PING` sent with the `MiracastHandle` of a context that
/// `DxgkDdiMiracastDestroyContext` already freed. Recorded like any send (R26): a refusal frees
/// the buffers and is listed in [`ReferenceKmd::refused_messages`]; an accepted one waits for
/// its completion routine.
async fn send_with_stale_handle(
    lock: &SimMutex,
    messages: &Tracked<MessageTable>,
    services: Rc<dyn MiracastDisplayServices>,
    miracast_handle: Handle,
) {
    let input = KmdMessage::Ping {
        seq: 0,
        data: Vec::new(),
    }
    .encode();
    let name = protocol::describe_message(&input).unwrap_or("RAW");
    let buffers = MessageBuffers::new(input, MESSAGE_OUTPUT_SIZE);
    let id = {
        let _g = lock.lock().await;
        messages.write(|m| {
            m.next_id += 1;
            let id = m.next_id;
            let record = PendingMessage {
                name,
                buffers: buffers.clone(),
            };
            m.pending.insert(id, record);
            id
        })
    };
    let status = services
        .send_message(miracast_handle, buffers.clone(), Some(Handle(id)))
        .await;
    if status != NtStatus::STATUS_PENDING {
        let _g = lock.lock().await;
        messages.write(|m| {
            m.pending.remove(&id);
            m.refused.push((name, status));
        });
        buffers.release();
    }
}
