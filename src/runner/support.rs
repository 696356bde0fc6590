//! What a backend cannot carry out of a scenario, said before the run: a driver binary has no
//! bug knobs and does not read the reference drivers' settings, and a scenario's test requests
//! to a binary KMD need its optional test hook. Such a scenario is reported as skipped with
//! these reasons (never run as a silent no-op); `validate --backend` lists them in advance.

use crate::backend::real::{Exports, probe_exports};
use crate::profile::DriverProfile;
use crate::scenario::{Backend, Scenario, Step, StepOp};

/// Why `backend` cannot carry out `scenario`, one sentence each; empty when it can. A library
/// that does not open gives no reason here: the run reports the backend unavailable.
pub fn cannot_run(
    scenario: &Scenario,
    backend: &Backend,
    profile: Option<&DriverProfile>,
) -> Vec<String> {
    let Backend::Real(spec) = backend else {
        return Vec::new();
    };
    match probe_exports(spec) {
        Ok(exports) => reasons(scenario, exports, profile),
        Err(_) => Vec::new(),
    }
}

/// The reasons for drivers with these exports and this profile (`run --profile`).
pub fn reasons(
    scenario: &Scenario,
    exports: Exports,
    profile: Option<&DriverProfile>,
) -> Vec<String> {
    let mut out = Vec::new();
    let relies = &scenario.relies_on;
    let umd_why = relies.umd.as_deref().filter(|_| exports.umd);
    let kmd_why = relies.kmd.as_deref().filter(|_| exports.kmd);
    match (umd_why, kmd_why) {
        (Some(u), Some(k)) if u == k => out.push(format!(
            "this self-test relies on the reference drivers beyond the documented contract: {u}"
        )),
        _ => {
            for (side, why) in [("UMD", umd_why), ("KMD", kmd_why)] {
                if let Some(why) = why {
                    out.push(format!(
                        "this self-test relies on the reference {side} beyond the documented contract: {why}"
                    ));
                }
            }
        }
    }
    let setup = &scenario.setup;
    let knobs = setup.knobs.enabled();
    if !knobs.is_empty() && (exports.umd || exports.kmd) {
        out.push(format!(
            "bug knobs of the reference drivers ({}): a driver binary has none",
            knobs.join(", ")
        ));
    }
    if exports.umd {
        let mut umd = setup.umd.clone();
        umd.min_bitrate_1024x768 = None;
        let changed = changed_fields(&umd, &crate::model::UmdConfig::default());
        if !changed.is_empty() {
            out.push(format!(
                "settings of the reference UMD ({}): a driver binary does not read them",
                changed.join(", ")
            ));
        }
    }
    if exports.kmd {
        let adapter = crate::model::KmdConfig {
            hardware_busy: false,
            ..setup.adapter.clone()
        };
        let changed = changed_fields(&adapter, &crate::model::KmdConfig::default());
        if !changed.is_empty() {
            out.push(format!(
                "adapter settings of the reference KMD ({}): a driver binary does not read them",
                changed.join(", ")
            ));
        }
        if setup.adapter.hardware_busy && !exports.kmd_test_hook {
            out.push(
                "`hardware_busy` is told to a binary KMD through its optional MiracastSimKmdTestHook export (miracast_sim_kmd.h), which this KMD does not have".to_owned(),
            );
        }
    }
    steps(&scenario.steps, exports, profile, &mut out);
    out
}

fn steps(list: &[Step], exports: Exports, profile: Option<&DriverProfile>, out: &mut Vec<String>) {
    for s in list {
        // A payload given by name is written in the profile's framing; both drivers binary and
        // no profile, or a profile without that name, and it cannot be written.
        let named = match &s.op {
            StepOp::KmdSendMessage {
                named: true,
                payload,
                ..
            } => Some((payload, false)),
            StepOp::MiracastIoControl {
                named: true,
                payload,
                ..
            } => Some((payload, true)),
            _ => None,
        };
        if let Some((payload, ioctl)) = named
            && exports.umd
            && exports.kmd
        {
            match profile.map(|p| p.translate(payload, ioctl)) {
                None => out.push(format!(
                    "{} (line {}) names its payload, and without a driver profile (run --profile FILE) the simulator does not know your drivers' private format",
                    s.label(),
                    s.line
                )),
                Some(Err(name)) => out.push(format!(
                    "{} (line {}) sends {name}, which the driver profile {} gives no code",
                    s.label(),
                    s.line,
                    profile.map(DriverProfile::shown).unwrap_or_default()
                )),
                Some(Ok(_)) => {}
            }
        }
        match &s.op {
            StepOp::KmdSendMessage { .. } if exports.kmd && !exports.kmd_test_hook => out.push(format!(
                "{} (line {}) asks the KMD to send a message through its optional MiracastSimKmdTestHook export (miracast_sim_kmd.h), which this KMD does not have",
                s.label(),
                s.line
            )),
            StepOp::KmdMonitorDeparts if exports.kmd && !exports.kmd_test_hook => out.push(format!(
                "{} (line {}) tells the KMD its monitor is gone through its optional MiracastSimKmdTestHook export (miracast_sim_kmd.h), which this KMD does not have",
                s.label(),
                s.line
            )),
            StepOp::CreateGpuContexts {
                incompatible_umd: true,
                ..
            } if exports.kmd => out.push(format!(
                "{} (line {}) marks the D3D UMD incompatible the way only the reference KMD understands",
                s.label(),
                s.line
            )),
            _ => {}
        }
        if let StepOp::Parallel(branches) = &s.op {
            for b in branches {
                steps(b, exports, profile, out);
            }
        }
    }
}

/// The top-level fields where `a` differs from `b` (both serialize to JSON objects).
fn changed_fields<T: serde::Serialize>(a: &T, b: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}
