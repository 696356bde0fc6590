//! OS-model fault knobs: deliberate departures of the simulated OS from what dxgkrnl and the
//! Miracast user-mode host guarantee.
//!
//! The OS model keeps every OS-owned rule (ddi-facts 3.0 and 3.1) unless a knob here is on.
//! Each knob breaks exactly the rule its doc names, in the way the doc says, so that the trace
//! checks of [`crate::rules::trace_checks`] can be shown to catch an OS that misbehaves
//! (culprit "OS model"); `scenarios/self-test/os-model/` has one scenario per knob. All knobs are off by
//! default and a knob that is off changes nothing. A scenario turns one on with
//! `"setup": { "os": { "knobs": { "deliver_held_messages_early": true } } }`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Faults of the simulated OS. Each field names the rule it breaks and what the OS then does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct OsKnobs {
    /// R22: asked to create a Miracast context while one exists, the OS calls
    /// `DxgkDdiMiracastCreateContext` again instead of refusing; whatever the KMD answers, the
    /// OS keeps the context it had.
    pub create_context_twice: bool,
    /// R7: at adapter bring-up the OS calls `DxgkDdiMiracastQueryCaps` twice in a row (with no
    /// `DxgkDdiStartDevice` between) instead of once; it keeps the first answer.
    pub query_caps_twice: bool,
    /// R18: once `DxgkDdiMiracastDestroyContext` has run, a UMD `MiracastIoControl` is still
    /// passed to `DxgkDdiMiracastIoControl`, with the destroyed context, instead of failing
    /// with `STATUS_INVALID_DEVICE_STATE` in the OS.
    pub ioctl_after_kmd_destroy: bool,
    /// R20: after a `StopMiracastSession` overran the stop budget and the OS destroyed the KMD
    /// context early, the UMD's `MiracastIoControl` calls are not blocked: they reach
    /// `DxgkDdiMiracastIoControl` with the destroyed context.
    pub ioctl_passes_after_stop_overrun: bool,
    /// R24 and R68: Level-3 calls (`DxgkDdiStartDevice`, `DxgkDdiMiracastQueryCaps`,
    /// `DxgkDdiQueryChildRelations`, `DxgkDdiMiracastIoControl` with HardwareAccess TRUE)
    /// take the adapter lock shared instead of exclusively, so other KMD calls may run
    /// alongside them.
    pub level3_not_exclusive: bool,
    /// R28: a message the KMD sends while `StartMiracastSession` runs is not held: the OS
    /// delivers it to `HandleKernelModeMessage` at once, without waiting for the UMD lock
    /// that Start holds.
    pub deliver_held_messages_early: bool,
    /// R28: `HandleKernelModeMessage` is delivered without taking the UMD lock, so it can run
    /// while `CreateMiracastContext`, `DestroyMiracastContext`, `StartMiracastSession` or
    /// `StopMiracastSession` runs.
    pub no_umd_lock_for_kernel_messages: bool,
    /// R25: `DxgkCbMiracastSendMessage` answers an accepted message with `STATUS_SUCCESS`
    /// instead of `STATUS_PENDING`; what happens to the message (hold, delivery, drop) is
    /// unchanged.
    pub send_returns_success: bool,
    /// R54: `GetNextChunkData` reports a timeout as `STATUS_SUCCESS` with size 0 (visible when
    /// the caller passed no extra wait event, so it cannot be `STATUS_WAIT_0`).
    pub empty_chunk_success: bool,
    /// R29: a message sent once `StopMiracastSession` has been called is delivered to
    /// `HandleKernelModeMessage` (while the UMD context exists) instead of being dropped.
    pub deliver_after_stop: bool,
    /// R29: a dropped message is completed with `STATUS_SUCCESS` instead of
    /// `STATUS_CANCELLED` (the trace's `message-dropped` carries the same status).
    pub drop_with_success_status: bool,
    /// R37: `CreateMiracastContext`, `DestroyMiracastContext`, `StartMiracastSession` and
    /// `StopMiracastSession` take the UMD lock shared instead of exclusively, so they can
    /// overlap one another.
    pub umd_calls_not_serialized: bool,
    /// R38: `DestroyMiracastContext` on a started session does not stop it first: the OS calls
    /// Destroy without `StopMiracastSession` (the session phase stays `Started` and the RTSP
    /// socket open).
    pub destroy_without_stop: bool,
    /// R42: a `MiracastIoControl` from another UMD thread while `StartMiracastSession` runs is
    /// passed to the KMD at once instead of waiting until Start returns.
    pub ioctl_not_blocked_during_start: bool,
    /// R44: a `MiracastIoControl` from another UMD thread while `StopMiracastSession` runs is
    /// passed to the KMD (and succeeds) instead of failing with `STATUS_INVALID_DEVICE_STATE`.
    pub ioctl_succeeds_during_stop: bool,
    /// R47: after `ReportSessionStatus` the OS only runs `StopMiracastSession`; it never calls
    /// `DestroyMiracastContext` or `DxgkDdiMiracastDestroyContext`, so both contexts of the
    /// session the UMD declared over stay alive.
    pub teardown_stops_only: bool,
    /// R48: the OS acts on a `MIRACAST_STATISTIC_TYPE_EVENT` statistic: from inside
    /// `ReportStatistic` it re-reads the Miracast target's status with
    /// `DxgkDdiQueryChildStatus`, as if the logged event were a hot-plug notification.
    pub statistic_changes_state: bool,
    /// R50: the OS calls `pfnDataRateNotify` every this many milliseconds instead of about
    /// once a second; `None` (the default) keeps the documented period.
    pub datarate_interval_ms: Option<u64>,
    /// R50: when the UMD unregisters (NULL callback), the OS still sends one more
    /// `pfnDataRateNotify` with statistics to the old registration.
    pub datarate_after_unregister: bool,
    /// R67: `DxgkDdiMiracastCreateContext`, `DxgkDdiMiracastDestroyContext` and
    /// `DxgkDdiMiracastIoControl` (HardwareAccess FALSE) run without the Miracast-class mutex,
    /// so two of them can overlap.
    pub no_miracast_class_lock: bool,
    /// R70: while it runs `DxgkDdiInterruptRoutine` for a chunk interrupt, after the KMD's
    /// routine returns and before the interrupt routine ends, the OS calls the pageable
    /// `DxgkDdiQueryChildStatus` for the Miracast target on the same thread (at DIRQL).
    pub pageable_from_isr: bool,
}

impl OsKnobs {
    /// The knobs that are on, by name in alphabetical order (`datarate_interval_ms=500` for
    /// the one with a value).
    pub fn enabled(&self) -> Vec<String> {
        // Derived from the type itself: every field whose value differs from the default, as
        // a scenario writes it (`query_caps_twice`, `datarate_interval_ms=400`), so a new knob
        // can never be left out of the trace.
        let (Ok(serde_json::Value::Object(on)), Ok(serde_json::Value::Object(off))) = (
            serde_json::to_value(self),
            serde_json::to_value(OsKnobs::default()),
        ) else {
            return Vec::new();
        };
        on.iter()
            .filter(|(name, value)| off.get(*name) != Some(value))
            .map(|(name, value)| match value {
                serde_json::Value::Bool(true) => name.clone(),
                other => format!("{name}={other}"),
            })
            .collect()
    }
}
