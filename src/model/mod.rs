//! The bundled reference drivers: a display miniport (KMD) and a Miracast UMD that keep every
//! documented rule of ddi-facts section 3, plus bug knobs that make them break specific rules.
//!
//! Map:
//! - [`protocol`]: the private UMD<->KMD protocol (IOCTL ops, kernel message kinds), with
//!   strict decoding and [`protocol::describe_ioctl`] for traces (G12).
//! - [`kmd`]: [`ReferenceKmd`], the display miniport ([`crate::ddi::MiracastKmd`]).
//! - [`umd`]: [`ReferenceUmd`], the Miracast UMD ([`crate::ddi::MiracastUmd`]), negotiating
//!   through the Wi-Fi Display source of [`crate::wfd`].
//! - [`knobs`]: [`KmdConfig`], [`UmdConfig`] and the fault switches [`Knobs`], all
//!   deserializable from a scenario, with [`knobs::KNOB_CATALOGUE`] naming each knob's rules.
//!
//! [`reference_drivers`] builds a matching pair on a scheduler.

pub mod kmd;
pub mod knobs;
pub mod protocol;
pub mod umd;

pub use kmd::ReferenceKmd;
pub use knobs::{ChunkIdFault, KmdConfig, Knobs, UmdConfig};
pub use umd::ReferenceUmd;

use crate::ddi::{MiracastKmd, MiracastUmd};
use crate::sched::Sched;
use std::rc::Rc;

/// The reference KMD and UMD as concrete types, for callers that flip simulated hardware
/// (`set_hardware_busy`) or read what the drivers observed.
pub struct ReferenceDrivers {
    /// The display miniport.
    pub kmd: Rc<ReferenceKmd>,
    /// The Miracast UMD.
    pub umd: Rc<ReferenceUmd>,
}

impl ReferenceDrivers {
    /// Both drivers on `sched`, with the faults `knobs` switch on.
    pub fn new(sched: &Sched, kmd: KmdConfig, umd: UmdConfig, knobs: &Knobs) -> Self {
        ReferenceDrivers {
            kmd: Rc::new(ReferenceKmd::new(sched, kmd, knobs.clone())),
            umd: Rc::new(ReferenceUmd::new(sched, umd, knobs.clone())),
        }
    }
}

/// The reference drivers behind the driver traits: what the OS model runs by default.
pub fn reference_drivers(
    sched: &Sched,
    kmd: KmdConfig,
    umd: UmdConfig,
    knobs: &Knobs,
) -> (Rc<dyn MiracastKmd>, Rc<dyn MiracastUmd>) {
    let drivers = ReferenceDrivers::new(sched, kmd, umd, knobs);
    (drivers.kmd, drivers.umd)
}
