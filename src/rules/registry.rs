//! The check registry: every check the simulator runs, the rules it can report, where it runs
//! and on which backends it can see what it judges.
//!
//! A [`Violation`](super::Violation) carries the [`CheckId`] that found it, and a check may
//! report only the rules its entry lists (debug builds assert it; the registry tests prove it
//! over the whole shipped corpus). The catalogue's "checked" marks are tied to this table by
//! tests: a rule marked checked has a check here that reports it on a shipped scenario, and a
//! check here reports only rules the catalogue marks checked.
//!
//! Map:
//! - [`CheckId`]: one variant per check.
//! - [`CHECKS`]: the table ([`check`] looks one up); [`checks_for`] the checks of a rule.
//! - [`Place`]: online (the OS model, at the call), trace (after the run), race detector.
//! - [`Reach`]: whether a driver binary shows the check what it needs.

use super::RuleId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a check runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// In the OS model, at the call where it sees the behaviour.
    Online,
    /// Over the finished trace.
    Trace,
    /// The scheduler's race detector over driver state.
    Race,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Online => "online",
            Place::Trace => "trace",
            Place::Race => "race",
        })
    }
}

/// Whether a check can judge a driver binary loaded through the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reach", content = "why")]
pub enum Reach {
    /// Everything it judges crosses the documented interfaces: the reference drivers and
    /// binaries alike.
    AllBackends,
    /// It judges a binary only when the UMD's private `MiracastIoControl` payloads are
    /// described (today: the reference drivers' private protocol, which the C fixtures share).
    NeedsIoctlProfile,
    /// Binaries show it what it needs on Linux only (the reference drivers everywhere); why.
    LinuxBinaries(&'static str),
    /// Only the reference models (and Rust drivers) show it what it needs; the reason.
    ModelOnly(&'static str),
}

impl Reach {
    /// `all`, `profile`, `linux`, or `model`.
    pub fn label(self) -> &'static str {
        match self {
            Reach::AllBackends => "all",
            Reach::NeedsIoctlProfile => "profile",
            Reach::LinuxBinaries(_) => "linux",
            Reach::ModelOnly(_) => "model",
        }
    }
}

macro_rules! checks {
    ($( $(#[$doc:meta])* $id:ident : $place:ident, $reach:expr, [$($rule:ident),+], $name:literal; )+) => {
        /// One check of the simulator.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum CheckId {
            $( $(#[$doc])* $id, )+
        }

        /// Every check, in [`CheckId`] order.
        pub static CHECKS: &[CheckDef] = &[
            $( CheckDef {
                id: CheckId::$id,
                name: $name,
                place: Place::$place,
                reach: $reach,
                rules: &[$(RuleId::$rule),+],
            }, )+
        ];
    };
}

/// One entry of the registry.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CheckDef {
    /// Which check.
    pub id: CheckId,
    /// The function that implements it (`os::bring_up_adapter`), for readers of `explain`.
    pub name: &'static str,
    /// Where it runs.
    pub place: Place,
    /// Whether a binary shows it what it judges.
    pub reach: Reach,
    /// The rules it can report.
    pub rules: &'static [RuleId],
}

const NO_MEMORY_VIEW: Reach = Reach::ModelOnly(
    "it sees state a Rust driver keeps in Tracked cells; a C driver built with -fsanitize=thread is checked by KernelRace (KMD memory) and UmdRace (UMD memory)",
);

checks! {
    /// The Miracast `DxgkDdiQueryInterface` answer is complete or a refusal.
    InterfaceQuery: Online, Reach::AllBackends, [R1], "os::bring_up_adapter (interface)";
    /// `DXGK_MIRACAST_CAPS`: written within size, Reserved zero, HDCP.
    CapsAnswer: Online, Reach::AllBackends, [R2, R8], "os::bring_up_adapter (caps)";
    /// The child relations: Miracast target count, type, HPD awareness, terminator.
    ChildRelations: Online, Reach::AllBackends, [R3, R4, R5, R6], "os::bring_up_adapter (children)";
    /// `DxgkDdiQueryChildStatus` answers match the last indication.
    ChildStatusAnswer: Online, Reach::AllBackends, [R16], "os::query_child_status";
    /// `DxgkCbIndicateChildStatus`: arm, monitor type, IRQL.
    ChildStatusIndication: Online, Reach::AllBackends, [R10, R69], "os::KmdServices::indicate_child_status";
    /// `DxgkDdiMiracastCreateContext`: TargetId, and exactly STATUS_RESOURCE_IN_USE when busy.
    MiracastCreateContext: Online, Reach::AllBackends, [R17], "os::kmd_create_context";
    /// `DxgkDdiMiracastDestroyContext` leaves the target disconnected.
    MiracastDestroyContext: Online, Reach::AllBackends, [R12], "os::kmd_destroy_context";
    /// Plug and Play's EDID read after an arrival the UMD described.
    EdidRead: Online, Reach::NeedsIoctlProfile, [R15], "os::spawn_edid_read";
    /// `DxgkCbMiracastSendMessage`: live handle, IRQL.
    MessageSend: Online, Reach::AllBackends, [R19, R69], "os::accept_message";
    /// Message buffers still owned by the KMD when the OS touches them.
    MessageBuffers: Online, Reach::LinuxBinaries("a binary's buffers are compared through process_vm_readv, which only Linux has; elsewhere a KMD binary's early release is not seen"), [R26], "os::touch_buffers";
    /// `*BytesReturned` within the output buffer (IOCTL and `HandleKernelModeMessage`).
    BytesReturned: Online, Reach::AllBackends, [R23], "os::kmd_io_control, os::deliver";
    /// `DxgkCbReportChunkInfo`: live handle, reserved private data.
    ReportChunkInfo: Online, Reach::AllBackends, [R19, R57], "os::MiracastCallbacks::report_chunk_info";
    /// `DxgkCbNotifyInterrupt` for chunks: target, private data size, IRQL.
    ChunkInterrupt: Online, Reach::AllBackends, [R51, R52], "os::queue_chunk";
    /// A chunk-queue overflow is followed by `DxgkCbNotifyDpc`; the DPC request from the ISR.
    ChunkOverflowDpc: Online, Reach::AllBackends, [R53, R69], "os::raise_chunk_interrupt, os::KmdServices::notify_dpc";
    /// Chunk identities and stage reports: numbering, EncodeRate, ProcessingTime, drops.
    ChunkStream: Online, Reach::AllBackends, [R58, R59], "os::check_chunk_identity";
    /// `QueryMiracastDriverInterface`: exported, complete.
    UmdLoad: Online, Reach::AllBackends, [R33, R34], "os::umd_load";
    /// What `StartMiracastSession` returned: bit-rate refusal, session info.
    StartResult: Online, Reach::AllBackends, [R39, R40], "os::check_start_result";
    /// `StopMiracastSession` within the stop budget.
    StopBudget: Online, Reach::AllBackends, [R45], "os::stop_session";
    /// `DestroyMiracastContext` within its budget, leaving no thread behind.
    DestroyBudget: Online, Reach::AllBackends, [R46], "os::umd_destroy_context";
    /// `MIRACAST_CALLBACKS` used only during the context's life, with its handle.
    UmdCallbackLifetime: Online, Reach::AllBackends, [R36], "os::check_umd_callback";
    /// `ReportStatistic` with the reserved protocol event.
    StatisticEvent: Online, Reach::AllBackends, [R61], "os::UmdServices::report_statistic";
    /// `RegisterForDataRateNotifications` only from Start or Stop.
    DataRateRegistration: Online, Reach::AllBackends, [R49], "os::UmdServices::register_for_data_rate_notifications";
    /// The OS-owned RTSP socket is never closed by the UMD.
    RtspSocketOwnership: Online, Reach::AllBackends, [R41], "os::link::SimRtspLink::close";
    /// A driver calling the OS back after the run's OS (and every context) is gone.
    LateCallback: Online, Reach::AllBackends, [R19, R36], "os::KmdServices::os, os::UmdServices::os";
    /// `DxgkDdiCreateContext` refuses only when memory is exhausted (a binary allocates through
    /// the kernel routines of `include/wdm.h`, whose pool is the OS model's).
    GpuContextCreate: Online, Reach::AllBackends, [R71], "os::create_gpu_contexts";
    /// `DxgkDdiDestroyContext` frees what the context allocated.
    GpuContextDestroy: Online, Reach::AllBackends, [R72], "os::destroy_gpu_contexts";

    /// A second `DxgkDdiMiracastQueryCaps` without a new start.
    QueryCapsOnce: Trace, Reach::AllBackends, [R7], "trace_checks::query_caps_once";
    /// No monitor reported before Start returned STATUS_SUCCESS.
    TargetDisconnectedUntilStarted: Trace, Reach::AllBackends, [R9], "trace_checks::target_disconnected_until_started";
    /// No `DxgkDdiMiracastIoControl` after the KMD context is gone.
    IoControlAfterDestroy: Trace, Reach::AllBackends, [R18, R20], "trace_checks::no_io_control_after_destroy";
    /// Commits: no data after a disconnect (R21), a message on power-off (R31).
    CommitVidPnMessages: Trace, Reach::AllBackends, [R21, R31], "trace_checks::commit_vidpn_messages";
    /// Level-3 calls run alone.
    Level3Alone: Trace, Reach::AllBackends, [R24, R68], "trace_checks::level3_alone";
    /// Messages held during start, dropped with an error after stop.
    MessageHoldingAndDropping: Trace, Reach::AllBackends, [R28, R29], "trace_checks::message_holding_and_dropping";
    /// No UMD network send after Stop returned.
    NoSendAfterStop: Trace, Reach::AllBackends, [R32], "trace_checks::no_send_after_stop";
    /// The four serialized UMD functions never overlap.
    UmdSerialization: Trace, Reach::AllBackends, [R37], "trace_checks::umd_serialization";
    /// Create, Start, Stop, Destroy in order.
    UmdCallOrder: Trace, Reach::AllBackends, [R38], "trace_checks::umd_call_order";
    /// `MiracastIoControl` during start: other threads' IOCTLs wait until Start returns.
    IoControlDuringStart: Trace, Reach::AllBackends, [R42], "trace_checks::io_control_during_start";
    /// A monitor-arrival request made from inside `StartMiracastSession` (which IOCTL means
    /// "arrived" is the driver's private code: the profile says).
    ArrivalAfterStart: Trace, Reach::NeedsIoctlProfile, [R43], "trace_checks::monitor_arrival_inside_start";
    /// `MiracastIoControl` from other threads fails during stop.
    IoControlDuringStop: Trace, Reach::AllBackends, [R44], "trace_checks::io_control_during_stop";
    /// `ReportSessionStatus` leads to the teardown.
    SessionStatusTeardown: Trace, Reach::AllBackends, [R47], "trace_checks::session_status_teardown";
    /// `ReportStatistic` changes no OS state.
    StatisticOnlyLogs: Trace, Reach::AllBackends, [R48], "trace_checks::statistic_only_logs";
    /// Data-rate notifications about once a second, NULL last, none after unregistering.
    DataRateNotifications: Trace, Reach::AllBackends, [R50], "trace_checks::datarate_notifications";
    /// One `GetNextChunkData` at a time.
    ChunkReaderAlone: Trace, Reach::AllBackends, [R55], "trace_checks::chunk_reader_alone";
    /// Miracast-class KMD calls never overlap.
    MiracastClassAlone: Trace, Reach::AllBackends, [R67], "trace_checks::miracast_class_alone";
    /// One Miracast context at a time.
    OneMiracastContext: Trace, Reach::AllBackends, [R22], "trace_checks::one_miracast_context";
    /// An accepted message is exactly STATUS_PENDING, and the KMD reads it so.
    SendMessagePending: Trace, Reach::AllBackends, [R25, R73], "trace_checks::send_message_pending";
    /// `GetNextChunkData` outcomes are exact.
    ChunkDataOutcomes: Trace, Reach::AllBackends, [R54], "trace_checks::chunk_data_outcomes";
    /// Pageable DDIs run at PASSIVE_LEVEL.
    PageableAtPassive: Trace, Reach::AllBackends, [R70], "trace_checks::pageable_at_passive";
    /// A monitor-arrived IOCTL leads to an arrival.
    ArrivalReported: Trace, Reach::NeedsIoctlProfile, [R11], "trace_checks::arrival_reported";
    /// No departure request from Stop unless the sink reported the monitor gone.
    NoDepartureInStop: Trace, Reach::NeedsIoctlProfile, [R13], "trace_checks::no_departure_in_stop";
    /// Stage reports of the chunk stream in order, with CHUNK_SENT before the first send.
    ChunkStageOrder: Trace, Reach::AllBackends, [R59], "trace_checks::chunk_stage_order";
    /// After STATUS_CONNECTION_RESET the UMD asks for a new I-frame before reading on.
    IframeAfterReset: Trace, Reach::NeedsIoctlProfile, [R53], "trace_checks::iframe_after_reset";
    /// The mode chosen in M4 fits the bit rate the OS suggested.
    ModeWithinBandwidth: Trace, Reach::AllBackends, [R62], "trace_checks::mode_within_bandwidth";

    /// Unsynchronized accesses to driver state.
    DataRace: Race, NO_MEMORY_VIEW, [R27, R30], "rules::race_violation";

    /// A driver binary's kernel routines (`include/wdm.h`) at an IRQL they do not allow: waits at
    /// DISPATCH_LEVEL and above, paged pool above APC_LEVEL (R70), OS callbacks above their
    /// level, a DDI, DPC or work item left at another IRQL than it ran at.
    KernelIrql: Online, Reach::AllBackends, [R69, R70], "backend::real::kernel (IRQL)";
    /// Pool a driver binary allocated in the Miracast context's DDIs and still holds when
    /// `DxgkDdiMiracastDestroyContext` returns.
    KernelPool: Online, Reach::AllBackends, [R12, R72], "backend::real::kernel (pool)";
    /// Unsynchronized accesses to a C KMD's memory, seen through its ThreadSanitizer
    /// instrumentation (`include/miracast_sim_kernel.h`) under the scheduler's happens-before.
    KernelRace: Race, Reach::AllBackends, [R27], "backend::real::kernel::check_accesses";
    /// Unsynchronized accesses to a C UMD's memory (the heap blocks it allocated, its static
    /// data), seen through its ThreadSanitizer instrumentation (`include/miracast_sim_race.h`)
    /// under the scheduler's happens-before, the UMD's pthread mutexes included.
    UmdRace: Race, Reach::AllBackends, [R30], "backend::real::kernel::check_accesses (UMD memory)";
}

/// The entry of `id`.
pub fn check(id: CheckId) -> &'static CheckDef {
    // CHECKS is generated in CheckId order, one entry per variant.
    &CHECKS[id as usize]
}

/// The checks that can report `rule`.
pub fn checks_for(rule: RuleId) -> impl Iterator<Item = &'static CheckDef> {
    CHECKS.iter().filter(move |c| c.rules.contains(&rule))
}

impl CheckId {
    /// The registry entry.
    pub fn def(self) -> &'static CheckDef {
        check(self)
    }

    /// True when this check may report `rule`.
    pub fn may_report(self, rule: RuleId) -> bool {
        check(self).rules.contains(&rule)
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_id_order() {
        for (i, c) in CHECKS.iter().enumerate() {
            assert_eq!(c.id as usize, i, "{:?}", c.id);
            assert_eq!(check(c.id).id, c.id);
        }
    }
}
