//! The rule catalogue R1..R74 (ddi-facts section 3.1): id, title, group, severity, source doc,
//! statement, and whether and how the simulator checks it.
//!
//! Map:
//! - [`CATALOGUE`]: the 74 entries in id order; [`rule`] looks one up.
//! - [`CheckKind`]: `Online` (the OS model checks it at the call), `Trace` (checked over the
//!   finished trace by [`super::trace_checks`]) or `Unchecked` with the reason.
//! - [`checked_count`], [`count`], [`table`]: what `miracast-sim rules` prints.
//!
//! Sources are written exactly as ddi-facts cites them: `ddi:` is a page of
//! MicrosoftDocs/windows-driver-docs-ddi under `wdk-ddi-src/content/`, `ddi0:` the same repo's
//! 2018 import, `con:` a page of MicrosoftDocs/windows-driver-docs under
//! `windows-driver-docs-pr/display/`.

use super::RuleId;
use serde::Serialize;
use std::fmt;

/// How serious a violation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Severity {
    /// The documented contract is broken.
    Error,
    /// A "should" of the docs, or a lint.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// The rule groups A..P of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
#[rustfmt::skip]
pub enum RuleGroup {
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P,
}

impl RuleGroup {
    /// The group's heading in ddi-facts 3.1.
    pub fn title(self) -> &'static str {
        match self {
            RuleGroup::A => "Adapter bring-up and interface",
            RuleGroup::B => "Target / hot-plug behaviour",
            RuleGroup::C => "KMD Miracast context",
            RuleGroup::D => "KMD IoControl",
            RuleGroup::E => "Kernel-to-user messages",
            RuleGroup::F => "UMD loading and interface",
            RuleGroup::G => "UMD serialization",
            RuleGroup::H => "StartMiracastSession",
            RuleGroup::I => "Stop and destroy",
            RuleGroup::J => "UMD-to-OS callbacks",
            RuleGroup::K => "Encode chunks",
            RuleGroup::L => "Modes and timing",
            RuleGroup::M => "DisplayConfig view",
            RuleGroup::N => "Synchronization, IRQL, pageability",
            RuleGroup::O => "GPU contexts",
            RuleGroup::P => "Status-code hygiene and versioning",
        }
    }
}

impl fmt::Display for RuleGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Whether and how a rule is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CheckKind {
    /// Checked by the OS model at the call where it sees the behaviour.
    Online,
    /// Checked over the finished trace.
    Trace,
    /// Checked both online and over the trace (different aspects of the rule).
    Both,
    /// Not checked; the text says why.
    Unchecked(&'static str),
}

impl CheckKind {
    /// True for `Online` and `Trace`.
    pub fn is_checked(self) -> bool {
        !matches!(self, CheckKind::Unchecked(_))
    }

    /// `online`, `trace` or `unchecked`, without the reason.
    pub fn label(self) -> &'static str {
        match self {
            CheckKind::Online => "online",
            CheckKind::Trace => "trace",
            CheckKind::Both => "both",
            CheckKind::Unchecked(_) => "unchecked",
        }
    }
}

impl fmt::Display for CheckKind {
    /// `online`, `trace`, or `unchecked: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckKind::Unchecked(why) => write!(f, "unchecked: {why}"),
            other => f.write_str(other.label()),
        }
    }
}

/// One catalogue entry.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Rule {
    /// `R1`..`R74`.
    pub id: RuleId,
    /// A short title.
    pub title: &'static str,
    /// Its group A..P.
    pub group: RuleGroup,
    /// Error or warning.
    pub severity: Severity,
    /// The doc it comes from (`ddi:` / `con:` paths as in ddi-facts).
    pub source: &'static str,
    /// The rule in one or two sentences.
    pub statement: &'static str,
    /// How it is checked.
    pub check: CheckKind,
}

// The con: pages cited most often, spelled once.
macro_rules! kmd_tasks {
    () => {
        "con:wddm-display-miniport-driver-tasks-to-support-miracast-wireless-displays.md"
    };
}
macro_rules! umd_tasks {
    () => {
        "con:miracast-user-mode-driver-tasks-to-support-miracast-wireless-displays.md"
    };
}
macro_rules! reporting {
    () => {
        "con:reporting-miracast-encode-chunks-and-statistics.md"
    };
}

impl RuleId {
    /// Rule 1 of the catalogue.
    pub const R1: RuleId = RuleId(1);
    /// Rule 2 of the catalogue.
    pub const R2: RuleId = RuleId(2);
    /// Rule 3 of the catalogue.
    pub const R3: RuleId = RuleId(3);
    /// Rule 4 of the catalogue.
    pub const R4: RuleId = RuleId(4);
    /// Rule 5 of the catalogue.
    pub const R5: RuleId = RuleId(5);
    /// Rule 6 of the catalogue.
    pub const R6: RuleId = RuleId(6);
    /// Rule 7 of the catalogue.
    pub const R7: RuleId = RuleId(7);
    /// Rule 8 of the catalogue.
    pub const R8: RuleId = RuleId(8);
    /// Rule 9 of the catalogue.
    pub const R9: RuleId = RuleId(9);
    /// Rule 10 of the catalogue.
    pub const R10: RuleId = RuleId(10);
    /// Rule 11 of the catalogue.
    pub const R11: RuleId = RuleId(11);
    /// Rule 12 of the catalogue.
    pub const R12: RuleId = RuleId(12);
    /// Rule 13 of the catalogue.
    pub const R13: RuleId = RuleId(13);
    /// Rule 14 of the catalogue.
    pub const R14: RuleId = RuleId(14);
    /// Rule 15 of the catalogue.
    pub const R15: RuleId = RuleId(15);
    /// Rule 16 of the catalogue.
    pub const R16: RuleId = RuleId(16);
    /// Rule 17 of the catalogue.
    pub const R17: RuleId = RuleId(17);
    /// Rule 18 of the catalogue.
    pub const R18: RuleId = RuleId(18);
    /// Rule 19 of the catalogue.
    pub const R19: RuleId = RuleId(19);
    /// Rule 20 of the catalogue.
    pub const R20: RuleId = RuleId(20);
    /// Rule 21 of the catalogue.
    pub const R21: RuleId = RuleId(21);
    /// Rule 22 of the catalogue.
    pub const R22: RuleId = RuleId(22);
    /// Rule 23 of the catalogue.
    pub const R23: RuleId = RuleId(23);
    /// Rule 24 of the catalogue.
    pub const R24: RuleId = RuleId(24);
    /// Rule 25 of the catalogue.
    pub const R25: RuleId = RuleId(25);
    /// Rule 26 of the catalogue.
    pub const R26: RuleId = RuleId(26);
    /// Rule 27 of the catalogue.
    pub const R27: RuleId = RuleId(27);
    /// Rule 28 of the catalogue.
    pub const R28: RuleId = RuleId(28);
    /// Rule 29 of the catalogue.
    pub const R29: RuleId = RuleId(29);
    /// Rule 30 of the catalogue.
    pub const R30: RuleId = RuleId(30);
    /// Rule 31 of the catalogue.
    pub const R31: RuleId = RuleId(31);
    /// Rule 32 of the catalogue.
    pub const R32: RuleId = RuleId(32);
    /// Rule 33 of the catalogue.
    pub const R33: RuleId = RuleId(33);
    /// Rule 34 of the catalogue.
    pub const R34: RuleId = RuleId(34);
    /// Rule 35 of the catalogue.
    pub const R35: RuleId = RuleId(35);
    /// Rule 36 of the catalogue.
    pub const R36: RuleId = RuleId(36);
    /// Rule 37 of the catalogue.
    pub const R37: RuleId = RuleId(37);
    /// Rule 38 of the catalogue.
    pub const R38: RuleId = RuleId(38);
    /// Rule 39 of the catalogue.
    pub const R39: RuleId = RuleId(39);
    /// Rule 40 of the catalogue.
    pub const R40: RuleId = RuleId(40);
    /// Rule 41 of the catalogue.
    pub const R41: RuleId = RuleId(41);
    /// Rule 42 of the catalogue.
    pub const R42: RuleId = RuleId(42);
    /// Rule 43 of the catalogue.
    pub const R43: RuleId = RuleId(43);
    /// Rule 44 of the catalogue.
    pub const R44: RuleId = RuleId(44);
    /// Rule 45 of the catalogue.
    pub const R45: RuleId = RuleId(45);
    /// Rule 46 of the catalogue.
    pub const R46: RuleId = RuleId(46);
    /// Rule 47 of the catalogue.
    pub const R47: RuleId = RuleId(47);
    /// Rule 48 of the catalogue.
    pub const R48: RuleId = RuleId(48);
    /// Rule 49 of the catalogue.
    pub const R49: RuleId = RuleId(49);
    /// Rule 50 of the catalogue.
    pub const R50: RuleId = RuleId(50);
    /// Rule 51 of the catalogue.
    pub const R51: RuleId = RuleId(51);
    /// Rule 52 of the catalogue.
    pub const R52: RuleId = RuleId(52);
    /// Rule 53 of the catalogue.
    pub const R53: RuleId = RuleId(53);
    /// Rule 54 of the catalogue.
    pub const R54: RuleId = RuleId(54);
    /// Rule 55 of the catalogue.
    pub const R55: RuleId = RuleId(55);
    /// Rule 56 of the catalogue.
    pub const R56: RuleId = RuleId(56);
    /// Rule 57 of the catalogue.
    pub const R57: RuleId = RuleId(57);
    /// Rule 58 of the catalogue.
    pub const R58: RuleId = RuleId(58);
    /// Rule 59 of the catalogue.
    pub const R59: RuleId = RuleId(59);
    /// Rule 60 of the catalogue.
    pub const R60: RuleId = RuleId(60);
    /// Rule 61 of the catalogue.
    pub const R61: RuleId = RuleId(61);
    /// Rule 62 of the catalogue.
    pub const R62: RuleId = RuleId(62);
    /// Rule 63 of the catalogue.
    pub const R63: RuleId = RuleId(63);
    /// Rule 64 of the catalogue.
    pub const R64: RuleId = RuleId(64);
    /// Rule 65 of the catalogue.
    pub const R65: RuleId = RuleId(65);
    /// Rule 66 of the catalogue.
    pub const R66: RuleId = RuleId(66);
    /// Rule 67 of the catalogue.
    pub const R67: RuleId = RuleId(67);
    /// Rule 68 of the catalogue.
    pub const R68: RuleId = RuleId(68);
    /// Rule 69 of the catalogue.
    pub const R69: RuleId = RuleId(69);
    /// Rule 70 of the catalogue.
    pub const R70: RuleId = RuleId(70);
    /// Rule 71 of the catalogue.
    pub const R71: RuleId = RuleId(71);
    /// Rule 72 of the catalogue.
    pub const R72: RuleId = RuleId(72);
    /// Rule 73 of the catalogue.
    pub const R73: RuleId = RuleId(73);
    /// Rule 74 of the catalogue.
    pub const R74: RuleId = RuleId(74);
}

/// One entry; keeps the table below to one line per field.
const fn rule_entry(
    id: u8,
    group: RuleGroup,
    severity: Severity,
    check: CheckKind,
    title: &'static str,
    source: &'static str,
    statement: &'static str,
) -> Rule {
    Rule {
        id: RuleId(id),
        title,
        group,
        severity,
        source,
        statement,
        check,
    }
}

use CheckKind::{Both, Online, Trace, Unchecked};
use RuleGroup as G;
use Severity::{Error, Warning};

/// Every rule, in id order.
pub static CATALOGUE: &[Rule] = &[
    // A. Adapter bring-up and interface
    rule_entry(
        1,
        G::A,
        Error,
        Online,
        "Miracast interface answered completely, or refused",
        concat!(
            "ddi:dispmprt/ns-dispmprt-_dxgk_miracast_interface.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_query_interface.md; ",
            kmd_tasks!()
        ),
        "A KMD with Miracast answers the Miracast DxgkDdiQueryInterface with a full DXGK_MIRACAST_DISPLAY_INTERFACE (right Size, Version 1, no NULL routine); a KMD without it returns STATUS_NOT_SUPPORTED.",
    ),
    rule_entry(
        2,
        G::A,
        Warning,
        Online,
        "Miracast KMD supports HDCP",
        "ddi:dispmprt/ns-dispmprt-_dxgk_miracast_interface.md",
        "A KMD that exposes the Miracast interface is expected to support HDCP, so DXGK_MIRACAST_CAPS.Flags.HdcpSupport should be set (the caps flag makes this a warning, G21).",
    ),
    rule_entry(
        3,
        G::A,
        Error,
        Online,
        "No Miracast target before the interface query",
        kmd_tasks!(),
        "The KMD reports a D3DKMDT_VOT_MIRACAST target only after dxgkrnl has queried the Miracast interface, and never on an OS that does not query it.",
    ),
    rule_entry(
        4,
        G::A,
        Error,
        Online,
        "At most one Miracast target per adapter",
        kmd_tasks!(),
        "A full WDDM adapter has at most one Miracast target; with two or more the OS fails the adapter start.",
    ),
    rule_entry(
        5,
        G::A,
        Error,
        Online,
        "Miracast target counted at start, interruptible HPD",
        concat!(
            kmd_tasks!(),
            "; ddi:dispmprt/nc-dispmprt-dxgkddi_start_device.md"
        ),
        "The Miracast target is counted in DxgkDdiStartDevice's NumberOfChildren and described as a TypeVideoOutput child with D3DKMDT_VOT_MIRACAST and HpdAwarenessInterruptible, so the OS never polls it.",
    ),
    rule_entry(
        6,
        G::A,
        Error,
        Online,
        "Child relations keep the zero terminator",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_query_child_relations.md",
        "DxgkDdiQueryChildRelations fills exactly NumberOfChildren descriptors and leaves the last, extra descriptor all zero.",
    ),
    rule_entry(
        7,
        G::A,
        Error,
        Trace,
        "QueryCaps once per adapter start",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_query_caps.md; con:supporting-miracast-in-windows-8-1.md",
        "The OS calls DxgkDdiMiracastQueryCaps once, when the adapter is started, and keeps the answer; a second call without a new DxgkDdiStartDevice is an OS-model fault.",
    ),
    rule_entry(
        8,
        G::A,
        Error,
        Online,
        "Caps written within size, stable, Reserved zero",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_query_caps.md; ddi:dispmprt/ns-dispmprt-_dxgk_miracast_caps.md",
        "The KMD writes no more than MiracastCapsSize bytes of DXGK_MIRACAST_CAPS, leaves Flags.Reserved zero, and does not change its caps while connected.",
    ),
    // B. Target / hot-plug behaviour
    rule_entry(
        9,
        G::B,
        Error,
        Trace,
        "Target disconnected until a session started",
        kmd_tasks!(),
        "The Miracast target reports no monitor, by DxgkCbIndicateChildStatus or in DxgkDdiQueryChildStatus, until StartMiracastSession has returned STATUS_SUCCESS for the current Miracast context.",
    ),
    rule_entry(
        10,
        G::B,
        Error,
        Online,
        "Arrival reported as StatusMiracastConnection",
        concat!(
            kmd_tasks!(),
            "; ddi:dispmprt/ns-dispmprt-_dxgk_child_status.md"
        ),
        "Monitor arrival is indicated with Type StatusMiracastConnection, the Miracast target's ChildUid, Connected TRUE and the connector type the sink reported (D3DKMDT_VOT_MIRACAST for a sink built into the display).",
    ),
    rule_entry(
        11,
        G::B,
        Error,
        Trace,
        "UMD monitor-arrived IOCTL leads to an arrival",
        concat!(kmd_tasks!(), "; ", umd_tasks!()),
        "When the UMD tells the KMD through MiracastIoControl that a monitor appeared behind the sink, the KMD indicates its arrival.",
    ),
    rule_entry(
        12,
        G::B,
        Error,
        Online,
        "KMD destroy frees all and reports departure",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_destroy_context.md",
        "DxgkDdiMiracastDestroyContext frees what DxgkDdiMiracastCreateContext allocated and at once reports the monitor's departure (Connected FALSE).",
    ),
    rule_entry(
        13,
        G::B,
        Error,
        Trace,
        "No monitor removal from Stop without a real departure",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_stop_miracast_session.md; ",
            umd_tasks!()
        ),
        "Inside StopMiracastSession the UMD asks the KMD to remove the monitor only if the sink said the monitor was physically removed.",
    ),
    rule_entry(
        14,
        G::B,
        Warning,
        Unchecked(
            "a permission, not a duty: the UMD may ask for departure in DestroyMiracastContext or leave it to DxgkDdiMiracastDestroyContext, and both are correct; the end state both must reach is R12, checked online, so a check here could only report R12's failures a second time",
        ),
        "UMD may request departure in Destroy",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_destroy_miracast_context.md",
        "In DestroyMiracastContext the UMD may ask the KMD to report the monitor's departure if it is still reported, or leave that to DxgkDdiMiracastDestroyContext.",
    ),
    rule_entry(
        15,
        G::B,
        Error,
        Online,
        "Known EDID returned by QueryDeviceDescriptor",
        kmd_tasks!(),
        "If the KMD knows the monitor's EDID, DxgkDdiQueryDeviceDescriptor returns it.",
    ),
    rule_entry(
        16,
        G::B,
        Error,
        Online,
        "QueryChildStatus answers in the Miracast form",
        concat!(
            kmd_tasks!(),
            " (\"Starting the Miracast session\"); ddi:dispmprt/ns-dispmprt-_dxgk_child_status.md"
        ),
        "DxgkDdiQueryChildStatus for the Miracast target answers with Type StatusMiracastConnection, consistent with the last indication; an unknown connector repeats the last reported type.",
    ),
    // C. KMD Miracast context
    rule_entry(
        17,
        G::C,
        Error,
        Online,
        "CreateContext: resources, RESOURCE_IN_USE, right TargetId",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_create_context.md",
        "DxgkDdiMiracastCreateContext prepares every kernel resource of a session, returns exactly STATUS_RESOURCE_IN_USE when the hardware is busy, and on success returns the TargetId of the target it reported as D3DKMDT_VOT_MIRACAST. The busy case is judged when the scenario made the encoder busy and the driver could be told (today the reference KMD: a binary has no way to be told yet).",
    ),
    rule_entry(
        18,
        G::C,
        Error,
        Trace,
        "No IoControl after the KMD context is destroyed",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_destroy_context.md",
        "Once DxgkDdiMiracastDestroyContext has run, the OS does not call DxgkDdiMiracastIoControl for that context again.",
    ),
    rule_entry(
        19,
        G::C,
        Error,
        Online,
        "MiracastHandle used only while its context lives",
        "ddi:dispmprt/ns-dispmprt-_dxgk_miracast_display_callbacks.md",
        "The KMD uses MiracastHandle, DxgkCbMiracastSendMessage and DxgkCbReportChunkInfo only between DxgkDdiMiracastCreateContext and DxgkDdiMiracastDestroyContext of that context (inferred, G16).",
    ),
    rule_entry(
        20,
        G::C,
        Error,
        Trace,
        "After an early KMD destroy, UMD IOCTLs are blocked",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_destroy_context.md",
        "When StopMiracastSession overruns, the OS destroys the KMD context while the UMD still runs and from then on no MiracastIoControl of that UMD reaches the KMD.",
    ),
    rule_entry(
        21,
        G::C,
        Error,
        Trace,
        "No data to the UMD after a disconnect during a commit",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_destroy_context.md",
        "If the Miracast device disconnects before DxgkDdiCommitVidPn has finished, the KMD sends the UMD no more data (messages or chunks) during that commit.",
    ),
    rule_entry(
        22,
        G::C,
        Error,
        Trace,
        "One Miracast context per target",
        "derived in ddi-facts 3.1 from R4 (one target per adapter) and R67 (serialized Miracast class)",
        "Only one KMD Miracast context exists for the Miracast target at a time: the OS does not create a second one before destroying the first (G24).",
    ),
    // D. KMD IoControl
    rule_entry(
        23,
        G::D,
        Error,
        Online,
        "IoControl checks sizes itself",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_handle_io_control.md",
        "DxgkDdiMiracastIoControl gets the UMD's sizes unchanged, so the KMD reads no more than InputBufferSize, writes no more than OutputBufferSize, and never sets *BytesReturned above OutputBufferSize.",
    ),
    rule_entry(
        24,
        G::D,
        Error,
        Trace,
        "HardwareAccess IoControl runs alone (Level 3)",
        "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_handle_io_control.md; ddi:netdispumdddi/nc-netdispumdddi-pfn_miracast_io_control.md",
        "A MiracastIoControl with HardwareAccess TRUE reaches the KMD as a Level-3 call: no other KMD DDI runs on any other thread while it does.",
    ),
    // E. Kernel-to-user messages
    rule_entry(
        25,
        G::E,
        Error,
        Trace,
        "SendMessage accepts with exactly STATUS_PENDING",
        "ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_send_message.md",
        "DxgkCbMiracastSendMessage returns STATUS_PENDING when it took the message and anything else when it did not; the UMD's answer arrives only through the completion routine.",
    ),
    rule_entry(
        26,
        G::E,
        Error,
        Online,
        "Message buffers live until the completion routine",
        "ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_send_message.md",
        "The buffers given to DxgkCbMiracastSendMessage stay the KMD's and must stay valid until its completion routine has run.",
    ),
    rule_entry(
        27,
        G::E,
        Error,
        Online,
        "Completion routine may run early and concurrently",
        "ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_send_message_callback.md; ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_send_message.md",
        "The completion routine may run before DxgkCbMiracastSendMessage returns and on several threads at once; the KMD's state must be race-free under both (found by the scheduler's race detector).",
    ),
    rule_entry(
        28,
        G::E,
        Error,
        Trace,
        "Messages held until Start returns; never during Create/Destroy/Start/Stop",
        concat!(
            kmd_tasks!(),
            " (\"Sending messages asynchronously...\"); ddi:netdispumdddi/nc-netdispumdddi-pfn_handle_kmd_message.md"
        ),
        "A message sent before StartMiracastSession has returned is delivered only after it returns, and HandleKernelModeMessage never runs while CreateMiracastContext, DestroyMiracastContext, StartMiracastSession or StopMiracastSession runs.",
    ),
    rule_entry(
        29,
        G::E,
        Error,
        Trace,
        "Messages after Stop are dropped with an error completion",
        concat!(
            kmd_tasks!(),
            "; ddi:netdispumdddi/nc-netdispumdddi-pfn_handle_kmd_message.md"
        ),
        "A message sent once StopMiracastSession has been called never reaches HandleKernelModeMessage; the KMD's completion routine is called with an error status.",
    ),
    rule_entry(
        30,
        G::E,
        Error,
        Online,
        "HandleKernelModeMessage may run concurrently",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_handle_kmd_message.md",
        "HandleKernelModeMessage may be entered on several threads at once, so the UMD synchronizes its own state (found by the scheduler's race detector).",
    ),
    rule_entry(
        31,
        G::E,
        Error,
        Trace,
        "Power-off commit sends a message to the UMD",
        umd_tasks!(),
        "When DxgkDdiCommitVidPn powers off the connected Miracast monitor, the KMD sends the UMD a message with DxgkCbMiracastSendMessage before the commit returns, so that the UMD puts the sink into low power.",
    ),
    rule_entry(
        32,
        G::E,
        Error,
        Trace,
        "No network sends after Stop",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_stop_miracast_session.md",
        "Once StopMiracastSession has been called the UMD sends nothing more to the sink; stream data it still receives from the KMD is discarded.",
    ),
    // F. UMD loading and interface
    rule_entry(
        33,
        G::F,
        Error,
        Online,
        "UMD exports QueryMiracastDriverInterface",
        "ddi:netdispumdddi/nc-netdispumdddi-query_miracast_driver_interface.md",
        "The UMD DLL exports QueryMiracastDriverInterface; without it the OS fails the Miracast display device and never creates a context.",
    ),
    rule_entry(
        34,
        G::F,
        Error,
        Online,
        "Driver interface filled within the OS buffer",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-query_miracast_driver_interface.md; ",
            "ddi:netdispumdddi/ns-netdispumdddi-_miracast_driver_interface.md; ",
            "con:supporting-miracast-in-windows-8-1.md"
        ),
        "Called with MIRACAST_DRIVER_INTERFACE_VERSION_1 and a buffer size, the UMD fills MIRACAST_DRIVER_INTERFACE (Size and five non-NULL routines) within that size, and fails an unknown version.",
    ),
    rule_entry(
        35,
        G::F,
        Error,
        Unchecked(
            "installation facts (INF value MiracastDriverName, a DLL separate from the Direct3D UMD, a session-0 host process, native bitness): the simulator has no INF, registry or process loader; the scenario names the UMD directly",
        ),
        "UMD is a standalone DLL named by MiracastDriverName",
        umd_tasks!(),
        "The UMD is its own DLL, named by the REG_SZ value MiracastDriverName that the INF writes, distinct from the Direct3D UMD, and loaded natively into a dedicated session-0 process.",
    ),
    rule_entry(
        36,
        G::F,
        Error,
        Online,
        "MIRACAST_CALLBACKS used only during the context",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_create_miracast_context.md",
        "The MIRACAST_CALLBACKS routines and the device handle given to CreateMiracastContext are used only while that context exists.",
    ),
    // G. UMD serialization
    rule_entry(
        37,
        G::G,
        Error,
        Trace,
        "Create/Destroy/Start/Stop never overlap",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_create_miracast_context.md; ",
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_destroy_miracast_context.md; ",
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_start_miracast_session.md; ",
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_stop_miracast_session.md"
        ),
        "The OS runs at most one of CreateMiracastContext, DestroyMiracastContext, StartMiracastSession and StopMiracastSession at a time.",
    ),
    rule_entry(
        38,
        G::G,
        Error,
        Trace,
        "Create, Start, Stop, Destroy in order",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_create_miracast_context.md; ",
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_destroy_miracast_context.md; ",
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_start_miracast_session.md; ",
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_stop_miracast_session.md"
        ),
        "For a UMD context the OS calls CreateMiracastContext before StartMiracastSession, StartMiracastSession before StopMiracastSession, and stops a started session before DestroyMiracastContext.",
    ),
    // H. StartMiracastSession
    rule_entry(
        39,
        G::H,
        Error,
        Online,
        "Start fails with DEVICE_INSUFFICIENT_RESOURCES below 1024x768",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_start_miracast_session.md; ",
            umd_tasks!()
        ),
        "StartMiracastSession runs after the RTSP link exists; if a monitor is behind the sink and the suggested bit rate cannot carry 1024x768, it returns exactly STATUS_DEVICE_INSUFFICIENT_RESOURCES.",
    ),
    rule_entry(
        40,
        G::H,
        Error,
        Online,
        "MIRACAST_SESSION_INFO truthful, Reserved zero",
        "ddi:netdispumdddi/ns-netdispumdddi-miracast_session_info.md; ddi0:netdispumdddi/nc-netdispumdddi-pfn_start_miracast_session.md",
        "The UMD sets MonitorConnected when the sink reported a monitor and ReducedModeListDueToBandwidth when it trims modes for the bit rate, and leaves Reserved zero.",
    ),
    rule_entry(
        41,
        G::H,
        Error,
        Online,
        "The UMD never closes the RTSP socket",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_start_miracast_session.md; ",
            umd_tasks!()
        ),
        "The RTSP socket passed to StartMiracastSession belongs to the OS, which closes it; the UMD closes only the sockets it opened itself.",
    ),
    rule_entry(
        42,
        G::H,
        Error,
        Trace,
        "IOCTLs during Start: other threads wait, the Start thread proceeds",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_miracast_io_control.md",
        "While the OS is starting a session, a MiracastIoControl from another thread is held until StartMiracastSession returns, and one from the thread running CreateMiracastContext or StartMiracastSession is processed at once.",
    ),
    rule_entry(
        43,
        G::H,
        Warning,
        Trace,
        "Monitor arrival requested after Start returns",
        "ddi0:netdispumdddi/nc-netdispumdddi-pfn_start_miracast_session.md",
        "The UMD should return from StartMiracastSession before asking the KMD to signal monitor arrival, because kernel-to-user messages cannot be delivered while Start runs.",
    ),
    // I. Stop and destroy
    rule_entry(
        44,
        G::I,
        Error,
        Trace,
        "IOCTLs during Stop: other threads fail, the Stop thread proceeds",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_miracast_io_control.md",
        "While the OS is stopping a session, a MiracastIoControl from another thread fails, and one from the thread running StopMiracastSession or DestroyMiracastContext is processed.",
    ),
    rule_entry(
        45,
        G::I,
        Error,
        Online,
        "Stop is quick and closes the UMD's own sockets",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_stop_miracast_session.md; ",
            umd_tasks!()
        ),
        "StopMiracastSession returns as fast as it can, stops all communication, closes the UMD's own sockets (not the RTSP socket) and drops further streaming.",
    ),
    rule_entry(
        46,
        G::I,
        Warning,
        Online,
        "Destroy within 3 s, nothing left behind",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_destroy_miracast_context.md; ",
            umd_tasks!()
        ),
        "DestroyMiracastContext frees everything CreateMiracastContext made and should finish within 3 seconds; the OS then unloads the DLL, so no UMD thread or socket may outlive it.",
    ),
    // J. UMD-to-OS callbacks
    rule_entry(
        47,
        G::J,
        Error,
        Trace,
        "ReportSessionStatus tears the session down",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_report_session_status.md; ",
            reporting!()
        ),
        "After the UMD reports a session status, the OS tears the session down: StopMiracastSession, then DestroyMiracastContext, then DxgkDdiMiracastDestroyContext (every MIRACAST_STATUS is a termination cause, G18).",
    ),
    rule_entry(
        48,
        G::J,
        Error,
        Trace,
        "ReportStatistic only logs",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_report_statistic.md; ",
            umd_tasks!()
        ),
        "ReportStatistic is logging only and changes no OS state; the UMD calls it during a session, after preparing stream data and before sending it.",
    ),
    rule_entry(
        49,
        G::J,
        Error,
        Online,
        "Data-rate registration on the Start/Stop thread only",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_register_datarate_notifications.md",
        "RegisterForDataRateNotifications works only on the thread running StartMiracastSession or StopMiracastSession (elsewhere exactly STATUS_NOT_SUPPORTED); a second register or unregister fails; a NULL callback unregisters.",
    ),
    rule_entry(
        50,
        G::J,
        Error,
        Trace,
        "Data-rate notifications about once a second, none after NULL",
        concat!(
            "ddi:netdispumdddi/nc-netdispumdddi-pfn_datarate_notification.md; ",
            umd_tasks!()
        ),
        "While registered the OS calls pfnDataRateNotify about once a second; a call with NULL stats is the last one, and none come after unregistering.",
    ),
    // K. Encode chunks
    rule_entry(
        51,
        G::K,
        Error,
        Online,
        "Chunks come from the type-8 interrupt in the ISR",
        concat!(
            kmd_tasks!(),
            " (\"Handling interrupts...\"); ddi:d3dkmddi/ns-d3dkmddi-_dxgkargcb_notify_interrupt_data.md; ",
            reporting!()
        ),
        "Each finished encode chunk is reported from the ISR with DxgkCbNotifyInterrupt, type DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE and the Miracast target's VidPnTargetId; only this queues a chunk for GetNextChunkData.",
    ),
    rule_entry(
        52,
        G::K,
        Error,
        Online,
        "Chunk private data within MaxChunkPrivateDriverDataSize",
        "ddi:d3dkmddi/ns-d3dkmddi-_dxgkargcb_notify_interrupt_data.md",
        "PrivateDataDriverSize of a chunk interrupt is at most the MaxChunkPrivateDriverDataSize the KMD reported in its caps.",
    ),
    rule_entry(
        53,
        G::K,
        Error,
        Both,
        "Chunk-queue overflow: NotifyDpc, CONNECTION_RESET, fresh chunks only",
        concat!(
            kmd_tasks!(),
            "; ddi:d3dkmddi/ns-d3dkmddi-_dxgkargcb_notify_interrupt_data.md; ",
            "ddi0:netdispumdddi/nc-netdispumdddi-pfn_get_next_chunk_data.md"
        ),
        "When chunk packets run out the interrupt's Status is STATUS_NO_MEMORY and the KMD calls DxgkCbNotifyDpc; every outstanding chunk is lost, the next GetNextChunkData returns exactly STATUS_CONNECTION_RESET and later ones only newer chunks.",
    ),
    rule_entry(
        54,
        G::K,
        Error,
        Trace,
        "GetNextChunkData returns the documented code for each case",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_get_next_chunk_data.md; ddi0:netdispumdddi/nc-netdispumdddi-pfn_get_next_chunk_data.md",
        "GetNextChunkData takes at most four extra events and answers each case with its exact code (SUCCESS with a non-zero size that fits the buffer, BUFFER_TOO_SMALL, WAIT_i with size 0 for an extra event that exists, TIMEOUT never for INFINITE, INSTANCE_NOT_AVAILABLE once the session is being stopped or destroyed).",
    ),
    rule_entry(
        55,
        G::K,
        Warning,
        Trace,
        "One GetNextChunkData caller at a time",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_get_next_chunk_data.md",
        "Only one UMD thread should call GetNextChunkData at a time; with several, which one gets a chunk is unpredictable.",
    ),
    rule_entry(
        56,
        G::K,
        Warning,
        Unchecked(
            "lint only: GetNextChunkData being optional is a permission, so there is no behaviour to violate",
        ),
        "GetNextChunkData is optional",
        "ddi:netdispumdddi/nc-netdispumdddi-pfn_get_next_chunk_data.md",
        "GetNextChunkData is optional and only useful when the KMD passes per-chunk data through the chunk interrupt.",
    ),
    rule_entry(
        57,
        G::K,
        Error,
        Online,
        "ReportChunkInfo only logs, reserved arguments zero",
        concat!(
            "ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_report_chunk_info.md; ",
            reporting!()
        ),
        "DxgkCbReportChunkInfo only logs and never queues a chunk; its pPrivateDriverData is NULL and PrivateDataDriverSize 0; any IRQL is allowed.",
    ),
    rule_entry(
        58,
        G::K,
        Error,
        Online,
        "Chunk ids: one frame number per frame, last part 0",
        concat!(
            reporting!(),
            "; ddi:d3dukmdt/ns-d3dukmdt-dxgk_miracast_chunk_id.md"
        ),
        "All chunks of one frame update share a FrameNumber, each step gets its own PartNumber, the last slice has PartNumber 0, re-encodes reuse the numbers, and the numbers fit 40 and 24 bits.",
    ),
    rule_entry(
        59,
        G::K,
        Error,
        Both,
        "Chunk stages reported in order and promptly",
        reporting!(),
        "FRAME_START, COLOR_CONVERT_COMPLETE, ENCODE_COMPLETE (with EncodeRate), one CHUNK_SENT just before the first send of a frame part, and FRAME_DROPPED only for started work, are reported promptly. Checked: EncodeRate of ENCODE_COMPLETE, FRAME_DROPPED only after FRAME_START for processed frames (online, KMD); CHUNK_SENT only for a chunk the UMD received and once per encode (trace, UMD). Not settled by the documents, so not judged: how soon is \"promptly\" (no bound is given), and whether a send came after CHUNK_SENT (the media stream is not modeled).",
    ),
    rule_entry(
        60,
        G::K,
        Error,
        Unchecked(
            "the simulator has no flip-complete (VSync) interrupt or primary-surface model, so a flip reported before the encoder finished reading the surface cannot happen in a run",
        ),
        "No flip complete before the encoder read the surface",
        reporting!(),
        "When the pixel pipeline encodes, a VSync flip is not reported complete before the encoder has finished reading the primary surface.",
    ),
    rule_entry(
        61,
        G::K,
        Error,
        Online,
        "Protocol events via ReportStatistic, reserved value unused",
        concat!(
            reporting!(),
            "; ddi:netdispumdddi/ne-netdispumdddi-miracast_protocol_event.md"
        ),
        "Protocol events are reported with ReportStatistic and MIRACAST_STATISTIC_TYPE_EVENT; MIRACAST_PROTOCOL_EVENT_SINK_FAILED_PREFERRED_MODE_CHANGE is reserved and never used.",
    ),
    // L. Modes and timing
    rule_entry(
        62,
        G::L,
        Error,
        Trace,
        "Modes limited by encoder, network and sink",
        kmd_tasks!(),
        "Source modes of a Miracast path respect the GPU's encode capability, the network bandwidth and the sink's decoder; the KMD reports correct source, target, rotation and scaling modes. Checked where the OS sees it: the mode the source chose in M4 must fit the CurrentBitRate the OS gave StartMiracastSession (estimated at 0.14 bit per pixel). Not checked: VidPN source and target mode sets, which the simulated OS does not build.",
    ),
    rule_entry(
        63,
        G::L,
        Error,
        Unchecked(
            "pfnAddMode and stereo source modes are not modelled (no DXGK_VIDPNSOURCEMODESET_INTERFACE in the simulator)",
        ),
        "No 3-D stereo source mode on a Miracast path",
        kmd_tasks!(),
        "Adding a 3-D stereo source mode through pfnAddMode to a source joined to a Miracast target fails.",
    ),
    rule_entry(
        64,
        G::L,
        Error,
        Unchecked(
            "target modes and VSyncFreqDivider are not modelled (no target mode set in the simulator), and G5 leaves the divider's direction contradictory",
        ),
        "VSyncFreqDivider right, Miracast VSync at least 23.9 Hz",
        concat!(
            "ddi:d3dkmdt/ns-d3dkmdt-_d3dkmdt_video_signal_info.md; ",
            kmd_tasks!()
        ),
        "Miracast target modes carry the right 6-bit VSyncFreqDivider and other targets 0; the OS rejects a mode that would leave the Miracast target below 23.9 Hz.",
    ),
    rule_entry(
        65,
        G::L,
        Error,
        Unchecked(
            "DxgkDdiQueryConnectionChange (the WDDM 2.x connection-change path) is not modelled; hot-plug goes through DxgkCbIndicateChildStatus only",
        ),
        "No VOT_MIRACAST in DXGK_CONNECTION_CHANGE",
        "ddi:d3dkmddi/ns-d3dkmddi-_dxgk_connection_change.md",
        "D3DKMDT_VOT_MIRACAST (and VOT_INTERNAL) never appear as LinkTargetType or BaseTargetType in a DXGK_CONNECTION_CHANGE.",
    ),
    // M. DisplayConfig view
    rule_entry(
        66,
        G::M,
        Error,
        Unchecked(
            "QueryDisplayConfig and DisplayConfigGetDeviceInfo are application APIs that the simulator does not offer",
        ),
        "DisplayConfig shows Miracast paths correctly",
        "con:calling-displayconfig-functions-for-a-miracast-target.md",
        "QueryDisplayConfig omits a Miracast path with no monitor and shows the sink's connector type (MIRACAST for built-in sinks); GET_TARGET_BASE_TYPE always answers MIRACAST.",
    ),
    // N. Synchronization, IRQL, pageability
    rule_entry(
        67,
        G::N,
        Error,
        Trace,
        "Miracast-class KMD calls never overlap",
        concat!(
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_create_context.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_destroy_context.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_handle_io_control.md"
        ),
        "DxgkDdiMiracastCreateContext, DxgkDdiMiracastDestroyContext and DxgkDdiMiracastIoControl with HardwareAccess FALSE form one class: no two of them run at the same time (per adapter, G2).",
    ),
    rule_entry(
        68,
        G::N,
        Error,
        Trace,
        "QueryCaps and other Level-3 calls run alone",
        concat!(
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_query_caps.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_handle_io_control.md; ",
            "con:threading-and-synchronization-third-level.md"
        ),
        "DxgkDdiMiracastQueryCaps and the other Level-3 DDIs of the flow (DxgkDdiAddDevice, DxgkDdiStartDevice, DxgkDdiQueryChildRelations, DxgkDdiSetPowerState) run with no other KMD DDI on any other thread.",
    ),
    rule_entry(
        69,
        G::N,
        Error,
        Online,
        "Each DDI and callback at its IRQL",
        concat!(
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_query_caps.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_create_context.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_handle_io_control.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_miracast_destroy_context.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_send_message.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_report_chunk_info.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_send_message_callback.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkcb_indicate_child_status.md; ",
            "ddi:d3dkmddi/nc-d3dkmddi-dxgkcb_notify_interrupt.md; ",
            "ddi:d3dkmddi/nc-d3dkmddi-dxgkcb_notify_dpc.md"
        ),
        "The Miracast KMD DDIs, DxgkCbMiracastSendMessage and its completion routine run at PASSIVE_LEVEL; DxgkCbReportChunkInfo at any IRQL; DxgkCbNotifyInterrupt at DIRQL from the ISR; DxgkCbNotifyDpc at DISPATCH_LEVEL; DxgkCbIndicateChildStatus at or below DISPATCH_LEVEL.",
    ),
    rule_entry(
        70,
        G::N,
        Warning,
        Both,
        "Pageable DDIs called at PASSIVE_LEVEL",
        concat!(
            "ddi:dispmprt/nc-dispmprt-dxgkddi_query_interface.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_query_child_relations.md; ",
            "ddi:dispmprt/nc-dispmprt-dxgkddi_query_child_status.md; ",
            "ddi:d3dkmddi/nc-d3dkmddi-dxgkddi_createcontext.md; ",
            "ddi:d3dkmddi/nc-d3dkmddi-dxgkddi_destroycontext.md"
        ),
        "DxgkDdiQueryInterface, DxgkDdiQueryChildRelations, DxgkDdiQueryChildStatus, DxgkDdiCreateContext and DxgkDdiDestroyContext should be pageable, so they run only at PASSIVE_LEVEL.",
    ),
    // O. GPU contexts
    rule_entry(
        71,
        G::O,
        Error,
        Online,
        "GPU contexts refused only for lack of memory",
        "ddi:d3dkmddi/nc-d3dkmddi-dxgkddi_createcontext.md",
        "DxgkDdiCreateContext (GPU contexts, not Miracast ones) accepts any number of contexts and refuses one only with STATUS_NO_MEMORY when memory is exhausted, or STATUS_GRAPHICS_DRIVER_MISMATCH for an incompatible D3D UMD.",
    ),
    rule_entry(
        72,
        G::O,
        Error,
        Online,
        "DestroyContext frees the GPU context",
        "ddi:d3dkmddi/nc-d3dkmddi-dxgkddi_destroycontext.md",
        "DxgkDdiDestroyContext frees everything allocated for the GPU context and its tracking data.",
    ),
    // P. Status-code hygiene and versioning
    rule_entry(
        73,
        G::P,
        Error,
        Trace,
        "Exact NTSTATUS comparisons",
        "derived from the NTSTATUS values page (ntstatus.h) and ddi:dispmprt/nc-dispmprt-dxgkcb_miracast_send_message.md",
        "Codes are compared exactly, never with NT_SUCCESS: STATUS_PENDING, STATUS_TIMEOUT, STATUS_WAIT_1..3 and STATUS_GRAPHICS_DRIVER_MISMATCH are all non-negative; a send succeeds only with STATUS_PENDING. Checked where a driver shows it: a KMD that releases an accepted (STATUS_PENDING) message's buffers and sends the same message again before its completion read PENDING as a failure. The simulator itself compares exact codes everywhere.",
    ),
    rule_entry(
        74,
        G::P,
        Error,
        Unchecked(
            "a configuration fact, not a behaviour: with a DXGKDDI_INTERFACE_VERSION below 0x4002 the OS model simply never queries the Miracast interface, and what the KMD may do then is R3, checked online",
        ),
        "Miracast DDIs need WDDM 1.3 or later",
        "con:wireless-displays--miracast-.md; con:supporting-miracast-in-windows-8-1.md; headers",
        "The Miracast DDIs exist only for WDDM 1.3+ drivers (DXGKDDI_INTERFACE_VERSION at least 0x4002) on Windows 8.1 and later; on Windows 10 the in-box stack is the supported path.",
    ),
];

/// Stands in for an id outside R1..R74 (only reachable by building a `RuleId` by hand), so
/// that looking a rule up never panics.
static UNKNOWN_RULE: Rule = rule_entry(
    0,
    G::P,
    Error,
    Unchecked("not a rule of the catalogue"),
    "unknown rule",
    "none",
    "This id is not in the catalogue R1..R74.",
);

/// The entry for `id`. Ids outside R1..R74 (which [`RuleId`]'s parser never produces) get a
/// placeholder entry titled "unknown rule" rather than a panic.
pub fn rule(id: RuleId) -> &'static Rule {
    usize::from(id.0)
        .checked_sub(1)
        .and_then(|i| CATALOGUE.get(i))
        .filter(|r| r.id == id)
        .or_else(|| CATALOGUE.iter().find(|r| r.id == id))
        .unwrap_or(&UNKNOWN_RULE)
}

/// How many rules are checked at all (online plus over the trace).
pub fn checked_count() -> usize {
    CATALOGUE.iter().filter(|r| r.check.is_checked()).count()
}

/// How many rules are checked in the given way; for `Unchecked`, the reason is ignored.
pub fn count(kind: CheckKind) -> usize {
    CATALOGUE
        .iter()
        .filter(|r| std::mem::discriminant(&r.check) == std::mem::discriminant(&kind))
        .count()
}

/// The rules that are not checked, each with its reason.
pub fn unchecked() -> impl Iterator<Item = (&'static Rule, &'static str)> {
    CATALOGUE.iter().filter_map(|r| match r.check {
        CheckKind::Unchecked(why) => Some((r, why)),
        _ => None,
    })
}

/// Rules judged completely on the reference drivers that wait, for driver binaries, on the
/// kernel routines C drivers are to get (pool allocation, IRQL, memory the race detector can
/// see), with what is missing.
pub const NEEDS_KERNEL_ROUTINES: &[(RuleId, &str)] = &[];

/// Why `rule` waits for the kernel routines on binaries, if it does.
pub fn kernel_routines_reason(rule: RuleId) -> Option<&'static str> {
    NEEDS_KERNEL_ROUTINES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, why)| *why)
}

/// How far a driver binary is judged on `rule`: the widest reach among its checks (a rule with
/// one check that sees binaries is checked on binaries), or `kernel` for the rules that wait for
/// the kernel routines ([`NEEDS_KERNEL_ROUTINES`]). `-` when unchecked.
pub fn binaries(rule: RuleId) -> BinaryReach {
    use super::Reach;
    if kernel_routines_reason(rule).is_some() {
        return BinaryReach::NeedsKernelRoutines;
    }
    let mut best = BinaryReach::Unchecked;
    for c in super::registry::checks_for(rule) {
        let this = match c.reach {
            Reach::AllBackends => BinaryReach::Yes,
            Reach::NeedsIoctlProfile => BinaryReach::WithProfile,
            Reach::LinuxBinaries(_) => BinaryReach::OnLinux,
            Reach::ModelOnly(_) => BinaryReach::ModelOnly,
        };
        best = best.max(this);
    }
    best
}

/// Whether binaries are judged on a rule; see [`binaries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryReach {
    /// Not checked at all.
    Unchecked,
    /// Checked on the reference drivers only.
    ModelOnly,
    /// Checked on the reference drivers; on binaries once the kernel routines exist.
    NeedsKernelRoutines,
    /// Checked on binaries whose private IOCTL payloads are described.
    WithProfile,
    /// Checked on binaries when the simulator runs on Linux.
    OnLinux,
    /// Checked on binaries.
    Yes,
}

impl BinaryReach {
    /// `yes`, `linux`, `profile`, `no`, or `-`.
    pub fn label(self) -> &'static str {
        match self {
            BinaryReach::Unchecked => "-",
            BinaryReach::ModelOnly => "no",
            BinaryReach::NeedsKernelRoutines => "kernel",
            BinaryReach::WithProfile => "profile",
            BinaryReach::OnLinux => "linux",
            BinaryReach::Yes => "yes",
        }
    }
}

/// The catalogue as a text table for `miracast-sim rules`: one line per rule (id, group,
/// severity, check, whether binaries are judged, title), unchecked reasons indented under
/// their rule, and a count line; verbose adds the statement, the source and every check.
pub fn table() -> CatalogueTable {
    CatalogueTable { verbose: false }
}

/// A `Display`-able view of the catalogue; see [`table`].
#[derive(Clone, Copy, Debug)]
pub struct CatalogueTable {
    verbose: bool,
}

impl CatalogueTable {
    /// Also prints each rule's statement and source under it.
    pub fn verbose(self) -> Self {
        CatalogueTable { verbose: true }
    }
}

impl fmt::Display for CatalogueTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<4} {:<3} {:<8} {:<10} {:<9} {:<9} title",
            "rule", "grp", "severity", "check", "reference", "binaries"
        )?;
        for r in CATALOGUE {
            let reference = if matches!(r.check, CheckKind::Unchecked(_)) {
                "-"
            } else {
                "yes"
            };
            writeln!(
                f,
                "{:<4} {:<3} {:<8} {:<10} {:<9} {:<9} {}",
                r.id.to_string(),
                r.group.to_string(),
                r.severity.to_string(),
                r.check.label(),
                reference,
                binaries(r.id).label(),
                r.title
            )?;
            if let CheckKind::Unchecked(why) = r.check {
                writeln!(f, "{:47}why unchecked: {why}", "")?;
            }
            if let Some(why) = kernel_routines_reason(r.id) {
                writeln!(f, "{:47}binaries wait for the kernel routines: {why}", "")?;
            }
            if binaries(r.id) == BinaryReach::ModelOnly
                && let Some(why) = super::registry::checks_for(r.id).find_map(|c| match c.reach {
                    super::Reach::ModelOnly(why) => Some(why),
                    _ => None,
                })
            {
                writeln!(f, "{:47}not on binaries: {why}", "")?;
            }
            if binaries(r.id) == BinaryReach::OnLinux
                && let Some(why) = super::registry::checks_for(r.id).find_map(|c| match c.reach {
                    super::Reach::LinuxBinaries(why) => Some(why),
                    _ => None,
                })
            {
                writeln!(f, "{:47}on binaries on Linux only: {why}", "")?;
            }
            if self.verbose {
                writeln!(f, "{:37}{}", "", r.statement)?;
                writeln!(f, "{:37}source: {}", "", r.source)?;
                for c in super::registry::checks_for(r.id) {
                    writeln!(
                        f,
                        "{:37}check {:?} ({}, {}): {}",
                        "",
                        c.id,
                        c.place,
                        c.reach.label(),
                        c.name
                    )?;
                    match c.reach {
                        super::Reach::ModelOnly(why) => {
                            writeln!(f, "{:37}  not on binaries: {why}", "")?;
                        }
                        super::Reach::LinuxBinaries(why) => {
                            writeln!(f, "{:37}  on binaries on Linux only: {why}", "")?;
                        }
                        _ => {}
                    }
                }
            }
        }
        let with = |b: BinaryReach| CATALOGUE.iter().filter(|r| binaries(r.id) == b).count();
        writeln!(
            f,
            "reference: yes = judged on the reference drivers. binaries: yes = judged on driver binaries too ({}); linux = on binaries when the simulator runs on Linux ({}); profile = on binaries through the driver profile, run --profile ({}); kernel = waits for the kernel routines for C drivers ({}); no = reference drivers only ({})",
            with(BinaryReach::Yes),
            with(BinaryReach::OnLinux),
            with(BinaryReach::WithProfile),
            with(BinaryReach::NeedsKernelRoutines),
            with(BinaryReach::ModelOnly)
        )?;
        write!(
            f,
            "{} of {} rules checked ({} online, {} over the trace, {} both), {} unchecked",
            checked_count(),
            CATALOGUE.len(),
            count(CheckKind::Online),
            count(CheckKind::Trace),
            count(CheckKind::Both),
            CATALOGUE.len() - checked_count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_run_from_1_to_74_in_order() {
        assert_eq!(CATALOGUE.len(), 74);
        for (i, r) in CATALOGUE.iter().enumerate() {
            assert_eq!(usize::from(r.id.0), i + 1);
            assert_eq!(rule(r.id).id, r.id);
        }
    }

    #[test]
    fn unknown_ids_do_not_panic() {
        assert_eq!(rule(RuleId(0)).title, "unknown rule");
        assert_eq!(rule(RuleId(200)).title, "unknown rule");
    }

    #[test]
    fn counts_add_up() {
        let online = count(CheckKind::Online);
        let trace = count(CheckKind::Trace);
        let both = count(CheckKind::Both);
        assert_eq!(online + trace + both, checked_count());
        assert_eq!(checked_count() + unchecked().count(), 74);
        assert!(checked_count() >= 60);
        let text = table().to_string();
        assert_eq!(text.lines().filter(|l| l.starts_with('R')).count(), 74);
        assert!(text.ends_with(&format!("{} unchecked", 74 - checked_count())));
    }
}
