//! The UMD loader: `QueryMiracastDriverInterface`, the five entry points behind
//! [`MiracastUmd`], the `MIRACAST_CALLBACKS` trampolines, and the RTSP socket relay.
//!
//! # The RTSP socket
//!
//! `StartMiracastSession` receives a real connected TCP socket on 127.0.0.1 (a descriptor on
//! Unix, a `SOCKET` on Windows), so its flags, options and descriptor number are real.
//!
//! With the C library interposed (Linux), the driver's `send`/`write`/`recv`/`read`/`poll`/
//! `select`/`close` on that descriptor are served from the OS model's RTSP link: a send is a
//! link send (a choice point), sink bytes wait in the relay (a daemon `rtsp-relay-N` thread moves
//! them off the link), and a read or poll waits for them in virtual time with the driver's own
//! timeout (`poll`'s, `select`'s, `SO_RCVTIMEO`; `MSG_DONTWAIT`/`O_NONBLOCK` do not wait). Sink
//! delays are then virtual time inside the driver's call, and nothing depends on the wall clock.
//!
//! Without the hooks, the simulator relays bytes through the real socket instead: while a
//! driver call runs, every 50 µs, without giving up the turn, and between calls on the
//! `rtsp-relay-N` thread; virtual time does not advance inside a driver call then.
//!
//! R41: the socket belongs to the OS. The simulator notices a driver that closes it (the hooked
//! `close`, the end of stream on its own end, or a descriptor no longer open after a call) and
//! closes the OS model's link as the UMD's act (which records the violation).

#![allow(unsafe_code)]

use super::bridge::{
    AssertSend, CallbackReply, CallbackRequest, Pump, RealRuntime, SimSocket, callback,
};
use super::{LoadError, convert, ffi, platform};
use crate::ddi::*;
use crate::sched::{ObjectId, Sched, SimEvent};
use crate::status::NtStatus;
use async_trait::async_trait;
use async_trait::async_trait as local_async_trait;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const QUERY_EXPORT: &str = "QueryMiracastDriverInterface";

/// A Miracast UMD loaded from a shared library.
pub struct RealUmd {
    rt: RealRuntime,
    query: unsafe extern "system" fn(u32, u32, *mut ffi::VOID) -> ffi::NTSTATUS,
    /// The interface from the last query that filled a complete one (the OS calls nothing
    /// before that).
    table: RefCell<Option<ffi::MIRACAST_DRIVER_INTERFACE>>,
    callbacks: Box<ffi::MIRACAST_CALLBACKS>,
    /// Device handle (as the OS knows it) of each context.
    devices: RefCell<BTreeMap<Handle, Handle>>,
    relays: RefCell<BTreeMap<Handle, Rc<SocketRelay>>>,
    library: std::mem::ManuallyDrop<libloading::Library>,
}

impl Drop for RealUmd {
    fn drop(&mut self) {
        if self.rt.is_poisoned() {
            // A real thread is still running the driver's code (it hung): unloading would pull
            // the code out from under it. The library stays mapped for the life of the process.
            return;
        }
        // Destructors that call back must not wait for a runtime that is going away.
        self.rt.close_foreign();
        // SAFETY: no real thread of this runtime runs the driver's code now (it is not poisoned:
        // every thread is idle or blocked in a callback or hook, and once the runtime is gone
        // such a thread parks instead of returning to the driver), and every pointer into the
        // library (tables, trampolines given to it) dies with `self`. Unloading also gives the
        // next run in this process a fresh copy of the driver's global state.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.library) };
    }
}

impl RealUmd {
    /// Opens the UMD library and finds `QueryMiracastDriverInterface`. The OS model calls the
    /// query (as Windows does, with the sizes and versions Windows may use); what it answers,
    /// a failure, a wrong `Size` or a NULL entry included, is judged there (R34).
    ///
    /// # Errors
    /// [`LoadError`] when the library does not open or lacks the export.
    pub fn load(rt: &RealRuntime, path: &Path) -> Result<RealUmd, LoadError> {
        let _loading = super::isolate::LoadSpan::new(rt, QUERY_EXPORT);
        let shown = path.display().to_string();
        let (library, interposed) = platform::open_library(path, super::kernel::DriverRole::Umd)
            .map_err(|reason| LoadError::Open {
                path: shown.clone(),
                reason,
            })?;
        match interposed {
            Ok(slots) => {
                rt.inner.interposed.set(true);
                rt.journal(format!(
                    "{shown}: {slots} C library imports interposed (threads, time, waits, the RTSP socket)"
                ));
            }
            Err(why) => rt.journal(format!(
                "{shown}: C library calls not interposed ({why}): driver threads and blocking calls run outside the scheduler"
            )),
        }
        // SAFETY: the symbol is looked up by its documented name and typed with the documented
        // `QUERY_MIRACAST_DRIVER_INTERFACE` signature; the pointer is used only while `library`
        // is loaded (it is kept in the returned value).
        let query: ffi::QUERY_MIRACAST_DRIVER_INTERFACE = unsafe {
            library
                .get::<unsafe extern "system" fn(u32, u32, *mut ffi::VOID) -> ffi::NTSTATUS>(
                    QUERY_EXPORT.as_bytes(),
                )
                .map(|s| Some(*s))
                .map_err(|_| LoadError::MissingExport {
                    path: shown.clone(),
                    export: QUERY_EXPORT,
                })?
        };
        let query = query.ok_or(LoadError::MissingExport {
            path: shown.clone(),
            export: QUERY_EXPORT,
        })?;
        // Its static data is the UMD's memory for the race check.
        super::kernel::note_library(rt, super::kernel::DriverRole::Umd, query as usize);
        Ok(RealUmd {
            rt: rt.clone(),
            query,
            table: RefCell::new(None),
            callbacks: Box::new(ffi::MIRACAST_CALLBACKS {
                ReportSessionStatus: Some(report_session_status),
                MiracastIoControl: Some(miracast_io_control),
                ReportStatistic: Some(report_statistic),
                GetNextChunkData: Some(get_next_chunk_data),
                RegisterForDataRateNotifications: Some(register_for_data_rate_notifications),
            }),
            devices: RefCell::new(BTreeMap::new()),
            relays: RefCell::new(BTreeMap::new()),
            library: std::mem::ManuallyDrop::new(library),
        })
    }

    /// The driver's interface, once a query filled a complete one.
    fn table(&self) -> ffi::MIRACAST_DRIVER_INTERFACE {
        self.table.borrow().unwrap_or_default()
    }

    fn close_relay(&self, context: Handle) {
        if let Some(relay) = self.relays.borrow_mut().remove(&context) {
            self.rt.remove_socket(relay.driver as i32);
            relay.close_by_os();
            let pump: Rc<dyn Pump> = relay;
            self.rt.remove_pump(&pump);
        }
    }

    fn relay_of(&self, context: Handle) -> Option<Rc<SocketRelay>> {
        self.relays.borrow().get(&context).cloned()
    }
}

#[async_trait(?Send)]
impl MiracastUmd for RealUmd {
    fn query_driver_interface(
        &self,
        version: u32,
        size: u32,
    ) -> Option<(NtStatus, MiracastDriverInterface)> {
        // The OS's buffer of `size` bytes, followed by guard bytes that show a driver writing
        // past it; 8-byte aligned like any heap block.
        const GUARD: usize = 64;
        const FILL: u8 = 0xA5;
        let whole = std::mem::size_of::<ffi::MIRACAST_DRIVER_INTERFACE>();
        let len = (size as usize).max(whole) + GUARD;
        let mut words = vec![u64::from_ne_bytes([FILL; 8]); len.div_ceil(8)];
        // Journaled like loading, so an isolated run's supervisor gives the query a deadline.
        let span = super::isolate::LoadSpan::new(&self.rt, QUERY_EXPORT);
        // SAFETY: the buffer holds at least `size` writable bytes (plus the guard), as the
        // export's contract requires. The call runs on the OS's own thread, like the loader's.
        let status = NtStatus(unsafe { (self.query)(version, size, words.as_mut_ptr().cast()) });
        drop(span);
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        if bytes[size as usize..].iter().any(|b| *b != FILL) {
            self.rt.note(format!(
                "QueryMiracastDriverInterface(version={version}, size={size}) wrote past the {size}-byte buffer the OS gave it"
            ));
        }
        // SAFETY: `words` holds at least `whole` initialized bytes, suitably aligned; every field
        // of MIRACAST_DRIVER_INTERFACE is an integer or a nullable function pointer, for which
        // any non-zero bit pattern is a value (the pointers are only called after the checks
        // below, when the driver itself wrote them).
        let table: ffi::MIRACAST_DRIVER_INTERFACE =
            unsafe { std::ptr::read(words.as_ptr().cast()) };
        let iface = MiracastDriverInterface {
            size: table.Size,
            has_create_context: table.CreateMiracastContext.is_some(),
            has_destroy_context: table.DestroyMiracastContext.is_some(),
            has_start_session: table.StartMiracastSession.is_some(),
            has_stop_session: table.StopMiracastSession.is_some(),
            has_handle_kernel_mode_message: table.HandleKernelModeMessage.is_some(),
        };
        if version == MIRACAST_DRIVER_INTERFACE_VERSION_1
            && size as usize >= whole
            && status == NtStatus::STATUS_SUCCESS
            && table.Size as usize == whole
            && iface.null_entries().is_empty()
        {
            *self.table.borrow_mut() = Some(table);
        }
        Some((status, iface))
    }

    async fn create_miracast_context(
        &self,
        device: Handle,
        callbacks: Rc<dyn MiracastUmdServices>,
    ) -> (NtStatus, Handle) {
        let f = self.table().CreateMiracastContext;
        let driver_device = self.rt.driver_handle(device);
        self.rt
            .inner
            .services
            .borrow_mut()
            .umd
            .insert(device, callbacks);
        let table = AssertSend(&*self.callbacks as *const ffi::MIRACAST_CALLBACKS);
        let (status, context) = self
            .rt
            .call(Ddi::CreateMiracastContext, move || {
                let table = table;
                let mut context: ffi::PVOID = std::ptr::null_mut();
                let f = f.expect("the OS calls the UMD only after a complete query");
                // SAFETY: the callbacks table lives as long as the `RealUmd` (the driver may keep
                // the pointer), and `context` is a writable PVOID.
                let status = unsafe {
                    f(
                        driver_device as ffi::HANDLE,
                        table.0.cast_mut(),
                        &mut context,
                    )
                };
                (NtStatus(status), context as usize)
            })
            .await;
        let context = self.rt.os_handle(context);
        if status == NtStatus::STATUS_SUCCESS {
            self.devices.borrow_mut().insert(context, device);
            self.rt.set_unloaded("umd", false);
        }
        (status, context)
    }

    async fn destroy_miracast_context(&self, context: Handle) {
        let f = self.table().DestroyMiracastContext;
        let c = self.rt.driver_value(context);
        self.rt
            .call(Ddi::DestroyMiracastContext, move || {
                let f = f.expect("the OS calls the UMD only after a complete query");
                // SAFETY: `c` is the context the driver returned from CreateMiracastContext.
                unsafe { f(c as ffi::PVOID) }
            })
            .await;
        self.rt.forget_handle(context);
        self.close_relay(context);
        // The callbacks stay reachable: a driver thread calling one after Destroy is R36, which
        // the OS model reports when the call reaches it.
        self.devices.borrow_mut().remove(&context);
        if self.devices.borrow().is_empty() {
            // The OS unloads the UMD once its last context is gone: threads the driver left
            // behind (R46) stop at their next C library call.
            self.rt.set_unloaded("umd", true);
        }
    }

    async fn start_miracast_session(
        &self,
        context: Handle,
        rtsp: Rc<dyn RtspSocket>,
        stats: WfdConnectionStats,
    ) -> (NtStatus, SessionInfo) {
        let interposed = self.rt.inner.interposed.get();
        let relay = match SocketRelay::open(self.rt.sched(), rtsp, interposed) {
            Ok(r) => r,
            Err(e) => {
                self.rt.note(format!(
                    "StartMiracastSession not called: cannot create the loopback RTSP socket: {e}"
                ));
                return (NtStatus::STATUS_UNSUCCESSFUL, SessionInfo::default());
            }
        };
        self.close_relay(context);
        self.relays.borrow_mut().insert(context, relay.clone());
        if interposed {
            self.rt.add_socket(relay.driver as i32, relay.clone());
            relay.spawn_link_reader();
        } else {
            self.rt.add_pump(relay.clone());
            relay.spawn_idle_relay();
        }
        let socket = relay.driver;
        let f = self.table().StartMiracastSession;
        let c = self.rt.driver_value(context);
        let (status, info) = self
            .rt
            .call(Ddi::StartMiracastSession, move || {
                let f = f.expect("the OS calls the UMD only after a complete query");
                let mut stats = ffi::MIRACAST_WFD_CONNECTION_STATS {
                    CurrentBitRate: stats.current_bit_rate,
                    LocalMaxBitRate: stats.local_max_bit_rate,
                    RemoteMaxBitRate: stats.remote_max_bit_rate,
                };
                let mut info = ffi::MIRACAST_SESSION_INFO::default();
                // SAFETY: `stats` and `info` are valid for the call; `socket` is a connected
                // socket the OS owns for the session.
                let status = unsafe { f(c as ffi::PVOID, socket, &mut stats, &mut info) };
                (NtStatus(status), info.Value)
            })
            .await;
        relay.after_call();
        if status != NtStatus::STATUS_SUCCESS {
            // The OS closes its socket after a failed start.
            self.close_relay(context);
        }
        (status, SessionInfo(info))
    }

    async fn stop_miracast_session(&self, context: Handle) {
        let f = self.table().StopMiracastSession;
        let c = self.rt.driver_value(context);
        self.rt
            .call(Ddi::StopMiracastSession, move || {
                let f = f.expect("the OS calls the UMD only after a complete query");
                // SAFETY: `c` is the driver's context.
                unsafe { f(c as ffi::PVOID) }
            })
            .await;
        if let Some(relay) = self.relay_of(context) {
            relay.after_call();
        }
        // The OS closes the RTSP socket once Stop has returned.
        self.close_relay(context);
    }

    async fn handle_kernel_mode_message(
        &self,
        context: Handle,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        let f = self.table().HandleKernelModeMessage;
        let c = self.rt.driver_value(context);
        let mut input_copy = input.to_vec();
        let mut out = vec![0u8; output.len()];
        let (status, out, bytes) = self
            .rt
            .call(Ddi::HandleKernelModeMessage, move || {
                let f = f.expect("the OS calls the UMD only after a complete query");
                let mut bytes: u32 = 0;
                // SAFETY: both buffers are owned by this job and have the sizes passed.
                let status = unsafe {
                    f(
                        c as ffi::PVOID,
                        input_copy.len() as u32,
                        input_copy.as_mut_ptr().cast(),
                        out.len() as u32,
                        out.as_mut_ptr().cast(),
                        &mut bytes,
                    )
                };
                (NtStatus(status), out, bytes)
            })
            .await;
        if let Some(relay) = self.relay_of(context) {
            relay.after_call();
        }
        output.copy_from_slice(&out);
        (status, bytes)
    }

    async fn data_rate_notify(&self, notification_context: Handle, stats: Option<DataRateStats>) {
        let routine = self
            .rt
            .inner
            .services
            .borrow()
            .data_rate
            .get(&notification_context.0)
            .copied()
            .flatten();
        let Some(routine) = routine else {
            self.rt.note(format!(
                "pfnDataRateNotify not called: no routine registered for context {:#x}",
                notification_context.0
            ));
            return;
        };
        let c = self.rt.driver_value(notification_context);
        self.rt
            .call(Ddi::PfnDataRateNotify, move || {
                let mut c_stats = stats.map(|s| ffi::MIRACAST_DATARATE_STATS {
                    EncoderBitRate: s.encoder_bit_rate,
                    CurrentMaxTxDataRate: s.current_max_tx_data_rate,
                    TransmittedFrameCount: s.transmitted_frame_count,
                    FailedFrameCount: s.failed_frame_count,
                    RetriedFrameCount: s.retried_frame_count,
                    MultipleRetryFrameCount: s.multiple_retry_frame_count,
                });
                let p = c_stats
                    .as_mut()
                    .map_or(std::ptr::null_mut(), |s| s as *mut _);
                // SAFETY: `routine` is the pointer the driver registered with this context; the
                // stats live for the call (or are NULL for the last call, as documented).
                unsafe { routine(c as ffi::PVOID, p) }
            })
            .await;
        if stats.is_none() {
            self.rt
                .inner
                .services
                .borrow_mut()
                .data_rate
                .remove(&notification_context.0);
        }
    }
}

// ---- MIRACAST_CALLBACKS trampolines ---------------------------------------------------------

fn device_of(h: ffi::HANDLE, what: &'static str) -> Result<Handle, CallbackRequest> {
    super::bridge::resolve_handle(h as usize)
        .ok_or(CallbackRequest::UnknownHandle(what, h as usize))
}

/// Copies `len` bytes the driver passed; an empty vector for NULL.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes (the DDI's contract).
pub(crate) unsafe fn copy_in(p: *const ffi::VOID, len: usize) -> Vec<u8> {
    if p.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec()
}

/// Copies `bytes` into a driver buffer of `capacity` bytes (NULL ignored).
///
/// # Safety
/// `p` is NULL or valid for writes of `capacity` bytes.
pub(crate) unsafe fn copy_out(p: *mut ffi::VOID, capacity: usize, bytes: &[u8]) {
    if p.is_null() {
        return;
    }
    let n = capacity.min(bytes.len());
    // SAFETY: the caller's contract; `n` is within both buffers.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.cast::<u8>(), n) };
}

unsafe extern "system" fn report_session_status(
    h: ffi::HANDLE,
    status: ffi::MIRACAST_STATUS,
    diagnostic: ffi::NTSTATUS,
) {
    let request = device_of(h, "ReportSessionStatus").map_or_else(
        |e| e,
        |device| CallbackRequest::ReportSessionStatus {
            device,
            status: convert::miracast_status(status.0),
            raw_status: status.0,
            diagnostic: NtStatus(diagnostic),
        },
    );
    let _ = callback(h as usize, request);
}

unsafe extern "system" fn miracast_io_control(
    h: ffi::HANDLE,
    hardware_access: ffi::BOOL,
    input_size: ffi::UINT,
    input: *mut ffi::VOID,
    output_size: ffi::UINT,
    output: *mut ffi::VOID,
    bytes_returned: *mut ffi::UINT,
) -> ffi::NTSTATUS {
    let request = match device_of(h, "MiracastIoControl") {
        Ok(device) => CallbackRequest::MiracastIoControl {
            device,
            hardware_access: hardware_access != 0,
            // SAFETY: the driver passes an input buffer of `input_size` bytes (or NULL).
            input: unsafe { copy_in(input, input_size as usize) },
            output_size: if output.is_null() { 0 } else { output_size },
        },
        Err(e) => e,
    };
    let reply = callback(h as usize, request);
    if let CallbackReply::IoControl {
        output: bytes,
        bytes_returned: n,
        ..
    } = &reply
    {
        // SAFETY: the driver passes an output buffer of `output_size` bytes (or NULL).
        unsafe { copy_out(output, output_size as usize, bytes) };
        if !bytes_returned.is_null() {
            // SAFETY: `pBytesReturned` is optional; when set it points to a UINT.
            unsafe { *bytes_returned = *n };
        }
    }
    reply.status().0
}

unsafe extern "system" fn report_statistic(
    h: ffi::HANDLE,
    statistic: *mut ffi::MIRACAST_STATISTIC_DATA,
) {
    let request = match device_of(h, "ReportStatistic") {
        Ok(device) => {
            let data = if statistic.is_null() {
                None
            } else {
                // SAFETY: a non-NULL `pStatistics` points to a MIRACAST_STATISTIC_DATA.
                let s = unsafe { *statistic };
                // SAFETY: the union arm read is the one `StatisticType` selects; its fields are
                // plain integers.
                unsafe {
                    match s.StatisticType.0 {
                        0 => Some(StatisticData::ChunkProcessingComplete(
                            convert::chunk_info_from_umd(&s.u.EncodeComplete.ChunkInfo),
                        )),
                        1 => Some(StatisticData::ChunkSent(ChunkId(
                            s.u.ChunkSent.ChunkId.Value,
                        ))),
                        2 => convert::protocol_event(s.u.ProtocolEvent.Event.0)
                            .map(StatisticData::Event),
                        _ => None,
                    }
                }
            };
            CallbackRequest::ReportStatistic { device, data }
        }
        Err(e) => e,
    };
    let _ = callback(h as usize, request);
}

unsafe extern "system" fn get_next_chunk_data(
    h: ffi::HANDLE,
    timeout_ms: ffi::UINT,
    event_count: ffi::UINT,
    _events: *mut ffi::HANDLE,
    buffer_size: *mut ffi::UINT,
    buffer: *mut ffi::MIRACAST_CHUNK_DATA,
    outstanding: *mut ffi::UINT,
) -> ffi::NTSTATUS {
    if buffer_size.is_null() {
        return NtStatus::STATUS_INVALID_PARAMETER.0;
    }
    // SAFETY: checked non-NULL; `pChunkDataBufferSize` points to a UINT.
    let capacity = unsafe { *buffer_size };
    let request = match device_of(h, "GetNextChunkData") {
        Ok(device) => CallbackRequest::GetNextChunkData {
            device,
            timeout_ms,
            event_count,
            buffer_size: capacity,
        },
        Err(e) => e,
    };
    let reply = callback(h as usize, request);
    if let CallbackReply::Chunks(result) = &reply {
        let mut records = Vec::new();
        for chunk in &result.chunks {
            let info = convert::chunk_info_to_umd(&chunk.chunk_info);
            records.extend_from_slice(&convert::bytes_of_zeroed(&zeroed_info(info)));
            records.extend_from_slice(&(chunk.private_driver_data.len() as u32).to_le_bytes());
            records.extend_from_slice(&chunk.private_driver_data);
        }
        // SAFETY: `pChunkDataBuffer` holds `capacity` bytes (the driver's own size).
        unsafe { copy_out(buffer.cast(), capacity as usize, &records) };
        // SAFETY: checked non-NULL above.
        unsafe { *buffer_size = result.size };
        if !outstanding.is_null() {
            // SAFETY: `pOutstandingChunksToProcess` points to a UINT.
            unsafe { *outstanding = result.outstanding };
        }
    }
    reply.status().0
}

/// A chunk info with zeroed padding, so its bytes can be copied into a record.
fn zeroed_info(info: ffi::MIRACAST_CHUNK_INFO) -> ffi::MIRACAST_CHUNK_INFO {
    // SAFETY: MIRACAST_CHUNK_INFO is plain integers; all-zero is a valid value, and zeroing
    // first makes the padding bytes initialized before the fields are written.
    let mut z: ffi::MIRACAST_CHUNK_INFO = unsafe { std::mem::zeroed() };
    z.ChunkType = info.ChunkType;
    z.ChunkId = info.ChunkId;
    z.ProcessingTime = info.ProcessingTime;
    z.EncodeRate = info.EncodeRate;
    z
}

unsafe extern "system" fn register_for_data_rate_notifications(
    h: ffi::HANDLE,
    context: ffi::PVOID,
    routine: ffi::PFN_DATARATE_NOTIFICATION,
) -> ffi::NTSTATUS {
    let request = match device_of(h, "RegisterForDataRateNotifications") {
        Ok(device) => CallbackRequest::RegisterForDataRateNotifications {
            device,
            context: context as usize,
            routine,
        },
        Err(e) => e,
    };
    callback(h as usize, request).status().0
}

// ---- the RTSP socket relay --------------------------------------------------------------------

/// Polls a future of the RTSP link to completion without giving up the turn. The link's
/// operations used here (send, and receive with a zero timeout) finish after one choice point,
/// which is skipped: the driver holds the turn while it talks to the sink.
fn poll_inline<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..16 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

pub(crate) struct SocketRelay {
    sched: Sched,
    rtsp: Rc<dyn RtspSocket>,
    ours: RefCell<Option<TcpStream>>,
    driver: platform::RawSocket,
    driver_closed: Cell<bool>,
    os_closed: Cell<bool>,
    /// The driver's socket calls are interposed: bytes move through `pending` and `send`, the
    /// real socket only gives the driver a descriptor (and its flags and options).
    interposed: bool,
    /// Bytes from the sink the driver has not received yet (interposed mode).
    pending: RefCell<VecDeque<u8>>,
    /// The link ended (the sink or the OS closed it).
    eof: Cell<bool>,
    /// Set while bytes wait or the link ended.
    readable: SimEvent,
    /// `pending` and `eof`, as an object exploration sees touched.
    object: ObjectId,
}

impl SocketRelay {
    fn open(
        sched: &Sched,
        rtsp: Rc<dyn RtspSocket>,
        interposed: bool,
    ) -> std::io::Result<Rc<SocketRelay>> {
        let (driver, ours) = platform::socket_pair()?;
        Ok(Rc::new(SocketRelay {
            sched: sched.clone(),
            rtsp,
            ours: RefCell::new(Some(ours)),
            driver,
            driver_closed: Cell::new(false),
            os_closed: Cell::new(false),
            interposed,
            pending: RefCell::new(VecDeque::new()),
            eof: Cell::new(false),
            readable: SimEvent::new(sched, "rtsp-readable", false),
            object: sched.new_object_id(),
        }))
    }

    /// Interposed mode: a daemon thread moves sink bytes from the link into `pending`, where
    /// the driver's `recv`, `read`, `poll` and `select` find them.
    fn spawn_link_reader(self: &Rc<Self>) {
        let relay = self.clone();
        let name = format!("rtsp-relay-{}", self.rtsp.raw());
        self.sched.spawn_unowned(name, true, async move {
            while !relay.os_closed.get() && !relay.driver_closed.get() {
                match relay.rtsp.recv(None).await {
                    Ok(bytes) => {
                        relay.sched.touch(relay.object, true);
                        relay.pending.borrow_mut().extend(bytes);
                        relay.readable.set();
                    }
                    Err(_) => break,
                }
            }
            relay.sched.touch(relay.object, true);
            relay.eof.set(true);
            relay.readable.set();
        });
    }

    /// Sink-to-driver relaying between calls.
    fn spawn_idle_relay(self: &Rc<Self>) {
        let relay = self.clone();
        let name = format!("rtsp-relay-{}", self.rtsp.raw());
        self.sched.spawn_unowned(name, true, async move {
            loop {
                if relay.os_closed.get() || relay.driver_closed.get() {
                    return;
                }
                match relay.rtsp.recv(None).await {
                    Ok(bytes) => relay.write_to_driver(&bytes),
                    Err(_) => return,
                }
            }
        });
    }

    fn write_to_driver(&self, mut bytes: &[u8]) {
        let mut ours = self.ours.borrow_mut();
        let Some(stream) = ours.as_mut() else { return };
        let mut spins = 0;
        while !bytes.is_empty() && spins < 5_000 {
            match stream.write(bytes) {
                Ok(0) => return,
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    spins += 1;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(_) => return,
            }
        }
    }

    /// The driver closed the OS's socket: the UMD closes the link (R41 is recorded there).
    fn driver_gone(&self) {
        if self.os_closed.get() || self.driver_closed.replace(true) {
            return;
        }
        self.rtsp.close();
    }

    /// After a call returned: is the descriptor still open? Then move what is ready.
    fn after_call(&self) {
        if !self.os_closed.get()
            && !self.driver_closed.get()
            && !platform::socket_is_open(self.driver)
        {
            self.driver_gone();
        }
        self.pump();
    }

    fn close_by_os(&self) {
        if self.os_closed.replace(true) {
            return;
        }
        if self.interposed {
            // A driver thread still waiting on the socket sees the end of the stream.
            self.eof.set(true);
            self.readable.set();
        }
        self.ours.borrow_mut().take();
        if !self.driver_closed.get() {
            platform::close_socket(self.driver);
        }
    }
}

#[local_async_trait(?Send)]
impl SimSocket for SocketRelay {
    fn state(&self) -> (bool, bool) {
        self.sched.touch(self.object, false);
        (!self.pending.borrow().is_empty(), self.eof.get())
    }

    fn readable(&self) -> SimEvent {
        self.readable.clone()
    }

    fn take(&self, max: usize, peek: bool) -> Vec<u8> {
        self.sched.touch(self.object, !peek);
        let mut pending = self.pending.borrow_mut();
        let n = max.min(pending.len());
        let bytes: Vec<u8> = if peek {
            pending.iter().take(n).copied().collect()
        } else {
            pending.drain(..n).collect()
        };
        if pending.is_empty() && !self.eof.get() {
            self.readable.reset();
        }
        bytes
    }

    async fn send(&self, bytes: Vec<u8>) -> Result<usize, i32> {
        if self.os_closed.get() || self.driver_closed.get() {
            return Err(libc::EPIPE);
        }
        match self.rtsp.send(&bytes).await {
            Ok(()) => Ok(bytes.len()),
            Err(_) => Err(libc::EPIPE),
        }
    }

    fn closed_by_driver(&self) {
        self.driver_gone();
        self.eof.set(true);
        self.readable.set();
    }
}

impl Pump for SocketRelay {
    fn pump(&self) -> bool {
        if self.interposed || self.os_closed.get() || self.driver_closed.get() {
            return false;
        }
        let mut progressed = false;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let read = {
                let mut ours = self.ours.borrow_mut();
                let Some(stream) = ours.as_mut() else {
                    return progressed;
                };
                stream.read(&mut buf)
            };
            match read {
                Ok(0) => {
                    self.driver_gone();
                    return true;
                }
                Ok(n) => {
                    progressed = true;
                    let _ = poll_inline(self.rtsp.send(&buf[..n]));
                }
                Err(_) => break,
            }
        }
        while let Some(Ok(bytes)) = poll_inline(self.rtsp.recv(Some(Duration::ZERO))) {
            self.write_to_driver(&bytes);
        }
        progressed
    }
}
