//! Builds without the `real-driver` feature: `real:PATH` is reported as unavailable.

use super::Drivers;
use crate::scenario::Setup;
use crate::sched::Sched;
use std::path::Path;

/// Always an error naming the feature to build with.
pub(super) fn load(_sched: &Sched, spec: &Path, _setup: &Setup) -> Result<Drivers, String> {
    Err(format!(
        "`real:{}`: this build has no real-driver backend; rebuild with `--features real-driver`, or use the `model` backend",
        spec.display()
    ))
}
