//! The display miniport (KMD) seam: the Miracast DDIs of `DXGK_MIRACAST_DISPLAY_INTERFACE`, the
//! ordinary WDDM DDIs the Miracast flow needs, and the dxgkrnl services the KMD calls back.
//!
//! Methods are `async` because the simulated OS may suspend a driver inside a DDI at any
//! OS-service call (for example inside `DxgkCbMiracastSendMessage`) and run another thread
//! first. They take `&self`: the OS calls a KMD re-entrantly, as Windows does, so a driver keeps
//! its state behind its own locks.

use super::types::*;
use crate::status::NtStatus;
use async_trait::async_trait;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// What `DxgkDdiQueryInterface` returned for `GUID_DEVINTERFACE_MIRACAST_DISPLAY`: the header
/// fields of `DXGK_MIRACAST_DISPLAY_INTERFACE` and which entries are non-NULL (R1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MiracastDisplayInterface {
    /// `Size`.
    pub size: u16,
    /// `Version`.
    pub version: u16,
    /// `Context`.
    pub context: Handle,
    /// `InterfaceReference` is set.
    pub has_interface_reference: bool,
    /// `InterfaceDereference` is set.
    pub has_interface_dereference: bool,
    /// `DxgkDdiMiracastQueryCaps` is set.
    pub has_query_caps: bool,
    /// `DxgkDdiMiracastCreateContext` is set.
    pub has_create_context: bool,
    /// `DxgkDdiMiracastIoControl` is set.
    pub has_io_control: bool,
    /// `DxgkDdiMiracastDestroyContext` is set.
    pub has_destroy_context: bool,
}

impl MiracastDisplayInterface {
    /// A complete x64 interface with every entry set.
    pub fn complete(context: Handle) -> Self {
        MiracastDisplayInterface {
            size: DXGK_MIRACAST_DISPLAY_INTERFACE_SIZE,
            version: DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1,
            context,
            has_interface_reference: true,
            has_interface_dereference: true,
            has_query_caps: true,
            has_create_context: true,
            has_io_control: true,
            has_destroy_context: true,
        }
    }

    /// The names of NULL entries (empty for a complete interface).
    pub fn null_entries(&self) -> Vec<&'static str> {
        [
            (self.has_interface_reference, "InterfaceReference"),
            (self.has_interface_dereference, "InterfaceDereference"),
            (self.has_query_caps, "DxgkDdiMiracastQueryCaps"),
            (self.has_create_context, "DxgkDdiMiracastCreateContext"),
            (self.has_io_control, "DxgkDdiMiracastIoControl"),
            (self.has_destroy_context, "DxgkDdiMiracastDestroyContext"),
        ]
        .into_iter()
        .filter(|(set, _)| !set)
        .map(|(_, n)| n)
        .collect()
    }
}

/// The `IO_STATUS_BLOCK` the completion routine receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoStatusBlock {
    /// `Status`: the UMD's result, or an error when the message was dropped.
    pub status: NtStatus,
    /// `Information`: bytes the UMD wrote into the output buffer.
    pub information: u64,
}

/// The buffers a KMD passes to `DxgkCbMiracastSendMessage`. They belong to the KMD and must
/// stay valid until its completion routine has run (R26); [`MessageBuffers::release`] models
/// the KMD freeing them, and the OS reports any later touch as a use after release.
#[derive(Debug)]
pub struct MessageBuffers {
    /// `pInputBuffer` contents.
    pub input: Vec<u8>,
    /// `pOutputBuffer`: the OS copies the UMD's output here before the completion routine.
    pub output: RefCell<Vec<u8>>,
    released: Cell<bool>,
}

impl MessageBuffers {
    /// Buffers with `input` and an output buffer of `output_size` zero bytes.
    pub fn new(input: Vec<u8>, output_size: usize) -> Rc<Self> {
        Rc::new(MessageBuffers {
            input,
            output: RefCell::new(vec![0; output_size]),
            released: Cell::new(false),
        })
    }

    /// The KMD frees the buffers.
    pub fn release(&self) {
        self.released.set(true);
    }

    /// True once released.
    pub fn is_released(&self) -> bool {
        self.released.get()
    }
}

/// A GPU event the simulated hardware raises, delivered to `DxgkDdiInterruptRoutine`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HardwareEvent {
    /// The encoder finished one step of a chunk; the KMD's ISR is expected to report it with
    /// `DxgkCbNotifyInterrupt(DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE)` (R51).
    ChunkProcessed {
        /// The chunk as the hardware describes it.
        chunk_info: ChunkInfo,
        /// Private bytes the hardware produced for the UMD.
        private_driver_data: Vec<u8>,
    },
}

/// A VidPN commit, reduced to what the Miracast flow needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VidPnCommit {
    /// The target the commit is about.
    pub target_id: u32,
    /// The commit powers the monitor off (R31: the KMD must tell the UMD).
    pub monitor_power_off: bool,
}

/// dxgkrnl services a KMD receives in `DxgkDdiStartDevice` (`DXGKRNL_INTERFACE`).
#[async_trait(?Send)]
pub trait DxgkrnlServices {
    /// `DxgkCbIndicateChildStatus`.
    async fn indicate_child_status(&self, status: ChildStatus) -> NtStatus;
    /// `DxgkCbNotifyInterrupt` with `MiracastEncodeChunkCompleted`. Returns the `Status` the OS
    /// wrote into the structure (G10): `STATUS_SUCCESS` queued, `STATUS_INVALID_PARAMETER`
    /// rejected, `STATUS_NO_MEMORY` no free chunk packet.
    async fn notify_interrupt(&self, data: MiracastEncodeChunkCompleted) -> NtStatus;
    /// `DxgkCbNotifyDpc`.
    async fn notify_dpc(&self);
    /// Kernel pool allocation (`ExAllocatePoolWithTag`), for the memory budget: false when the
    /// scenario's system memory is spent.
    fn allocate_pool(&self, bytes: u64) -> bool;
    /// Frees what [`DxgkrnlServices::allocate_pool`] gave.
    fn free_pool(&self, bytes: u64);
}

/// `DXGK_MIRACAST_DISPLAY_CALLBACKS`: what the OS hands the KMD in `DxgkDdiMiracastCreateContext`.
#[async_trait(?Send)]
pub trait MiracastDisplayServices {
    /// `MiracastHandle`.
    fn miracast_handle(&self) -> Handle;
    /// `DxgkCbMiracastSendMessage`. `callback_context` is `Some` when the KMD passes a completion
    /// routine (its `pCallbackContext`); the OS then calls
    /// [`MiracastKmd::send_message_callback`]. Success is exactly `STATUS_PENDING` (R25).
    async fn send_message(
        &self,
        miracast_handle: Handle,
        buffers: Rc<MessageBuffers>,
        callback_context: Option<Handle>,
    ) -> NtStatus;
    /// `DxgkCbReportChunkInfo`. `private_driver_data` is reserved and must be `None` (R57).
    async fn report_chunk_info(
        &self,
        miracast_handle: Handle,
        chunk_info: ChunkInfo,
        private_driver_data: Option<Vec<u8>>,
    ) -> NtStatus;
}

/// The display miniport under test.
#[async_trait(?Send)]
pub trait MiracastKmd {
    /// `DxgkDdiStartDevice`: receives the dxgkrnl services, returns `NumberOfChildren` (which
    /// must count the Miracast target, R5).
    async fn start_device(&self, dxgkrnl: Rc<dyn DxgkrnlServices>) -> (NtStatus, u32);
    /// `DxgkDdiQueryInterface` for `GUID_DEVINTERFACE_MIRACAST_DISPLAY`; `None` with
    /// `STATUS_NOT_SUPPORTED` for a KMD without Miracast.
    async fn query_miracast_interface(
        &self,
        size: u16,
        version: u16,
    ) -> (NtStatus, Option<MiracastDisplayInterface>);
    /// `DxgkDdiQueryChildRelations`: fill all but the last of the zeroed descriptors (R6).
    async fn query_child_relations(&self, relations: &mut [ChildDescriptor]) -> NtStatus;
    /// `DxgkDdiQueryChildStatus`: the OS sets `child_uid` and the type to ask about.
    async fn query_child_status(
        &self,
        status: &mut ChildStatus,
        non_destructive_only: bool,
    ) -> NtStatus;
    /// `DxgkDdiQueryDeviceDescriptor`: the monitor's EDID, when the KMD knows it (R15).
    async fn query_device_descriptor(&self, child_uid: u32) -> (NtStatus, Vec<u8>);
    /// `DxgkDdiCommitVidPn`, reduced to the Miracast target's power state.
    async fn commit_vidpn(&self, commit: VidPnCommit) -> NtStatus;
    /// `DxgkDdiCreateContext` (a GPU context, not a Miracast context). Returns the KMD's handle.
    async fn create_context(&self, args: &CreateContextArgs) -> (NtStatus, Handle);
    /// `DxgkDdiDestroyContext`.
    async fn destroy_context(&self, context: Handle) -> NtStatus;
    /// `DxgkDdiRemoveDevice`: the adapter goes away and the OS then unloads the KMD, which must
    /// free its adapter context and everything else it still holds. The default frees nothing,
    /// which is right for a driver that keeps no adapter state of its own.
    async fn remove_device(&self) -> NtStatus {
        NtStatus::STATUS_SUCCESS
    }
    /// `DxgkDdiInterruptRoutine` for a simulated hardware event; true when the interrupt was
    /// the KMD's.
    async fn interrupt_routine(&self, event: HardwareEvent) -> bool;
    /// `DxgkDdiDpcRoutine`.
    async fn dpc_routine(&self);
    /// `DxgkDdiEscape` with the test-only `D3DKMT_ESCAPE_MIRACAST_DISPLAY_REQUEST`: the scenario
    /// asks the KMD to send `payload` to the UMD with `DxgkCbMiracastSendMessage`. A KMD without
    /// such a test hook returns `STATUS_NOT_SUPPORTED`.
    async fn escape_send_message(&self, payload: &[u8], output_size: u32) -> NtStatus;
    /// The scenario tells the KMD that its encoder is busy (`true`) or free: while busy,
    /// `DxgkDdiMiracastCreateContext` must answer `STATUS_RESOURCE_IN_USE` (R17). A KMD that
    /// cannot be told returns `STATUS_NOT_SUPPORTED` (the default).
    async fn set_encoder_busy(&self, busy: bool) -> NtStatus {
        let _ = busy;
        NtStatus::STATUS_NOT_SUPPORTED
    }
    /// The scenario tells the KMD that the monitor behind the Miracast target is gone, as its
    /// hardware or firmware would (not through the UMD): the KMD reports the departure with
    /// `DxgkCbIndicateChildStatus` and returns `STATUS_SUCCESS`, or
    /// `STATUS_INVALID_DEVICE_STATE` when no monitor was connected. A KMD that cannot be told
    /// returns `STATUS_NOT_SUPPORTED` (the default).
    async fn monitor_departs(&self) -> NtStatus {
        NtStatus::STATUS_NOT_SUPPORTED
    }
    /// `DxgkDdiMiracastQueryCaps`: returns the caps and how many bytes the KMD wrote (R8).
    async fn miracast_query_caps(&self, caps_size: u32) -> (NtStatus, MiracastCaps, u32);
    /// `DxgkDdiMiracastCreateContext`: returns `MiracastContext` and `TargetId`.
    async fn miracast_create_context(
        &self,
        callbacks: Rc<dyn MiracastDisplayServices>,
    ) -> (NtStatus, Handle, u32);
    /// `DxgkDdiMiracastIoControl`: returns the status and `*BytesReturned`.
    async fn miracast_io_control(
        &self,
        context: Handle,
        hardware_access: bool,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32);
    /// `DxgkDdiMiracastDestroyContext`.
    async fn miracast_destroy_context(&self, context: Handle);
    /// The completion routine (`DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK`) passed to
    /// `DxgkCbMiracastSendMessage`; may run before that call returns, on any thread, several at
    /// once (R27).
    async fn send_message_callback(&self, callback_context: Handle, io_status: IoStatusBlock);
}
