//! Builds with the `real-driver` feature: `real:UMD_PATH,KMD_PATH` (or one path exporting
//! both entry points) is loaded through [`crate::backend::real`].

use super::Drivers;
use crate::backend::real::{BridgeConfig, load_real_drivers, real_driver_paths};
use crate::runner::Bugcheck;
use crate::sched::Sched;
use std::path::Path;

/// Loads the driver binaries; the error says which library failed and why.
pub(super) fn load(sched: &Sched, spec: &Path) -> Result<Drivers, String> {
    let (umd_path, kmd_path) = real_driver_paths(spec);
    let (kmd, umd, runtime) =
        load_real_drivers(sched, &umd_path, &kmd_path, BridgeConfig::default())
            .map_err(|e| format!("`real:{}`: {e}", spec.display()))?;
    Ok(Drivers {
        kmd,
        umd,
        faults: Box::new(move || runtime.faults().iter().map(Bugcheck::from).collect()),
    })
}
