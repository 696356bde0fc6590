//! Where the driver under test comes from for one run: the bundled reference models, or a
//! driver binary through the C ABI. The real loader exists only with the `real-driver` feature;
//! the whole file behind `real` is swapped (`drivers/real.rs` or `drivers/unavailable.rs`), so
//! both builds expose the same function.

#[cfg(feature = "real-driver")]
#[path = "drivers/real.rs"]
mod real;
#[cfg(not(feature = "real-driver"))]
#[path = "drivers/unavailable.rs"]
mod real;

use crate::ddi::{MiracastKmd, MiracastUmd};
use crate::model::ReferenceDrivers;
use crate::scenario::{Backend, Setup};
use crate::sched::Sched;
use std::rc::Rc;

/// The drivers of one run.
pub(super) struct Drivers {
    /// The display miniport.
    pub kmd: Rc<dyn MiracastKmd>,
    /// The Miracast UMD.
    pub umd: Rc<dyn MiracastUmd>,
    /// Faults of a real driver binary found so far (hangs, panics in the bridge); keeps the
    /// binary's runtime alive as long as the run.
    pub faults: Box<dyn Fn() -> Vec<super::Bugcheck>>,
    /// Rule findings of the driver binary's kernel routines (IRQL, pool); none for the models.
    pub violations: Box<dyn Fn() -> Vec<crate::rules::Violation>>,
    /// The KMD is a driver binary (the scenario's test requests go to its test hook).
    pub kmd_binary: bool,
    /// The UMD is a driver binary.
    pub umd_binary: bool,
}

/// Builds the drivers `backend` names on `sched`.
///
/// # Errors
/// A sentence saying why the backend cannot run here (not in this build, or the binary does
/// not load).
pub(super) fn load(sched: &Sched, backend: &Backend, setup: &Setup) -> Result<Drivers, String> {
    match backend {
        Backend::Model => {
            let d = ReferenceDrivers::new(
                sched,
                setup.adapter.clone(),
                setup.umd.clone(),
                &setup.knobs,
            );
            Ok(Drivers {
                kmd: d.kmd,
                umd: d.umd,
                faults: Box::new(Vec::new),
                violations: Box::new(Vec::new),
                kmd_binary: false,
                umd_binary: false,
            })
        }
        Backend::Real(spec) => real::load(sched, spec, setup),
    }
}
