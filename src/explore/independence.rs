//! Which steps commute: the independence relation behind partial-order reduction.
//!
//! Two steps are *dependent* (their order may matter) unless both were declared (an
//! [`Op`] before they ran) and neither their declared ops nor what they touched conflict.
//! Undeclared steps are dependent on everything: without information, exploration stays
//! sound.
//!
//! Declared DDI steps ([`Op::Enter`], [`Op::Leave`]) conflict according to the documented
//! synchronization model (ddi-facts 3.0): Level-3 calls conflict with every KMD call; the
//! Miracast class (`DxgkDdiMiracastCreateContext`, `…DestroyContext`, `…IoControl`) conflicts
//! with itself; the four serialized UMD functions conflict with each other and with
//! `HandleKernelModeMessage`; and because a DDI runs driver code whose state we do not see,
//! two calls into the same driver conflict too. A KMD step and a UMD step of classes the model
//! lets overlap commute.
//!
//! In scenario runs the documented model reaches this relation through the OS model's own
//! locks rather than through declared DDI ops: the Miracast-class mutex, the adapter lock
//! (shared by Level-0 calls, exclusive for Level 3) and the UMD lock (exclusive for the four
//! serialized functions, shared by `HandleKernelModeMessage`) are simulated locks whose
//! acquisitions are recorded touches, so same-class calls conflict and calls the levels let
//! overlap commute unless they touch the same state. Steps that run a driver binary's code
//! carry its [`Footprint::drivers`] bit and conflict with each other, which is the "two calls
//! into the same driver" rule for code we cannot see.

use crate::ddi::{Ddi, Direction};
use crate::sched::{Op, StepRecord, Touch};

/// The synchronization class of a DDI (ddi-facts 3.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SyncClass {
    /// Level 0: re-entrant.
    Level0,
    /// Child I/O (Level 1, per child device).
    ChildIo,
    /// The Miracast class (one at a time, "Level 2").
    MiracastClass,
    /// Level 3: alone in the KMD.
    Level3,
    /// `Create`/`Destroy`/`Start`/`StopMiracast…`: serialized by the OS.
    UmdSerialized,
    /// `HandleKernelModeMessage`: concurrent with itself, never with the serialized four.
    UmdMessage,
}

/// The class the documented model puts `ddi` in.
pub fn sync_class(ddi: Ddi) -> SyncClass {
    if ddi.is_miracast_class() {
        return SyncClass::MiracastClass;
    }
    if ddi.is_umd_serialized() {
        return SyncClass::UmdSerialized;
    }
    match ddi {
        Ddi::HandleKernelModeMessage => SyncClass::UmdMessage,
        Ddi::DxgkDdiAddDevice
        | Ddi::DxgkDdiStartDevice
        | Ddi::DxgkDdiRemoveDevice
        | Ddi::DxgkDdiQueryChildRelations
        | Ddi::DxgkDdiSetPowerState
        | Ddi::DxgkDdiMiracastQueryCaps => SyncClass::Level3,
        Ddi::DxgkDdiQueryChildStatus | Ddi::DxgkDdiQueryDeviceDescriptor => SyncClass::ChildIo,
        _ => SyncClass::Level0,
    }
}

/// Which driver's code (and so which driver state) a DDI step runs.
fn side(ddi: Ddi) -> u8 {
    match ddi.direction() {
        Direction::OsToKmd | Direction::KmdToOs => 0,
        _ => 1,
    }
}

/// True when the documented model says steps entering/leaving `a` and `b` may not be reordered.
pub fn ddis_conflict(a: Ddi, b: Ddi) -> bool {
    use SyncClass::*;
    let (ca, cb) = (sync_class(a), sync_class(b));
    if side(a) == side(b) {
        // Same driver: its internal state is invisible to us, so assume it is shared.
        return true;
    }
    matches!(
        (ca, cb),
        (UmdSerialized, UmdMessage) | (UmdMessage, UmdSerialized) | (UmdSerialized, UmdSerialized)
    ) || (ca == cb && ca != Level0 && ca != UmdMessage)
}

fn declared_touch(op: Op) -> Option<Touch> {
    let t = |object, write| Some(Touch { object, write });
    match op {
        Op::Lock(o) | Op::WriteLock(o) | Op::Wait(o) | Op::Write(o) => t(o, true),
        Op::ReadLock(o) | Op::Read(o) => t(o, false),
        Op::Local | Op::Enter(_) | Op::Leave(_) => None,
    }
}

fn touches_conflict(a: &[Touch], b: &[Touch]) -> bool {
    a.iter().any(|x| {
        b.iter()
            .any(|y| x.object == y.object && (x.write || y.write))
    })
}

/// The part of a step that independence looks at: its declared op and what it touched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Footprint {
    /// The declared op (`None`: unknown, dependent on everything).
    pub declared: Option<Op>,
    /// Objects touched, with the declared op's own object folded in.
    pub touches: Vec<Touch>,
    /// Which drivers' code the step ran ([`crate::sched::drivers`] bits).
    pub drivers: u8,
}

impl Footprint {
    /// The footprint of a finished step.
    pub fn of(step: &StepRecord) -> Self {
        let mut touches = step.touches.clone();
        if let Some(t) = step.declared.and_then(declared_touch) {
            touches.push(t);
        }
        touches.sort_by_key(|t| (t.object, !t.write));
        touches.dedup_by_key(|t| t.object);
        Footprint {
            declared: step.declared,
            touches,
            drivers: step.drivers,
        }
    }

    /// Unknown: dependent on everything.
    pub fn unknown() -> Self {
        Footprint::default()
    }
}

/// True when the two steps may not be swapped.
pub fn dependent(a: &Footprint, b: &Footprint) -> bool {
    let (Some(da), Some(db)) = (a.declared, b.declared) else {
        return true;
    };
    if a.drivers & b.drivers != 0 {
        // Both ran the same driver's code, whose state we do not see.
        return true;
    }
    let ddi = |op| match op {
        Op::Enter(d) | Op::Leave(d) => Some(d),
        _ => None,
    };
    if let (Some(x), Some(y)) = (ddi(da), ddi(db))
        && ddis_conflict(x, y)
    {
        return true;
    }
    touches_conflict(&a.touches, &b.touches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(op: Option<Op>, touches: &[(u64, bool)]) -> Footprint {
        Footprint::of(&StepRecord {
            thread: 0,
            declared: op,
            drivers: 0,
            touches: touches
                .iter()
                .map(|&(object, write)| Touch { object, write })
                .collect(),
        })
    }

    #[test]
    fn unknown_steps_are_dependent_and_disjoint_locks_commute() {
        assert!(dependent(&fp(None, &[]), &fp(Some(Op::Local), &[])));
        assert!(!dependent(
            &fp(Some(Op::Lock(1)), &[]),
            &fp(Some(Op::Lock(2)), &[])
        ));
        assert!(dependent(
            &fp(Some(Op::Lock(1)), &[]),
            &fp(Some(Op::Lock(1)), &[])
        ));
        assert!(!dependent(
            &fp(Some(Op::ReadLock(1)), &[]),
            &fp(Some(Op::ReadLock(1)), &[])
        ));
        assert!(dependent(
            &fp(Some(Op::Local), &[(5, true)]),
            &fp(Some(Op::Local), &[(5, false)])
        ));
    }

    #[test]
    fn ddi_classes_follow_the_synchronization_model() {
        use Ddi::*;
        assert!(ddis_conflict(StartMiracastSession, HandleKernelModeMessage));
        assert!(ddis_conflict(
            DxgkDdiMiracastIoControl,
            DxgkDdiMiracastCreateContext
        ));
        assert!(!ddis_conflict(
            HandleKernelModeMessage,
            DxgkCbMiracastSendMessageCallback
        ));
        assert_eq!(sync_class(DxgkDdiMiracastQueryCaps), SyncClass::Level3);
    }
}
