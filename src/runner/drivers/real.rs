//! Builds with the `real-driver` feature: `real:UMD,KMD` is loaded through
//! [`crate::backend::real`], where either side may be the word `model` (the reference driver
//! plays that side), or one path holds the driver.

use super::Drivers;
use crate::backend::real::{BridgeConfig, load_real_drivers_spec};
use crate::model::ReferenceDrivers;
use crate::runner::Bugcheck;
use crate::scenario::Setup;
use crate::sched::Sched;
use crate::trace::EventKind;
use std::path::Path;

/// Loads the driver binaries (and the reference model for a side spelled `model`); the error
/// says which library failed and why.
pub(super) fn load(sched: &Sched, spec: &Path, setup: &Setup) -> Result<Drivers, String> {
    let loaded = load_real_drivers_spec(sched, spec, BridgeConfig::default())
        .map_err(|e| format!("`real:{}`: {e}", spec.display()))?;
    let kmd_binary = loaded.kmd.is_some();
    let umd_binary = loaded.umd.is_some();
    let (kmd, umd) = match (loaded.kmd, loaded.umd) {
        (Some(k), Some(u)) => (k, u),
        (k, u) => {
            let reference = ReferenceDrivers::new(
                sched,
                setup.adapter.clone(),
                setup.umd.clone(),
                &setup.knobs,
            );
            (k.unwrap_or(reference.kmd), u.unwrap_or(reference.umd))
        }
    };
    if let Some(text) = loaded.note {
        sched.emit(EventKind::Note { text });
    }
    let runtime = loaded.runtime;
    runtime.set_pool_faults(setup.os.pool_faults.clone());
    let kernel = runtime.clone();
    Ok(Drivers {
        kmd,
        umd,
        faults: Box::new(move || runtime.faults().iter().map(Bugcheck::from).collect()),
        violations: Box::new(move || kernel.kernel_violations()),
        kmd_binary,
        umd_binary,
    })
}
