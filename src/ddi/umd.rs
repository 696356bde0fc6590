//! The Miracast user-mode driver (UMD) seam: the functions of `MIRACAST_DRIVER_INTERFACE`, the
//! data-rate notification, and the `MIRACAST_CALLBACKS` the OS gives it.

use super::types::*;
use crate::sched::SimEvent;
use crate::status::NtStatus;
use async_trait::async_trait;
use std::rc::Rc;
use std::time::Duration;

/// What `QueryMiracastDriverInterface` returned: `MIRACAST_DRIVER_INTERFACE.Size` and which
/// entries are non-NULL (R33, R34).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MiracastDriverInterface {
    /// `Size`.
    pub size: u32,
    /// `CreateMiracastContext` is set.
    pub has_create_context: bool,
    /// `DestroyMiracastContext` is set.
    pub has_destroy_context: bool,
    /// `StartMiracastSession` is set.
    pub has_start_session: bool,
    /// `StopMiracastSession` is set.
    pub has_stop_session: bool,
    /// `HandleKernelModeMessage` is set.
    pub has_handle_kernel_mode_message: bool,
}

impl MiracastDriverInterface {
    /// x64 `sizeof(MIRACAST_DRIVER_INTERFACE)` (ddi-facts 2.5).
    pub const SIZE: u32 = 48;

    /// A complete interface with every entry set.
    pub fn complete() -> Self {
        MiracastDriverInterface {
            size: Self::SIZE,
            has_create_context: true,
            has_destroy_context: true,
            has_start_session: true,
            has_stop_session: true,
            has_handle_kernel_mode_message: true,
        }
    }

    /// The names of NULL entries.
    pub fn null_entries(&self) -> Vec<&'static str> {
        [
            (self.has_create_context, "CreateMiracastContext"),
            (self.has_destroy_context, "DestroyMiracastContext"),
            (self.has_start_session, "StartMiracastSession"),
            (self.has_stop_session, "StopMiracastSession"),
            (
                self.has_handle_kernel_mode_message,
                "HandleKernelModeMessage",
            ),
        ]
        .into_iter()
        .filter(|(set, _)| !set)
        .map(|(_, n)| n)
        .collect()
    }
}

/// Why a socket operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    /// Nothing arrived within the timeout.
    #[error("timed out")]
    TimedOut,
    /// The peer closed the connection.
    #[error("connection closed by the peer")]
    Closed,
    /// The socket was closed on this side (by the UMD: a rule violation, R41; or by the OS).
    #[error("socket closed locally")]
    ClosedLocally,
}

/// The OS-owned RTSP socket handed to `StartMiracastSession` (a `SOCKET`). The UMD reads and
/// writes it; it must never close it (R41).
#[async_trait(?Send)]
pub trait RtspSocket {
    /// The `SOCKET` value, for traces.
    fn raw(&self) -> u64;
    /// `send`: writes all of `bytes`.
    async fn send(&self, bytes: &[u8]) -> Result<(), SocketError>;
    /// `recv` with an optional timeout: whatever bytes are available, at least one.
    async fn recv(&self, timeout: Option<Duration>) -> Result<Vec<u8>, SocketError>;
    /// `closesocket`: the UMD closing the OS's socket (a violation of R41 that the OS records).
    fn close(&self);
}

/// What `GetNextChunkData` returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkDataResult {
    /// The status (R54).
    pub status: NtStatus,
    /// `*pChunkDataBufferSize` on return: bytes of chunk records stored (0 for `STATUS_WAIT_n`).
    pub size: u32,
    /// The records stored, back to back, when `status` is success with `size > 0`.
    pub chunks: Vec<ChunkData>,
    /// `*pOutstandingChunksToProcess`.
    pub outstanding: u32,
}

/// `MIRACAST_CALLBACKS`: what the OS gives the UMD in `CreateMiracastContext`.
#[async_trait(?Send)]
pub trait MiracastUmdServices {
    /// `ReportSessionStatus`: any reported status tears the session down (R47, G18).
    async fn report_session_status(
        &self,
        device: Handle,
        status: MiracastStatus,
        diagnostic: NtStatus,
    );
    /// `MiracastIoControl`: synchronous call into the KMD's `DxgkDdiMiracastIoControl`. Returns the
    /// status and `*pBytesReturned`.
    async fn miracast_io_control(
        &self,
        device: Handle,
        hardware_access: bool,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32);
    /// `ReportStatistic`: logging only (R48).
    async fn report_statistic(&self, device: Handle, data: StatisticData);
    /// `GetNextChunkData`: `timeout_ms` may be 0 or [`INFINITE`]; at most
    /// [`MAX_ADDITIONAL_EVENTS`] extra events.
    async fn get_next_chunk_data(
        &self,
        device: Handle,
        timeout_ms: u32,
        additional_wait_events: &[SimEvent],
        buffer_size: u32,
    ) -> ChunkDataResult;
    /// `RegisterForDataRateNotifications`: `Some(context)` registers the UMD's
    /// `pfnDataRateNotify` with that `pNotificationContext`; `None` unregisters (G11).
    async fn register_for_data_rate_notifications(
        &self,
        device: Handle,
        notification_context: Option<Handle>,
    ) -> NtStatus;
}

/// The Miracast UMD under test.
#[async_trait(?Send)]
pub trait MiracastUmd {
    /// `QueryMiracastDriverInterface`: `None` when the DLL does not export it (R33).
    fn query_driver_interface(
        &self,
        version: u32,
        size: u32,
    ) -> Option<(NtStatus, MiracastDriverInterface)>;
    /// `CreateMiracastContext`: returns `*ppMiracastContext`.
    async fn create_miracast_context(
        &self,
        device: Handle,
        callbacks: Rc<dyn MiracastUmdServices>,
    ) -> (NtStatus, Handle);
    /// `DestroyMiracastContext`.
    async fn destroy_miracast_context(&self, context: Handle);
    /// `StartMiracastSession`: negotiate over `rtsp`, fill `MIRACAST_SESSION_INFO`.
    async fn start_miracast_session(
        &self,
        context: Handle,
        rtsp: Rc<dyn RtspSocket>,
        stats: WfdConnectionStats,
    ) -> (NtStatus, SessionInfo);
    /// `StopMiracastSession`.
    async fn stop_miracast_session(&self, context: Handle);
    /// `HandleKernelModeMessage`: returns the status and `*pBytesReturned`.
    async fn handle_kernel_mode_message(
        &self,
        context: Handle,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32);
    /// The registered `pfnDataRateNotify`; `None` stats means QoS data is gone (last call, R50).
    async fn data_rate_notify(&self, notification_context: Handle, stats: Option<DataRateStats>);
}
