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
//! Each hand-off between the executor and a real thread first spins on its channel for up to
//! 200 µs (yielding the core after a few hundred spins, so two runs sharing a core still make
//! progress) and only then sleeps. The other side usually answers within microseconds, and a
//! sleep and wake-up through the kernel cost more than the driver's own code: 10,000 GPU
//! contexts created and destroyed on the C fixture KMD took 5.8 s with sleeping hand-offs and
//! 0.2 s with spinning ones. Spinning decides nothing: the order is still the scheduler's.
//!
//! # The C library (`interpose`, Linux)
//!
//! The driver library's imports of the C library's thread, sleep, clock, wait and socket calls
//! are redirected to hooks (its GOT is rewritten after `dlopen`; nothing else in the process is
//! affected). On a bridge thread each such call becomes a request the owning simulated thread
//! serves: `pthread_create` makes a new simulated thread (named after the start routine, with a
//! real thread of its own), a sleep is virtual time, a contended mutex, a condition wait, a
//! `pthread_join` or a `poll`/`recv` on the RTSP socket is a simulated wait. Every call is then
//! attributed to the thread that made it, and a driver's blocking agrees with virtual time.
//! Driver threads are daemons: a run ends when the OS's work is done; one still alive after the
//! last `DestroyMiracastContext` is reported by the OS (R46) and frozen at its next wait, since
//! on Windows its code would be unloaded.
//!
//! A driver that neither returns nor calls back within [`BridgeConfig::hang_timeout`] (wall
//! clock: it blocks somewhere the hooks do not cover, or spins) is reported as a
//! [`DriverFault`] naming the thread and the DDI; the simulated thread stays inside the DDI
//! (the bridge never makes up the driver's answer) and the runtime calls nothing else in that
//! driver. In normal runs the timeout never fires.
//!
//! Callbacks from threads the driver created some other way (or on a platform without the
//! hooks) cannot be scheduled: they are queued and served by whichever simulated thread is
//! waiting on the driver at that moment, or at the start of the next call into the driver; their
//! order is the real OS's, so such a run is not exactly replayable.

pub mod ffi;

#[cfg(feature = "real-driver")]
mod bridge;
#[cfg(feature = "real-driver")]
mod convert;
#[cfg(all(
    feature = "real-driver",
    target_os = "linux",
    target_pointer_width = "64"
))]
mod interpose;
#[cfg(feature = "real-driver")]
mod isolate;
#[cfg(feature = "real-driver")]
mod kernel;
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
pub use bridge::{BridgeConfig, DriverFault, DriverFaultKind, DriverThreadInfo, RealRuntime};
#[cfg(feature = "real-driver")]
pub use isolate::{
    CrashedSchedule, ISOLATED_CHILD_ENV, IsolatedOutcome, SupervisorConfig, isolated_child_main,
    run_isolated, run_supervised, stream_choice, stream_journal_line, stream_run_start,
    stream_schedule_done, stream_schedule_start,
};
#[cfg(feature = "real-driver")]
pub use kmd::RealKmd;
#[cfg(feature = "real-driver")]
pub use umd::RealUmd;

#[cfg(not(feature = "real-driver"))]
use std::path::Path;

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

/// One side of `--backend real:SPEC`: a driver library, or the bundled reference model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverSide {
    /// A shared library (UMD or KMD) at this path.
    Library(std::path::PathBuf),
    /// The reference model (`model` in the spec).
    Model,
}

/// The UMD and KMD of `--backend real:SPEC`: `SPEC` is `UMD,KMD` where each is a library path
/// or the word `model` (`real:libumd.so,model` tests a binary UMD against the reference KMD,
/// `real:model,libkmd.so` a binary KMD against the reference UMD), or one path when a single
/// library holds the driver (both entry points, or just one: the other side is then the
/// reference model, see [`load_real_drivers_spec`]).
pub fn real_driver_sides(spec: &Path) -> (DriverSide, DriverSide) {
    let text = spec.to_string_lossy();
    let side = |s: &str| {
        if s == "model" {
            DriverSide::Model
        } else {
            DriverSide::Library(s.into())
        }
    };
    match text.split_once(',') {
        Some((umd, kmd)) => (side(umd), side(kmd)),
        None => (side(&text), side(&text)),
    }
}

/// What the libraries of a `real:` spec export, looked up before a run so that a scenario
/// needing what a binary does not offer is reported as skipped, with the reason, instead of
/// running as a no-op.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exports {
    /// A driver binary plays the UMD (`QueryMiracastDriverInterface`).
    pub umd: bool,
    /// A driver binary plays the KMD (`MiracastSimKmdEntry`).
    pub kmd: bool,
    /// That KMD exports the optional `MiracastSimKmdTestHook`.
    pub kmd_test_hook: bool,
}

/// The exports of the libraries `spec` names (see [`real_driver_sides`]); a single path is the
/// UMD, the KMD or both, as its exports say.
///
/// # Errors
/// A library that does not open (the run then reports the backend unavailable), or a build
/// without the `real-driver` feature.
pub fn probe_exports(spec: &Path) -> Result<Exports, String> {
    #[cfg(feature = "real-driver")]
    {
        let has = kmd::library_exports;
        let (umd_side, kmd_side) = real_driver_sides(spec);
        let mut e = Exports::default();
        if let DriverSide::Library(p) = &umd_side {
            e.umd = has(p, &["QueryMiracastDriverInterface"])?[0];
        }
        if let DriverSide::Library(p) = &kmd_side {
            let found = has(p, &["MiracastSimKmdEntry", kmd::TEST_HOOK_EXPORT])?;
            e.kmd = found[0];
            e.kmd_test_hook = found[0] && found[1];
        }
        if spec.to_string_lossy().contains(',') {
            // Two paths name their sides; a missing export is the load's error to report.
            e.umd |= matches!(umd_side, DriverSide::Library(_));
            e.kmd |= matches!(kmd_side, DriverSide::Library(_));
        }
        Ok(e)
    }
    #[cfg(not(feature = "real-driver"))]
    {
        Err(format!(
            "`real:{}`: this build has no real-driver backend",
            spec.display()
        ))
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

/// What [`load_real_drivers_spec`] loaded: each side is the binary or the reference model
/// (`None` here), and the runtime the binaries share.
#[cfg(feature = "real-driver")]
pub struct LoadedSides {
    /// The binary KMD, if the spec named one.
    pub kmd: Option<Rc<dyn MiracastKmd>>,
    /// The binary UMD, if the spec named one.
    pub umd: Option<Rc<dyn MiracastUmd>>,
    /// The runtime of the binaries.
    pub runtime: RealRuntime,
    /// A sentence for the trace when a single library held only one driver and the reference
    /// model stands in for the other.
    pub note: Option<String>,
}

/// Loads what `--backend real:SPEC` names (see [`real_driver_sides`]); a side spelled `model`
/// is left to the caller (the reference model). A single path that exports only one of the two
/// entry points is that driver, with the reference model for the other.
///
/// # Errors
/// [`LoadError`] for a library that does not open or lacks its export (for a single path:
/// lacks both).
#[cfg(feature = "real-driver")]
pub fn load_real_drivers_spec(
    sched: &crate::sched::Sched,
    spec: &Path,
    config: BridgeConfig,
) -> Result<LoadedSides, LoadError> {
    let runtime = RealRuntime::new(sched, config);
    let (umd_side, kmd_side) = real_driver_sides(spec);
    if umd_side == DriverSide::Model && kmd_side == DriverSide::Model {
        return Err(LoadError::Invalid(
            "`model` on both sides names no driver binary; use `--backend model`".to_owned(),
        ));
    }
    let single = !spec.to_string_lossy().contains(',');
    let load_umd = |p: &Path| RealUmd::load(&runtime, p).map(|u| Rc::new(u) as Rc<dyn MiracastUmd>);
    let load_kmd = |p: &Path| RealKmd::load(&runtime, p).map(|k| Rc::new(k) as Rc<dyn MiracastKmd>);
    if single && let DriverSide::Library(path) = &umd_side {
        let umd = load_umd(path);
        let kmd = load_kmd(path);
        fn missing<T>(r: &Result<T, LoadError>) -> bool {
            matches!(r, Err(LoadError::MissingExport { .. }))
        }
        let shown = path.display();
        return match (umd, kmd) {
            (Ok(u), Ok(k)) => Ok(LoadedSides {
                kmd: Some(k),
                umd: Some(u),
                runtime,
                note: None,
            }),
            (Ok(u), k) if missing(&k) => Ok(LoadedSides {
                kmd: None,
                umd: Some(u),
                runtime,
                note: Some(format!(
                    "{shown} exports QueryMiracastDriverInterface only: the reference KMD plays the display miniport"
                )),
            }),
            (u, Ok(k)) if missing(&u) => Ok(LoadedSides {
                kmd: Some(k),
                umd: None,
                runtime,
                note: Some(format!(
                    "{shown} exports MiracastSimKmdEntry only: the reference UMD plays the Miracast UMD"
                )),
            }),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    let umd = match &umd_side {
        DriverSide::Library(p) => Some(load_umd(p)?),
        DriverSide::Model => None,
    };
    let kmd = match &kmd_side {
        DriverSide::Library(p) => Some(load_kmd(p)?),
        DriverSide::Model => None,
    };
    Ok(LoadedSides {
        kmd,
        umd,
        runtime,
        note: None,
    })
}
