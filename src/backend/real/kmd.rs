//! The KMD loader: `MiracastSimKmdEntry` (from `miracast_sim_kmd.h`), the DDIs behind
//! [`MiracastKmd`], `DxgkDdiQueryInterface` for the Miracast display interface, and the
//! trampolines of `DXGKRNL_INTERFACE` and `DXGK_MIRACAST_DISPLAY_CALLBACKS`.
//!
//! Mapping notes (where the C interface and the OS model differ):
//! - `DxgkCbQueueDpc` from the interrupt routine is the OS model's "DPC requested"
//!   ([`DxgkrnlServices::notify_dpc`]); `DxgkCbNotifyDpc` from inside `DxgkDdiDpcRoutine` is
//!   the DPC's acknowledgement and needs no OS action; from anywhere else it is passed on (and
//!   the OS model checks where it was called).
//! - The simulated encoder's chunk description is not visible to C code (the header has no
//!   register interface): the driver's interrupt routine reports what its own hardware model
//!   says.
//! - `DxgkDdiEscape` is not part of `miracast_sim_kmd.h`: the scenario's test requests
//!   ([`MiracastKmd::escape_send_message`], [`MiracastKmd::set_encoder_busy`]) go to the optional
//!   `MiracastSimKmdTestHook` export; without it they answer `STATUS_NOT_SUPPORTED` (and the
//!   runner skips a scenario that needs them before it starts, saying why).
//! - R26 for real buffers: `DxgkCbMiracastSendMessage` copies the input buffer and remembers
//!   where it is. At every bridge boundary (each DDI return, each callback) the runtime compares
//!   the driver's buffer with the copy; a changed buffer (freed, reused, poisoned) is marked
//!   released, so the OS model reports R26 when it next touches the message (delivery or
//!   completion). The UMD's output is written into the driver's output buffer only while the
//!   buffer is still intact.

#![allow(unsafe_code)]

use super::bridge::{CallbackReply, CallbackRequest, RealRuntime, callback, current_ddi};
use super::umd::{copy_in, copy_out};
use super::{LoadError, convert, ffi, platform};
use crate::ddi::*;
use crate::status::NtStatus;
use async_trait::async_trait;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

const ENTRY_EXPORT: &str = "MiracastSimKmdEntry";
/// The optional test hook (`MIRACAST_SIM_KMD_TEST_HOOK_NAME`).
pub(super) const TEST_HOOK_EXPORT: &str = "MiracastSimKmdTestHook";

/// Which of `names` the library at `path` exports, read from the file (the library is not
/// loaded: none of its code runs).
///
/// # Errors
/// The library does not open.
pub(super) fn library_exports(path: &Path, names: &[&str]) -> Result<Vec<bool>, String> {
    use object::Object;
    // The export table is read from the file, never by loading the library: its initializers
    // are driver code, which runs only in an isolated child (a constructor that hangs or
    // crashes must not take the parent with it).
    let data = std::fs::read(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("cannot open {}: not a shared library ({e})", path.display()))?;
    let exports = file
        .exports()
        .map_err(|e| format!("cannot read the exports of {}: {e}", path.display()))?;
    Ok(names
        .iter()
        .map(|n| exports.iter().any(|e| e.name() == n.as_bytes()))
        .collect())
}

/// A display miniport loaded from a shared library through `MiracastSimKmdEntry`.
pub struct RealKmd {
    rt: RealRuntime,
    driver: ffi::MIRACAST_SIM_KMD_DRIVER_INTERFACE,
    /// Valid until `DxgkDdiRemoveDevice` returns (here: as long as the library is loaded).
    _os_interface: Box<ffi::MIRACAST_SIM_KMD_OS_INTERFACE>,
    miracast: RefCell<Option<ffi::DXGK_MIRACAST_DISPLAY_INTERFACE>>,
    /// The optional `MiracastSimKmdTestHook` export.
    test_hook: ffi::PFN_MIRACAST_SIM_KMD_TEST_HOOK,
    /// Callback tables handed to `DxgkDdiMiracastCreateContext` (the driver may keep them):
    /// boxed so their addresses stay put when the vector grows.
    #[allow(clippy::vec_box)]
    display_callbacks: RefCell<Vec<Box<ffi::DXGK_MIRACAST_DISPLAY_CALLBACKS>>>,
    library: std::mem::ManuallyDrop<libloading::Library>,
}

/// The OS handle of the adapter, as the OS model would name it.
const ADAPTER_HANDLE: Handle = Handle(0xADA0);

impl Drop for RealKmd {
    fn drop(&mut self) {
        if self.rt.is_poisoned() {
            // A real thread is still running the driver's code (it hung): unloading would pull
            // the code out from under it. The library stays mapped for the life of the process.
            return;
        }
        self.rt.close_foreign();
        // SAFETY: no real thread of this runtime runs the driver's code now (it is not poisoned:
        // every thread is idle or blocked in a callback or hook, and once the runtime is gone
        // such a thread parks instead of returning to the driver), and every pointer into the
        // library (tables, trampolines given to it) dies with `self`. Unloading also gives the
        // next run in this process a fresh copy of the driver's global state.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.library) };
    }
}

impl RealKmd {
    /// Opens the KMD library and calls `MiracastSimKmdEntry` (DriverEntry + AddDevice in one).
    ///
    /// # Errors
    /// [`LoadError`] when the library does not open, lacks the export, fails the entry, returns
    /// a wrong `Size`/`Version`, a `DxgkDdiInterfaceVersion` below WDDM 1.3, or a NULL DDI.
    pub fn load(rt: &RealRuntime, path: &Path) -> Result<RealKmd, LoadError> {
        let _loading = super::isolate::LoadSpan::new(rt, ENTRY_EXPORT);
        let shown = path.display().to_string();
        let (library, interposed) = platform::open_library(path, super::kernel::DriverRole::Kmd)
            .map_err(|reason| LoadError::Open {
                path: shown.clone(),
                reason,
            })?;
        if let Err(why) = interposed {
            rt.journal(format!(
                "{shown}: C library calls not interposed ({why}): driver threads and blocking calls run outside the scheduler"
            ));
        }
        type Entry = unsafe extern "system" fn(
            *const ffi::MIRACAST_SIM_KMD_OS_INTERFACE,
            *mut ffi::MIRACAST_SIM_KMD_DRIVER_INTERFACE,
        ) -> ffi::NTSTATUS;
        // SAFETY: looked up by its documented name with the documented
        // `PFN_MIRACAST_SIM_KMD_ENTRY` signature; used only while `library` is loaded.
        let entry: Entry = unsafe {
            library
                .get::<Entry>(ENTRY_EXPORT.as_bytes())
                .map(|s| *s)
                .map_err(|_| LoadError::MissingExport {
                    path: shown.clone(),
                    export: ENTRY_EXPORT,
                })?
        };
        // Its static data is the KMD's memory for the race check.
        super::kernel::note_library(rt, super::kernel::DriverRole::Kmd, entry as usize);
        let device = rt.driver_handle(ADAPTER_HANDLE);
        let os_interface = Box::new(ffi::MIRACAST_SIM_KMD_OS_INTERFACE {
            Size: std::mem::size_of::<ffi::MIRACAST_SIM_KMD_OS_INTERFACE>() as u32,
            Version: 1,
            DeviceHandle: device as ffi::HANDLE,
            DxgkCbIndicateChildStatus: Some(indicate_child_status),
            DxgkCbNotifyInterrupt: Some(notify_interrupt),
            DxgkCbNotifyDpc: Some(notify_dpc),
            DxgkCbQueueDpc: Some(queue_dpc),
        });
        let size = std::mem::size_of::<ffi::MIRACAST_SIM_KMD_DRIVER_INTERFACE>() as u32;
        let mut driver = ffi::MIRACAST_SIM_KMD_DRIVER_INTERFACE {
            Size: size,
            Version: 1,
            ..Default::default()
        };
        // Kernel routines the entry calls (pool for its adapter context, lock initialization)
        // are served on this thread.
        let status = super::kernel::while_loading(rt, || {
            // SAFETY: both structures are valid for the call; the OS interface stays valid for
            // the driver's whole life (it is boxed in the returned value).
            NtStatus(unsafe { entry(&*os_interface, &mut driver) })
        });
        if status != NtStatus::STATUS_SUCCESS {
            return Err(LoadError::EntryFailed {
                entry: ENTRY_EXPORT,
                status,
            });
        }
        if driver.Size != size {
            return Err(LoadError::WrongSize {
                structure: "MIRACAST_SIM_KMD_DRIVER_INTERFACE",
                got: driver.Size,
                expected: size,
            });
        }
        if driver.Version != 1 {
            return Err(LoadError::Invalid(format!(
                "MIRACAST_SIM_KMD_DRIVER_INTERFACE.Version is {}; the simulator speaks version 1",
                driver.Version
            )));
        }
        let entries = [
            (driver.DxgkDdiStartDevice.is_some(), "DxgkDdiStartDevice"),
            (driver.DxgkDdiRemoveDevice.is_some(), "DxgkDdiRemoveDevice"),
            (
                driver.DxgkDdiQueryInterface.is_some(),
                "DxgkDdiQueryInterface",
            ),
            (
                driver.DxgkDdiQueryChildRelations.is_some(),
                "DxgkDdiQueryChildRelations",
            ),
            (
                driver.DxgkDdiQueryChildStatus.is_some(),
                "DxgkDdiQueryChildStatus",
            ),
            (
                driver.DxgkDdiQueryDeviceDescriptor.is_some(),
                "DxgkDdiQueryDeviceDescriptor",
            ),
            (driver.DxgkDdiCommitVidPn.is_some(), "DxgkDdiCommitVidPn"),
            (
                driver.DxgkDdiCreateContext.is_some(),
                "DxgkDdiCreateContext",
            ),
            (
                driver.DxgkDdiDestroyContext.is_some(),
                "DxgkDdiDestroyContext",
            ),
            (
                driver.DxgkDdiInterruptRoutine.is_some(),
                "DxgkDdiInterruptRoutine",
            ),
            (driver.DxgkDdiDpcRoutine.is_some(), "DxgkDdiDpcRoutine"),
        ];
        if let Some((_, entry)) = entries.iter().find(|(set, _)| !set) {
            return Err(LoadError::NullEntry {
                structure: "MIRACAST_SIM_KMD_DRIVER_INTERFACE",
                entry,
            });
        }
        type Hook = unsafe extern "system" fn(
            ffi::PVOID,
            *const ffi::MIRACAST_SIM_KMD_TEST_REQUEST,
        ) -> ffi::NTSTATUS;
        // SAFETY: looked up by its documented name with the documented
        // `PFN_MIRACAST_SIM_KMD_TEST_HOOK` signature; used only while `library` is loaded.
        let test_hook: ffi::PFN_MIRACAST_SIM_KMD_TEST_HOOK = unsafe {
            library
                .get::<Hook>(TEST_HOOK_EXPORT.as_bytes())
                .ok()
                .map(|s| *s)
        };
        Ok(RealKmd {
            rt: rt.clone(),
            driver,
            _os_interface: os_interface,
            miracast: RefCell::new(None),
            test_hook,
            display_callbacks: RefCell::new(Vec::new()),
            library: std::mem::ManuallyDrop::new(library),
        })
    }

    /// Calls the optional `MiracastSimKmdTestHook` with the request `fill` describes (`fill`
    /// sets the type and sizes and returns the input bytes); `STATUS_NOT_SUPPORTED` without it.
    async fn test_request(
        &self,
        fill: impl FnOnce(&mut ffi::MIRACAST_SIM_KMD_TEST_REQUEST) -> Vec<u8> + Send + 'static,
    ) -> NtStatus {
        let Some(hook) = self.test_hook else {
            self.rt.note(format!(
                "the KMD does not export the optional {TEST_HOOK_EXPORT} (miracast_sim_kmd.h): the test request was not made"
            ));
            return NtStatus::STATUS_NOT_SUPPORTED;
        };
        let a = self.adapter();
        self.rt
            .call(Ddi::DxgkDdiEscape, move || {
                let mut request = ffi::MIRACAST_SIM_KMD_TEST_REQUEST {
                    Size: std::mem::size_of::<ffi::MIRACAST_SIM_KMD_TEST_REQUEST>() as u32,
                    Type: 0,
                    Value: 0,
                    InputBufferSize: 0,
                    pInputBuffer: std::ptr::null_mut(),
                    OutputBufferSize: 0,
                    Reserved: 0,
                };
                let mut input = fill(&mut request);
                request.InputBufferSize = input.len() as u32;
                if !input.is_empty() {
                    request.pInputBuffer = input.as_mut_ptr().cast();
                }
                // SAFETY: `a` is the adapter context; `request` and the input it points to live
                // for the call (the header says the driver copies the input).
                NtStatus(unsafe { hook(a as ffi::PVOID, &request) })
            })
            .await
    }

    /// True when the library exports the optional `MiracastSimKmdTestHook`.
    pub fn has_test_hook(&self) -> bool {
        self.test_hook.is_some()
    }

    /// The `DxgkDdiInterfaceVersion` the driver was built for.
    pub fn interface_version(&self) -> u32 {
        self.driver.DxgkDdiInterfaceVersion
    }

    fn adapter(&self) -> usize {
        self.driver.MiniportDeviceContext as usize
    }

    fn miracast(&self) -> Option<ffi::DXGK_MIRACAST_DISPLAY_INTERFACE> {
        *self.miracast.borrow()
    }
}

#[async_trait(?Send)]
impl MiracastKmd for RealKmd {
    async fn start_device(&self, dxgkrnl: Rc<dyn DxgkrnlServices>) -> (NtStatus, u32) {
        self.rt.inner.services.borrow_mut().dxgkrnl = Some(dxgkrnl);
        let f = self.driver.DxgkDdiStartDevice;
        let a = self.adapter();
        self.rt
            .call(Ddi::DxgkDdiStartDevice, move || {
                let (mut sources, mut children) = (0u32, 0u32);
                let f = f.expect("checked at load");
                // SAFETY: `a` is the driver's adapter context; both outs are writable ULONGs.
                let s = unsafe { f(a as ffi::PVOID, &mut sources, &mut children) };
                (NtStatus(s), children)
            })
            .await
    }

    async fn remove_device(&self) -> NtStatus {
        let f = self.driver.DxgkDdiRemoveDevice;
        let a = self.adapter();
        self.rt
            .call(Ddi::DxgkDdiRemoveDevice, move || {
                let f = f.expect("checked at load");
                // SAFETY: `a` is the driver's adapter context, which the driver frees here; the
                // OS calls nothing of this adapter afterwards (a scenario's `AdapterRemove` needs
                // every context gone and leaves no adapter for later steps).
                NtStatus(unsafe { f(a as ffi::PVOID) })
            })
            .await
    }

    async fn query_miracast_interface(
        &self,
        size: u16,
        version: u16,
    ) -> (NtStatus, Option<MiracastDisplayInterface>) {
        let f = self.driver.DxgkDdiQueryInterface;
        let a = self.adapter();
        let result = self
            .rt
            .call(Ddi::DxgkDdiQueryInterface, move || {
                let guid = ffi::GUID_DEVINTERFACE_MIRACAST_DISPLAY;
                let mut iface = ffi::DXGK_MIRACAST_DISPLAY_INTERFACE::default();
                let mut query = ffi::QUERY_INTERFACE {
                    InterfaceType: &guid,
                    Size: size,
                    Version: version,
                    Interface: (&mut iface as *mut ffi::DXGK_MIRACAST_DISPLAY_INTERFACE).cast(),
                    InterfaceSpecificData: std::ptr::null_mut(),
                };
                let f = f.expect("checked at load");
                // SAFETY: the request and the interface it points to live for the call; the
                // interface buffer is a whole DXGK_MIRACAST_DISPLAY_INTERFACE.
                let s = unsafe { f(a as ffi::PVOID, &mut query) };
                (NtStatus(s), super::bridge::AssertSend(iface))
            })
            .await;
        let (status, iface) = result;
        let iface = iface.0;
        if status != NtStatus::STATUS_SUCCESS {
            return (status, None);
        }
        *self.miracast.borrow_mut() = Some(iface);
        (
            status,
            Some(MiracastDisplayInterface {
                size: iface.Size,
                version: iface.Version,
                context: self.rt.os_handle(iface.Context as usize),
                has_interface_reference: iface.InterfaceReference.is_some(),
                has_interface_dereference: iface.InterfaceDereference.is_some(),
                has_query_caps: iface.DxgkDdiMiracastQueryCaps.is_some(),
                has_create_context: iface.DxgkDdiMiracastCreateContext.is_some(),
                has_io_control: iface.DxgkDdiMiracastIoControl.is_some(),
                has_destroy_context: iface.DxgkDdiMiracastDestroyContext.is_some(),
            }),
        )
    }

    async fn query_child_relations(&self, relations: &mut [ChildDescriptor]) -> NtStatus {
        let f = self.driver.DxgkDdiQueryChildRelations;
        let a = self.adapter();
        let count = relations.len();
        let result = self
            .rt
            .call(Ddi::DxgkDdiQueryChildRelations, move || {
                // SAFETY: DXGK_CHILD_DESCRIPTOR is plain integers; all-zero is valid and is what
                // the DDI documents the OS passes.
                let mut c: Vec<ffi::DXGK_CHILD_DESCRIPTOR> =
                    (0..count).map(|_| unsafe { std::mem::zeroed() }).collect();
                let bytes = (count * std::mem::size_of::<ffi::DXGK_CHILD_DESCRIPTOR>()) as u32;
                let f = f.expect("checked at load");
                // SAFETY: `c` holds `bytes` bytes of zeroed descriptors.
                let s = unsafe { f(a as ffi::PVOID, c.as_mut_ptr(), bytes) };
                let out: Vec<ChildDescriptor> = c
                    .iter()
                    .map(|d| {
                        let raw_zero = convert::bytes_of_zeroed(d).iter().all(|b| *b == 0);
                        convert::child_descriptor(d, raw_zero)
                    })
                    .collect();
                (NtStatus(s), out)
            })
            .await;
        let (status, out) = result;
        relations.copy_from_slice(&out);
        status
    }

    async fn query_child_status(
        &self,
        status: &mut ChildStatus,
        non_destructive_only: bool,
    ) -> NtStatus {
        let f = self.driver.DxgkDdiQueryChildStatus;
        let a = self.adapter();
        let asked = *status;
        let result = self
            .rt
            .call(Ddi::DxgkDdiQueryChildStatus, move || {
                let mut c = convert::child_status_to_c(&asked);
                let f = f.expect("checked at load");
                // SAFETY: `c` is a valid DXGK_CHILD_STATUS for the call.
                let s = unsafe { f(a as ffi::PVOID, &mut c, u8::from(non_destructive_only)) };
                (NtStatus(s), convert::child_status_from_c(&c))
            })
            .await;
        let (s, answered) = result;
        *status = answered;
        s
    }

    async fn query_device_descriptor(&self, child_uid: u32) -> (NtStatus, Vec<u8>) {
        let f = self.driver.DxgkDdiQueryDeviceDescriptor;
        let a = self.adapter();
        self.rt
            .call(Ddi::DxgkDdiQueryDeviceDescriptor, move || {
                let f = f.expect("checked at load");
                let mut edid = Vec::new();
                let mut blocks = 1usize;
                let mut status = NtStatus::STATUS_SUCCESS;
                let mut block = 0usize;
                // One 128-byte EDID block per call, as dxgkrnl asks; block 0 says how many
                // extension blocks follow.
                while block < blocks {
                    let mut buf = [0u8; 128];
                    let mut d = ffi::DXGK_DEVICE_DESCRIPTOR {
                        DescriptorOffset: (block * 128) as u32,
                        DescriptorLength: 128,
                        DescriptorBuffer: buf.as_mut_ptr().cast(),
                    };
                    // SAFETY: `buf` holds DescriptorLength bytes for the call.
                    status = NtStatus(unsafe { f(a as ffi::PVOID, child_uid, &mut d) });
                    if status != NtStatus::STATUS_SUCCESS {
                        break;
                    }
                    let got = (d.DescriptorLength as usize).min(128);
                    edid.extend_from_slice(&buf[..got]);
                    if block == 0 && got == 128 {
                        blocks = 1 + usize::from(buf[126]);
                    }
                    block += 1;
                }
                if status != NtStatus::STATUS_SUCCESS && !edid.is_empty() {
                    // Extension blocks the driver does not have: keep what it gave.
                    status = NtStatus::STATUS_SUCCESS;
                }
                (status, edid)
            })
            .await
    }

    async fn commit_vidpn(&self, commit: VidPnCommit) -> NtStatus {
        let f = self.driver.DxgkDdiCommitVidPn;
        let a = self.adapter();
        self.rt
            .call(Ddi::DxgkDdiCommitVidPn, move || {
                let mut flags = ffi::DXGKARG_COMMITVIDPN_FLAGS::default();
                flags.set_PathPowerTransition(1);
                flags.set_PathPoweredOff(u32::from(commit.monitor_power_off));
                let arg = ffi::MIRACAST_SIM_DXGKARG_COMMITVIDPN {
                    AffectedVidPnSourceId: 0,
                    VidPnTargetId: commit.target_id,
                    Flags: flags,
                };
                let f = f.expect("checked at load");
                // SAFETY: `arg` is valid for the call.
                NtStatus(unsafe { f(a as ffi::HANDLE, &arg) })
            })
            .await
    }

    async fn create_context(&self, args: &CreateContextArgs) -> (NtStatus, Handle) {
        let f = self.driver.DxgkDdiCreateContext;
        let a = self.adapter();
        let args = args.clone();
        let (s, h) = self
            .rt
            .call(Ddi::DxgkDdiCreateContext, move || {
                let mut private = args.private_driver_data.clone();
                let mut c = ffi::DXGKARG_CREATECONTEXT {
                    NodeOrdinal: args.node_ordinal,
                    EngineAffinity: args.engine_affinity,
                    Flags: ffi::DXGK_CREATECONTEXTFLAGS {
                        Value: args.flags.0,
                    },
                    pPrivateDriverData: if private.is_empty() {
                        std::ptr::null_mut()
                    } else {
                        private.as_mut_ptr().cast()
                    },
                    PrivateDriverDataSize: private.len() as u32,
                    ..Default::default()
                };
                let f = f.expect("checked at load");
                // SAFETY: `c` and the private data it points to live for the call; hDevice is
                // the adapter context (the simulator has no separate device object).
                let s = unsafe { f(a as ffi::HANDLE, &mut c) };
                (NtStatus(s), c.hContext as usize)
            })
            .await;
        (s, self.rt.os_handle(h))
    }

    async fn destroy_context(&self, context: Handle) -> NtStatus {
        let f = self.driver.DxgkDdiDestroyContext;
        let c = self.rt.driver_value(context);
        let status = self
            .rt
            .call(Ddi::DxgkDdiDestroyContext, move || {
                let f = f.expect("checked at load");
                // SAFETY: `c` is the context handle the driver returned.
                NtStatus(unsafe { f(c as ffi::HANDLE) })
            })
            .await;
        self.rt.forget_handle(context);
        status
    }

    async fn interrupt_routine(&self, _event: HardwareEvent) -> bool {
        let f = self.driver.DxgkDdiInterruptRoutine;
        let a = self.adapter();
        self.rt
            .call(Ddi::DxgkDdiInterruptRoutine, move || {
                let f = f.expect("checked at load");
                // SAFETY: `a` is the adapter context; message number 0 is the line interrupt.
                unsafe { f(a as ffi::PVOID, 0) != 0 }
            })
            .await
    }

    async fn dpc_routine(&self) {
        let f = self.driver.DxgkDdiDpcRoutine;
        let a = self.adapter();
        self.rt
            .call(Ddi::DxgkDdiDpcRoutine, move || {
                let f = f.expect("checked at load");
                // SAFETY: `a` is the adapter context.
                unsafe { f(a as ffi::PVOID) }
            })
            .await;
    }

    async fn escape_send_message(&self, payload: &[u8], output_size: u32) -> NtStatus {
        let payload = payload.to_vec();
        self.test_request(move |request| {
            request.Type = ffi::MiracastSimKmdTestSendMessage;
            request.InputBufferSize = payload.len() as u32;
            request.OutputBufferSize = output_size;
            payload
        })
        .await
    }

    async fn set_encoder_busy(&self, busy: bool) -> NtStatus {
        self.test_request(move |request| {
            request.Type = ffi::MiracastSimKmdTestEncoderBusy;
            request.Value = u32::from(busy);
            Vec::new()
        })
        .await
    }

    async fn monitor_departs(&self) -> NtStatus {
        self.test_request(|request| {
            request.Type = ffi::MiracastSimKmdTestMonitorDeparts;
            Vec::new()
        })
        .await
    }

    async fn miracast_query_caps(&self, caps_size: u32) -> (NtStatus, MiracastCaps, u32) {
        let Some(iface) = self.miracast() else {
            return (NtStatus::STATUS_NOT_SUPPORTED, MiracastCaps::default(), 0);
        };
        let f = iface.DxgkDdiMiracastQueryCaps;
        let c = iface.Context as usize;
        self.rt
            .call(Ddi::DxgkDdiMiracastQueryCaps, move || {
                // The caps are written into a larger buffer filled with a pattern, so bytes
                // written past MiracastCapsSize show (R8).
                const PATTERN: u8 = 0xA5;
                let Some(f) = f else {
                    return (NtStatus::STATUS_NOT_SUPPORTED, MiracastCaps::default(), 0);
                };
                let mut words = [u64::from_ne_bytes([PATTERN; 8]); 8];
                // SAFETY: `words` is 64 writable, 8-aligned bytes; the driver was told it may
                // write `caps_size` of them.
                let s = unsafe { f(c as ffi::PVOID, caps_size, words.as_mut_ptr().cast()) };
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
                let written = bytes
                    .iter()
                    .rposition(|b| *b != PATTERN)
                    .map_or(0, |i| i + 1);
                let caps = MiracastCaps {
                    max_chunk_private_driver_data_size: u32::from_ne_bytes([
                        bytes[0], bytes[1], bytes[2], bytes[3],
                    ]),
                    flags: u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
                };
                (NtStatus(s), caps, written as u32)
            })
            .await
    }

    async fn miracast_create_context(
        &self,
        callbacks: Rc<dyn MiracastDisplayServices>,
    ) -> (NtStatus, Handle, u32) {
        let Some(iface) = self.miracast() else {
            return (NtStatus::STATUS_NOT_SUPPORTED, Handle(0), 0);
        };
        let handle = callbacks.miracast_handle();
        self.rt
            .inner
            .services
            .borrow_mut()
            .display
            .insert(handle, callbacks);
        let driver_handle = self.rt.driver_handle(handle);
        let table = Box::new(ffi::DXGK_MIRACAST_DISPLAY_CALLBACKS {
            MiracastHandle: driver_handle as ffi::HANDLE,
            DxgkCbMiracastSendMessage: Some(send_message),
            DxgkCbReportChunkInfo: Some(report_chunk_info),
        });
        let table_ptr =
            super::bridge::AssertSend(&*table as *const ffi::DXGK_MIRACAST_DISPLAY_CALLBACKS);
        self.display_callbacks.borrow_mut().push(table);
        let f = iface.DxgkDdiMiracastCreateContext;
        let c = iface.Context as usize;
        let (s, c, t) = self
            .rt
            .call(Ddi::DxgkDdiMiracastCreateContext, move || {
                let table_ptr = table_ptr;
                let (mut context, mut target): (ffi::PVOID, u32) = (std::ptr::null_mut(), 0);
                let Some(f) = f else {
                    return (NtStatus::STATUS_NOT_SUPPORTED, 0, 0);
                };
                // SAFETY: the callback table lives as long as the `RealKmd`; both outs are
                // writable.
                let s = unsafe {
                    f(
                        c as ffi::PVOID,
                        table_ptr.0.cast_mut(),
                        &mut context,
                        &mut target,
                    )
                };
                (NtStatus(s), context as usize, target)
            })
            .await;
        (s, self.rt.os_handle(c), t)
    }

    async fn miracast_io_control(
        &self,
        context: Handle,
        hardware_access: bool,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        let _ = hardware_access;
        let Some(iface) = self.miracast() else {
            return (NtStatus::STATUS_NOT_SUPPORTED, 0);
        };
        let f = iface.DxgkDdiMiracastIoControl;
        let c = iface.Context as usize;
        let m = self.rt.driver_value(context);
        let mut input = input.to_vec();
        let mut out = vec![0u8; output.len()];
        let result = self
            .rt
            .call(Ddi::DxgkDdiMiracastIoControl, move || {
                let Some(f) = f else {
                    return (NtStatus::STATUS_NOT_SUPPORTED, out, 0);
                };
                let mut bytes = 0u32;
                // SAFETY: both buffers are owned by this job with the sizes passed.
                let s = unsafe {
                    f(
                        c as ffi::PVOID,
                        m as ffi::PVOID,
                        input.len() as u32,
                        input.as_mut_ptr().cast(),
                        out.len() as u32,
                        out.as_mut_ptr().cast(),
                        &mut bytes,
                    )
                };
                (NtStatus(s), out, bytes)
            })
            .await;
        let (s, out, bytes) = result;
        output.copy_from_slice(&out);
        (s, bytes)
    }

    async fn miracast_destroy_context(&self, context: Handle) {
        let Some(iface) = self.miracast() else {
            return;
        };
        let f = iface.DxgkDdiMiracastDestroyContext;
        let c = iface.Context as usize;
        let m = self.rt.driver_value(context);
        self.rt
            .call(Ddi::DxgkDdiMiracastDestroyContext, move || {
                if let Some(f) = f {
                    // SAFETY: `m` is the context the driver returned.
                    unsafe { f(c as ffi::PVOID, m as ffi::PVOID) }
                }
            })
            .await;
    }

    async fn send_message_callback(&self, callback_context: Handle, io_status: IoStatusBlock) {
        self.rt.check_message_buffers();
        let message = self
            .rt
            .inner
            .services
            .borrow_mut()
            .messages
            .remove(&callback_context.0);
        let Some(message) = message else {
            self.rt.note(format!(
                "completion for an unknown message {:#x}",
                callback_context.0
            ));
            return;
        };
        let Some(routine) = message.routine else {
            return;
        };
        let intact = !message.buffers.is_released();
        let output = message.buffers.output.borrow().clone();
        let (out_ptr, out_size) = (message.output_ptr, message.output_size as usize);
        let context = message.routine_context;
        self.rt
            .call(Ddi::DxgkCbMiracastSendMessageCallback, move || {
                if intact {
                    // SAFETY: the driver passed this output buffer of `out_size` bytes and, by
                    // R26, keeps it until its completion routine has run; the runtime checked
                    // that the message's buffers were not released.
                    unsafe { copy_out(out_ptr as *mut ffi::VOID, out_size, &output) };
                }
                let mut iosb = ffi::IO_STATUS_BLOCK {
                    u: ffi::IO_STATUS_BLOCK_0 {
                        Status: io_status.status.0,
                    },
                    Information: io_status.information as usize,
                };
                // SAFETY: `routine` and `context` are what the driver passed to
                // DxgkCbMiracastSendMessage; the status block lives for the call.
                unsafe { routine(context as ffi::PVOID, &mut iosb) }
            })
            .await;
    }
}

// ---- DXGKRNL_INTERFACE trampolines ----------------------------------------------------------

fn resolve(h: ffi::HANDLE, what: &'static str) -> Result<Handle, CallbackRequest> {
    super::bridge::resolve_handle(h as usize)
        .ok_or(CallbackRequest::UnknownHandle(what, h as usize))
}

unsafe extern "system" fn indicate_child_status(
    h: ffi::HANDLE,
    status: *mut ffi::DXGK_CHILD_STATUS,
) -> ffi::NTSTATUS {
    if status.is_null() {
        return NtStatus::STATUS_INVALID_PARAMETER.0;
    }
    // SAFETY: checked non-NULL; the driver passes a DXGK_CHILD_STATUS.
    let status = unsafe { &*status };
    let request = match resolve(h, "DxgkCbIndicateChildStatus") {
        Ok(_) => CallbackRequest::IndicateChildStatus(convert::child_status_from_c(status)),
        Err(e) => e,
    };
    callback(h as usize, request).status().0
}

unsafe extern "system" fn notify_interrupt(
    h: ffi::HANDLE,
    data: *const ffi::DXGKARGCB_NOTIFY_INTERRUPT_DATA,
) {
    if data.is_null() {
        return;
    }
    // SAFETY: checked non-NULL; the driver passes the interrupt data.
    let d = unsafe { &*data };
    let request = match resolve(h, "DxgkCbNotifyInterrupt") {
        Ok(_) if d.InterruptType.0 == 8 => {
            // SAFETY: InterruptType 8 selects the MiracastEncodeChunkCompleted arm.
            let m = unsafe { d.u.MiracastEncodeChunkCompleted };
            CallbackRequest::NotifyInterrupt(MiracastEncodeChunkCompleted {
                vidpn_target_id: m.VidPnTargetId,
                chunk_info: convert::chunk_info_from_kmd(&m.ChunkInfo),
                // SAFETY: the driver's private data of the given size (or NULL).
                private_driver_data: unsafe {
                    copy_in(m.pPrivateDriverData, m.PrivateDataDriverSize as usize)
                },
            })
        }
        Ok(_) => CallbackRequest::Unsupported(format!(
            "DxgkCbNotifyInterrupt with InterruptType {}: only DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE (8) is modelled",
            d.InterruptType.0
        )),
        Err(e) => e,
    };
    let chunk = d.InterruptType.0 == 8;
    let reply = callback(h as usize, request);
    if chunk {
        let status = reply.status().0;
        // SAFETY: the OS reports the outcome in MiracastEncodeChunkCompleted.Status (ddi-facts
        // G10); the structure is the driver's own writable memory, passed as const only by the
        // prototype.
        unsafe {
            let p = data.cast_mut();
            (*p).u.MiracastEncodeChunkCompleted.Status = status;
        }
    }
}

unsafe extern "system" fn notify_dpc(h: ffi::HANDLE) {
    if current_ddi() == Some(Ddi::DxgkDdiDpcRoutine) {
        // The DPC acknowledging itself: nothing for the OS model to do.
        return;
    }
    let request = match resolve(h, "DxgkCbNotifyDpc") {
        Ok(_) => CallbackRequest::NotifyDpc,
        Err(e) => e,
    };
    let _ = callback(h as usize, request);
}

unsafe extern "system" fn queue_dpc(h: ffi::HANDLE) -> ffi::BOOLEAN {
    let request = match resolve(h, "DxgkCbQueueDpc") {
        Ok(_) => CallbackRequest::QueueDpc,
        Err(e) => e,
    };
    u8::from(!matches!(
        callback(h as usize, request),
        CallbackReply::Refused
    ))
}

// ---- DXGK_MIRACAST_DISPLAY_CALLBACKS trampolines --------------------------------------------

unsafe extern "system" fn send_message(
    h: ffi::HANDLE,
    input_size: ffi::ULONG,
    input: *mut ffi::VOID,
    output_size: ffi::ULONG,
    output: *mut ffi::VOID,
    routine: ffi::DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK,
    routine_context: ffi::PVOID,
) -> ffi::NTSTATUS {
    let request = match resolve(h, "DxgkCbMiracastSendMessage") {
        Ok(handle) => CallbackRequest::SendMessage {
            handle,
            // SAFETY: the driver passes `input_size` readable bytes (or NULL).
            input: unsafe { copy_in(input, input_size as usize) },
            input_ptr: input as usize,
            output_ptr: output as usize,
            output_size: if output.is_null() { 0 } else { output_size },
            routine,
            routine_context: routine_context as usize,
        },
        Err(e) => e,
    };
    callback(h as usize, request).status().0
}

unsafe extern "system" fn report_chunk_info(
    h: ffi::HANDLE,
    info: *mut ffi::DXGK_MIRACAST_CHUNK_INFO,
    private: ffi::PVOID,
    private_size: ffi::UINT,
) -> ffi::NTSTATUS {
    if info.is_null() {
        return NtStatus::STATUS_INVALID_PARAMETER.0;
    }
    let request = match resolve(h, "DxgkCbReportChunkInfo") {
        Ok(handle) => CallbackRequest::ReportChunkInfo {
            handle,
            // SAFETY: checked non-NULL; the driver passes a DXGK_MIRACAST_CHUNK_INFO.
            info: convert::chunk_info_from_kmd(unsafe { &*info }),
            private_driver_data: (!private.is_null() || private_size != 0)
                // SAFETY: reserved arguments; read only when the driver set both.
                .then(|| unsafe { copy_in(private, private_size as usize) }),
        },
        Err(e) => e,
    };
    callback(h as usize, request).status().0
}
