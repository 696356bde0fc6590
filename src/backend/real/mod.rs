//! The real-driver backend: drives a driver binary through the C ABI of the Miracast DDIs.
//!
//! - [`ffi`]: `#[repr(C)]` mirrors of the C headers in `include/` (types only, C names). It is
//!   not gated, so its layout test runs everywhere.
//! - `bridge` (feature `real-driver`): the [`RealRuntime`] that runs driver code on real threads
//!   while the deterministic scheduler keeps deciding the order at every boundary.
//! - `umd` / `kmd` (feature `real-driver`): [`RealUmd`] and [`RealKmd`], the loaders and the
//!   [`crate::ddi::MiracastUmd`] / [`crate::ddi::MiracastKmd`] implementations over the loaded
//!   function tables, with `extern "system"` trampolines for every OS callback.
//! - `isolate` (feature `real-driver`): [`run_isolated`] / [`isolated_child_main`], one child
//!   process per scenario so that a crashing driver becomes a reported finding.
//! - the platform file (`unix.rs` or `windows.rs`, chosen here as a whole file): opening the
//!   library, the RTSP socket handed to the driver, reading driver memory without faulting, and
//!   naming how a child process died.
//!
//! # Threads
//!
//! Each simulated thread that calls into the driver gets one real OS thread. The simulated
//! thread's future hands the call to its real thread and blocks the executor until the driver
//! returns or calls back: while driver code runs, it holds the turn, exactly like a simulated
//! thread between two choice points. A callback (a trampoline called by the driver) sends the
//! request to the waiting future and blocks the real thread; the future awaits the OS model's
//! async service, which is a choice point where other simulated threads may run; then it sends
//! the answer back and blocks again. So the scheduler decides the order at every DDI entry and
//! exit and at every callback, for real driver code as for the reference models.
//!
//! A driver that neither returns nor calls back within [`BridgeConfig::hang_timeout`] (wall
//! clock) is reported as a [`DriverFault`] naming the thread and the DDI, and the runtime stops
//! calling into that driver for the rest of the run.
//!
//! Callbacks from threads the driver created itself cannot be scheduled: the simulator does not
//! know those threads exist until they call. They are queued and served by whichever simulated
//! thread is waiting on the driver at that moment (checked every 50 µs to 1 ms), or at the start of
//! the next call into the driver. The order between such a callback and the driver's own calling
//! thread is decided by the real OS, not by the scheduler: a run whose driver uses its own
//! threads is not replayable exactly, only the simulated side of it is.

pub mod ffi;

#[cfg(feature = "real-driver")]
mod bridge;
#[cfg(feature = "real-driver")]
mod convert;
#[cfg(feature = "real-driver")]
mod isolate;
#[cfg(feature = "real-driver")]
mod kmd;
#[cfg(feature = "real-driver")]
mod umd;

#[cfg(all(feature = "real-driver", unix))]
#[path = "unix.rs"]
mod platform;
#[cfg(all(feature = "real-driver", windows))]
#[path = "windows.rs"]
mod platform;

#[cfg(feature = "real-driver")]
pub use bridge::{BridgeConfig, DriverFault, DriverFaultKind, RealRuntime};
#[cfg(feature = "real-driver")]
pub use isolate::{
    ISOLATED_CHILD_ENV, IsolatedOutcome, SupervisorConfig, isolated_child_main, run_isolated,
    run_supervised, stream_journal_line,
};
#[cfg(feature = "real-driver")]
pub use kmd::RealKmd;
#[cfg(feature = "real-driver")]
pub use umd::RealUmd;

#[cfg(feature = "real-driver")]
use crate::ddi::{MiracastKmd, MiracastUmd};
#[cfg(feature = "real-driver")]
use std::path::Path;
#[cfg(feature = "real-driver")]
use std::rc::Rc;

/// Why a driver binary could not be loaded.
#[cfg(feature = "real-driver")]
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The library did not open (missing file, wrong architecture, missing dependency).
    #[error("cannot open driver library {path}: {reason}")]
    Open {
        /// The path given.
        path: String,
        /// What the system loader said.
        reason: String,
    },
    /// The library does not export the entry point.
    #[error("{path} does not export {export}")]
    MissingExport {
        /// The path given.
        path: String,
        /// The export looked up (`QueryMiracastDriverInterface` or `MiracastSimKmdEntry`).
        export: &'static str,
    },
    /// The entry point returned a failure status.
    #[error("{entry} returned {status}")]
    EntryFailed {
        /// The entry point.
        entry: &'static str,
        /// What it returned.
        status: crate::status::NtStatus,
    },
    /// The interface the driver filled has the wrong `Size`.
    #[error("{structure}.Size is {got}; the simulator expects {expected}")]
    WrongSize {
        /// The structure (`MIRACAST_DRIVER_INTERFACE`, ...).
        structure: &'static str,
        /// What the driver wrote.
        got: u32,
        /// What the headers say.
        expected: u32,
    },
    /// A required entry of the interface is NULL.
    #[error("{structure}.{entry} is NULL")]
    NullEntry {
        /// The structure.
        structure: &'static str,
        /// The member.
        entry: &'static str,
    },
    /// The driver reported something the simulator cannot use (a bad version, a crash while
    /// loading, ...).
    #[error("{0}")]
    Invalid(String),
}

/// The UMD and KMD library paths of `--backend real:SPEC`: `SPEC` is `UMD_PATH,KMD_PATH`, or
/// one path when a single library exports both `QueryMiracastDriverInterface` and
/// `MiracastSimKmdEntry`.
#[cfg(feature = "real-driver")]
pub fn real_driver_paths(spec: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = spec.to_string_lossy();
    match text.split_once(',') {
        Some((umd, kmd)) => (umd.into(), kmd.into()),
        None => (spec.to_path_buf(), spec.to_path_buf()),
    }
}

/// A loaded driver pair behind the driver traits, and the runtime they share.
#[cfg(feature = "real-driver")]
pub type RealDrivers = (Rc<dyn MiracastKmd>, Rc<dyn MiracastUmd>, RealRuntime);

/// Loads a UMD and a KMD built as shared libraries and returns them behind the driver traits,
/// sharing one [`RealRuntime`] on `sched` (so that the UMD's `MiracastIoControl` reaches the
/// KMD on the same real thread, as a kernel call does on Windows).
///
/// This is what `--backend real:UMD_PATH,KMD_PATH` maps to.
///
/// # Errors
/// [`LoadError`] for a library that does not open, lacks its export, or hands back an
/// incomplete interface.
#[cfg(feature = "real-driver")]
pub fn load_real_drivers(
    sched: &crate::sched::Sched,
    umd_path: &Path,
    kmd_path: &Path,
    config: BridgeConfig,
) -> Result<RealDrivers, LoadError> {
    let runtime = RealRuntime::new(sched, config);
    let umd = RealUmd::load(&runtime, umd_path)?;
    let kmd = RealKmd::load(&runtime, kmd_path)?;
    Ok((Rc::new(kmd), Rc::new(umd), runtime))
}
