//! Driver configuration and bug knobs of the reference drivers.
//!
//! [`KmdConfig`] and [`UmdConfig`] describe a *correct* driver's choices (does it support
//! Miracast, which target is the Miracast one, its caps, ...). [`Knobs`] are deliberate faults:
//! each breaks the rule(s) named in its doc and changes an observable behaviour, so that every
//! checkable rule has a scenario that breaks it. All three deserialize from a scenario's
//! `"kmd"`, `"umd"` and `"knobs"` objects; unknown fields are errors, missing fields take the
//! defaults (all knobs off).

use crate::rules::RuleId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Configuration of the reference display miniport.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct KmdConfig {
    /// The KMD implements the Miracast interface; without it `DxgkDdiQueryInterface` answers
    /// `STATUS_NOT_SUPPORTED` and no Miracast target exists (R1).
    pub miracast_supported: bool,
    /// VidPN target id (= ChildUid) of the Miracast target.
    pub miracast_target_id: u32,
    /// Number of ordinary (wired, never connected) targets besides the Miracast one.
    pub other_targets: u32,
    /// `DXGK_MIRACAST_CAPS.MaxChunkPrivateDriverDataSize`.
    pub max_chunk_private_driver_data_size: u32,
    /// `DXGK_MIRACAST_CAPS.Flags.HdcpSupport` (R2 wants it set).
    pub hdcp_support: bool,
    /// The encoder is busy: `DxgkDdiMiracastCreateContext` answers `STATUS_RESOURCE_IN_USE`
    /// (R17). A scenario can also flip it at run time.
    pub hardware_busy: bool,
    /// Pool bytes allocated per GPU context (`DxgkDdiCreateContext`, R71).
    pub bytes_per_gpu_context: u64,
    /// Also log every chunk with `DxgkCbReportChunkInfo` (log only, R57).
    pub report_chunk_info: bool,
}

impl Default for KmdConfig {
    fn default() -> Self {
        KmdConfig {
            miracast_supported: true,
            miracast_target_id: 4,
            other_targets: 2,
            max_chunk_private_driver_data_size: 64,
            hdcp_support: true,
            hardware_busy: false,
            bytes_per_gpu_context: 64 * 1024,
            report_chunk_info: false,
        }
    }
}

/// Configuration of the reference Miracast UMD.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct UmdConfig {
    /// Bit rate (bit/s) a 1024x768 stream needs; `StartMiracastSession` fails with
    /// `STATUS_DEVICE_INSUFFICIENT_RESOURCES` below it when a monitor is present (R39). `None`
    /// uses the Wi-Fi Display module's rule (G8).
    pub min_bitrate_1024x768: Option<u64>,
    /// Register for data-rate notifications on the Start thread (R49).
    pub register_data_rate_notifications: bool,
    /// Initial `GetNextChunkData` buffer size in bytes; grown on `STATUS_BUFFER_TOO_SMALL`.
    pub chunk_buffer_size: u32,
    /// Virtual milliseconds the session thread waits for RTSP input before it checks for a
    /// stop request again (bounds how long `StopMiracastSession` waits for it).
    pub rtsp_poll_ms: u64,
    /// The streaming thread passes its stop event to `GetNextChunkData` as an extra wait event
    /// (the default); without it the thread polls with the timeout and checks for a stop
    /// request between calls.
    pub chunk_wait_on_stop_event: bool,
}

impl Default for UmdConfig {
    fn default() -> Self {
        UmdConfig {
            min_bitrate_1024x768: None,
            register_data_rate_notifications: false,
            chunk_buffer_size: 4096,
            rtsp_poll_ms: 10,
            chunk_wait_on_stop_event: true,
        }
    }
}

/// How [`Knobs::chunk_id_fault`] corrupts the chunk ids the KMD passes through (R58).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChunkIdFault {
    /// Every `ENCODE_COMPLETE` of a frame after its first repeats that first slice's id (the
    /// same type, frame and part twice in one pass, and no part-0 last slice).
    Duplicate,
    /// The frame number is not masked to 40 bits: bit 40 is set, spilling into `PartNumber`.
    Overflow,
}

/// Deliberate faults. Each field names the rule(s) it breaks and how the break shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct Knobs {
    // ---- A. Adapter bring-up and interface ----
    /// R1: `DxgkDdiQueryInterface` returns the Miracast interface with
    /// `DxgkDdiMiracastIoControl` NULL.
    pub incomplete_miracast_interface: bool,
    /// R3: the Miracast target is described as `D3DKMDT_VOT_MIRACAST` even when the OS never
    /// queried the Miracast interface.
    pub miracast_target_before_interface_query: bool,
    /// R4: the KMD reports a second `D3DKMDT_VOT_MIRACAST` target (and counts it).
    pub two_miracast_targets: bool,
    /// R5: the Miracast target is described with `HpdAwarenessPolled`.
    pub miracast_hpd_polled: bool,
    /// R6: `DxgkDdiQueryChildRelations` writes into the zero terminator entry.
    pub nonzero_child_relations_terminator: bool,
    /// R8: `DxgkDdiMiracastQueryCaps` skips the size check and reports 16 bytes written.
    pub caps_written_past_buffer: bool,
    /// R8: `DXGK_MIRACAST_CAPS.Flags.Reserved` is not zero.
    pub caps_reserved_bits: bool,

    // ---- B. Target / hot-plug ----
    /// R9: the KMD reports the monitor connected at `DxgkDdiMiracastCreateContext`, before any
    /// session started, and answers "connected" in `DxgkDdiQueryChildStatus`.
    pub monitor_before_session: bool,
    /// R12: `DxgkDdiMiracastDestroyContext` does not report departure.
    pub no_departure_at_kmd_destroy: bool,
    /// R13: `StopMiracastSession` sends `MONITOR_DEPARTED` although the sink reported none.
    pub departure_ioctl_in_stop: bool,
    /// R15: `DxgkDdiQueryDeviceDescriptor` fails although the UMD gave an EDID.
    pub edid_not_returned: bool,
    /// R11: the KMD accepts the UMD's `MONITOR_ARRIVED` IOCTL but never reports the arrival
    /// with `DxgkCbIndicateChildStatus`.
    pub monitor_arrival_ioctl_ignored: bool,
    /// R16: `DxgkDdiQueryChildStatus` answers the Miracast target with the `HotPlug`
    /// (`StatusConnection`) arm instead of the Miracast one.
    pub child_status_wrong_arm: bool,
    /// R10 (R11): the KMD reports the Miracast monitor's arrival with the `HotPlug`
    /// (`StatusConnection`) arm instead of `StatusMiracastConnection`. That is no Miracast
    /// arrival, so the UMD's `MONITOR_ARRIVED` IOCTL is never followed by one (R11).
    pub arrival_with_status_connection: bool,

    // ---- C. KMD Miracast context ----
    /// R17: `DxgkDdiMiracastCreateContext` returns a `TargetId` that is not the Miracast target.
    pub wrong_miracast_target_id: bool,
    /// R17: a busy encoder gives `STATUS_INSUFFICIENT_RESOURCES` instead of
    /// `STATUS_RESOURCE_IN_USE`.
    pub busy_wrong_status: bool,
    /// R19: after `DxgkDdiMiracastDestroyContext` freed everything, the KMD still calls
    /// `DxgkCbMiracastSendMessage` (a `PING`) with the old `MiracastHandle`.
    pub send_after_destroy: bool,
    /// R21: in a power-off `DxgkDdiCommitVidPn` the KMD first indicates the monitor's departure
    /// (`Connected = FALSE`) and then still sends its `POWER_OFF_MONITOR` message.
    pub message_after_disconnect_in_commit: bool,

    // ---- D. KMD IoControl ----
    /// R23: `DxgkDdiMiracastIoControl` sets `*BytesReturned` beyond `OutputBufferSize`.
    pub io_control_overstates_bytes_returned: bool,

    // ---- E. Kernel -> user messages ----
    /// R25 (R73): the KMD takes `STATUS_SUCCESS` as "accepted": on `STATUS_PENDING` it frees
    /// the buffers and sends the message again.
    pub send_pending_treated_as_failure: bool,
    /// R26: the KMD frees the message buffers when `DxgkCbMiracastSendMessage` returns, before
    /// its completion routine ran.
    pub message_buffer_released_early: bool,
    /// R27: the pending-message record is written after `DxgkCbMiracastSendMessage` returns,
    /// without the lock, and read by the completion routine (a race; a completion that ran
    /// first finds nothing and the record leaks).
    pub pending_state_recorded_after_send: bool,
    /// R30: `HandleKernelModeMessage` updates the UMD's state without its lock (a race when two
    /// deliveries overlap).
    pub kernel_message_unlocked: bool,
    /// R31: a power-off commit sends no message to the UMD.
    pub no_power_off_message: bool,
    /// R32: the UMD's session thread sends one more keep-alive on the network after
    /// `StopMiracastSession` was called.
    pub network_send_after_stop: bool,

    // ---- F. UMD loading and interface ----
    /// R33: the DLL has no `QueryMiracastDriverInterface` export.
    pub no_query_interface_export: bool,
    /// R34: `MIRACAST_DRIVER_INTERFACE.HandleKernelModeMessage` is NULL.
    pub null_handle_kmd_message_entry: bool,
    /// R36: a UMD thread calls `ReportStatistic` after `DestroyMiracastContext` returned.
    pub callbacks_after_destroy: bool,

    // ---- G. UMD serialization ----
    /// R37 (relied on too far): Start and Stop touch the session state without the lock, as if
    /// the OS's serialization of the four context functions also covered the UMD's own threads
    /// and `HandleKernelModeMessage` (a race).
    pub start_stop_state_unlocked: bool,

    // ---- H. StartMiracastSession ----
    /// R39: Start succeeds although the bit rate cannot carry 1024x768.
    pub insufficient_bitrate_ignored: bool,
    /// R39: Start fails with `STATUS_INSUFFICIENT_RESOURCES` instead of
    /// `STATUS_DEVICE_INSUFFICIENT_RESOURCES`.
    pub insufficient_bitrate_generic_status: bool,
    /// R40: `MIRACAST_SESSION_INFO.Reserved` is not zero.
    pub session_info_reserved_bits: bool,
    /// R40: `MonitorConnected` is the opposite of what the sink reported.
    pub session_info_wrong_monitor_connected: bool,
    /// R41: the UMD closes the OS's RTSP socket in Stop.
    pub close_rtsp_socket: bool,
    /// R43: the UMD sends `MONITOR_ARRIVED` from inside Start instead of after it returned.
    pub monitor_arrival_inside_start: bool,

    // ---- I. Stop and destroy ----
    /// R45 (R20): `StopMiracastSession` sleeps 5 s of virtual time before returning.
    pub slow_stop: bool,
    /// R46: `DestroyMiracastContext` leaves a UMD thread running after it returns.
    pub destroy_leaves_thread_alive: bool,
    /// R46: `DestroyMiracastContext` takes 4 s of virtual time (over its 3 s budget).
    pub slow_destroy: bool,

    // ---- J. UMD -> OS callbacks ----
    /// R49: `RegisterForDataRateNotifications` is called from the UMD's session thread instead
    /// of the Start thread (needs `register_data_rate_notifications`).
    pub register_data_rate_off_thread: bool,

    // ---- K. Encode chunks ----
    /// R51: chunk interrupts name an ordinary target as `VidPnTargetId`.
    pub chunk_interrupt_wrong_target: bool,
    /// R52: the KMD passes all the hardware's private bytes, beyond
    /// `MaxChunkPrivateDriverDataSize`.
    pub chunk_private_data_over_caps: bool,
    /// R53: no `DxgkCbNotifyDpc` after the OS answered a chunk with `STATUS_NO_MEMORY`.
    pub no_notify_dpc_on_overflow: bool,
    /// R53: the UMD asks for no new I-frame after `STATUS_CONNECTION_RESET`.
    pub no_iframe_after_connection_reset: bool,
    /// R55: the UMD runs two streaming threads that both call `GetNextChunkData`, so the calls
    /// overlap.
    pub two_chunk_readers: bool,
    /// R57: `DxgkCbReportChunkInfo` gets private driver data (needs `report_chunk_info`, or
    /// turns it on).
    pub report_chunk_info_private_data: bool,
    /// R58: chunk ids are corrupted before they reach the OS.
    pub chunk_id_fault: Option<ChunkIdFault>,
    /// R59: the KMD reports `ENCODE_COMPLETE` chunks with `EncodeRate` 0.
    pub encode_rate_zero: bool,
    /// R61: the UMD reports the reserved `SINK_FAILED_PREFERRED_MODE_CHANGE` protocol event
    /// when it settles the mode.
    pub reserved_protocol_event: bool,

    // ---- L. Modes ----
    /// R62: the UMD picks the sink's best mode regardless of the bit rate and never sets
    /// `ReducedModeListDueToBandwidth`.
    pub mode_ignores_bandwidth: bool,

    // ---- M. DisplayConfig view ----
    /// R66 (R10): the KMD reports `D3DKMDT_VOT_MIRACAST` as the monitor type whatever connector
    /// the sink announced.
    pub monitor_type_always_miracast: bool,

    // ---- N. Synchronization, IRQL ----
    /// R69: the KMD calls `DxgkCbMiracastSendMessage` from its interrupt routine (a `PING` per
    /// chunk), not at PASSIVE_LEVEL.
    pub send_message_from_isr: bool,

    // ---- O. GPU contexts ----
    /// R71: `DxgkDdiCreateContext` refuses more than this many live GPU contexts with
    /// `STATUS_INSUFFICIENT_RESOURCES` although memory is available.
    pub gpu_context_cap: Option<u32>,
    /// R72: `DxgkDdiDestroyContext` returns success but frees neither the pool nor the record.
    pub gpu_context_leaked_on_destroy: bool,
}

/// Which driver a knob lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KnobDriver {
    /// The display miniport.
    Kmd,
    /// The Miracast UMD.
    Umd,
}

/// A knob's name, the rules it breaks, and the driver it lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KnobInfo {
    /// The JSON field name.
    pub name: &'static str,
    /// The rules it breaks: exactly these, on the knob's scenario.
    pub rules: &'static [RuleId],
    /// Where the fault is.
    pub driver: KnobDriver,
}

macro_rules! catalogue {
    ($( $name:ident => [$($rule:ident),+], $driver:ident; )+) => {
        /// Every knob with its rules, in declaration order.
        pub const KNOB_CATALOGUE: &[KnobInfo] = &[
            $( KnobInfo { name: stringify!($name), rules: &[$(RuleId::$rule),+], driver: KnobDriver::$driver } ),+
        ];

        impl Knobs {
            /// Names of the knobs that are on, in declaration order.
            pub fn enabled(&self) -> Vec<&'static str> {
                let mut on = Vec::new();
                $( if knob_is_on(&self.$name) { on.push(stringify!($name)); } )+
                on
            }
        }
    };
}

fn knob_is_on<T: KnobValue>(value: &T) -> bool {
    value.is_on()
}

trait KnobValue {
    fn is_on(&self) -> bool;
}

impl KnobValue for bool {
    fn is_on(&self) -> bool {
        *self
    }
}

impl<T> KnobValue for Option<T> {
    fn is_on(&self) -> bool {
        self.is_some()
    }
}

catalogue! {
    incomplete_miracast_interface => [R1], Kmd;
    miracast_target_before_interface_query => [R3], Kmd;
    two_miracast_targets => [R4], Kmd;
    miracast_hpd_polled => [R5], Kmd;
    nonzero_child_relations_terminator => [R6], Kmd;
    caps_written_past_buffer => [R8], Kmd;
    caps_reserved_bits => [R8], Kmd;
    monitor_before_session => [R9], Kmd;
    no_departure_at_kmd_destroy => [R12], Kmd;
    departure_ioctl_in_stop => [R13], Umd;
    edid_not_returned => [R15], Kmd;
    monitor_arrival_ioctl_ignored => [R11], Kmd;
    child_status_wrong_arm => [R16], Kmd;
    arrival_with_status_connection => [R10, R11], Kmd;
    wrong_miracast_target_id => [R17], Kmd;
    busy_wrong_status => [R17], Kmd;
    send_after_destroy => [R19], Kmd;
    message_after_disconnect_in_commit => [R21], Kmd;
    io_control_overstates_bytes_returned => [R23], Kmd;
    send_pending_treated_as_failure => [R26, R73], Kmd;
    message_buffer_released_early => [R26], Kmd;
    pending_state_recorded_after_send => [R27], Kmd;
    kernel_message_unlocked => [R30], Umd;
    no_power_off_message => [R31], Kmd;
    network_send_after_stop => [R32], Umd;
    no_query_interface_export => [R33], Umd;
    null_handle_kmd_message_entry => [R34], Umd;
    callbacks_after_destroy => [R36], Umd;
    start_stop_state_unlocked => [R30], Umd;
    insufficient_bitrate_ignored => [R39], Umd;
    insufficient_bitrate_generic_status => [R39], Umd;
    session_info_reserved_bits => [R40], Umd;
    session_info_wrong_monitor_connected => [R40], Umd;
    close_rtsp_socket => [R41], Umd;
    monitor_arrival_inside_start => [R43], Umd;
    slow_stop => [R45], Umd;
    destroy_leaves_thread_alive => [R46], Umd;
    slow_destroy => [R46], Umd;
    register_data_rate_off_thread => [R49], Umd;
    chunk_interrupt_wrong_target => [R51], Kmd;
    chunk_private_data_over_caps => [R52], Kmd;
    no_notify_dpc_on_overflow => [R53], Kmd;
    no_iframe_after_connection_reset => [R53], Umd;
    two_chunk_readers => [R55], Umd;
    report_chunk_info_private_data => [R57], Kmd;
    chunk_id_fault => [R58], Kmd;
    encode_rate_zero => [R59], Kmd;
    reserved_protocol_event => [R61], Umd;
    mode_ignores_bandwidth => [R62], Umd;
    monitor_type_always_miracast => [R10], Kmd;
    send_message_from_isr => [R69], Kmd;
    gpu_context_cap => [R71], Kmd;
    gpu_context_leaked_on_destroy => [R72], Kmd;
}

impl Knobs {
    /// Catalogue entry of a knob by its JSON name.
    pub fn info(name: &str) -> Option<&'static KnobInfo> {
        KNOB_CATALOGUE.iter().find(|k| k.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_lists_every_field_once() {
        let json = serde_json::to_value(Knobs::default()).unwrap();
        let fields: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(fields.len(), KNOB_CATALOGUE.len());
        for f in fields {
            assert!(
                Knobs::info(f).is_some(),
                "knob {f} missing from the catalogue"
            );
        }
    }

    #[test]
    fn scenario_json_shapes() {
        let knobs: Knobs =
            serde_json::from_str(r#"{"slow_stop": true, "chunk_id_fault": "duplicate"}"#).unwrap();
        assert_eq!(knobs.enabled(), ["slow_stop", "chunk_id_fault"]);
        assert!(serde_json::from_str::<Knobs>(r#"{"slow_stpo": true}"#).is_err());
        let kmd: KmdConfig = serde_json::from_str(r#"{"miracast_target_id": 7}"#).unwrap();
        assert_eq!(kmd.miracast_target_id, 7);
        assert_eq!(kmd.other_targets, KmdConfig::default().other_targets);
        assert!(serde_json::from_str::<UmdConfig>(r#"{"bogus": 1}"#).is_err());
        assert!(Knobs::default().enabled().is_empty());
    }

    #[test]
    fn every_group_with_a_checked_rule_has_a_knob() {
        use crate::rules::{CATALOGUE, RuleGroup};
        for rule in CATALOGUE.iter().filter(|r| r.check.is_checked()) {
            let group = rule.group;
            // G's rules (R37, R38) are guarantees of the OS, not duties of a driver: the
            // OS-model knobs break them.
            if group == RuleGroup::G {
                continue;
            }
            assert!(
                KNOB_CATALOGUE
                    .iter()
                    .flat_map(|k| k.rules)
                    .any(|r| r.rule().group == group),
                "no knob for group {group} ({})",
                group.title()
            );
        }
    }
}
