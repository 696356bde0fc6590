//! What a scenario asks the OS to do: bring the adapter up, create and destroy contexts, start
//! and stop sessions, create GPU contexts, commit power states, raise encoder interrupts, issue a
//! UMD `MiracastIoControl` from another thread, and act on the sink.
//!
//! Each action is an `async fn` run on a simulated OS thread. Actions that make no sense in the
//! current state (stop when nothing started) do nothing, say so in the trace, and return
//! `None`; a scenario's validation rejects the ones that can never happen.

use super::kmd_side::{KmdServices, MiracastCallbacks};
use super::state::Indication;
use super::umd_side::UmdServices;
use super::{Os, SimRtspLink};
use crate::ddi::*;
use crate::rules::{CheckId, Culprit, RuleId};
use crate::status::NtStatus;
use crate::trace::{CallArgs, CallOut, EventKind};
use std::rc::Rc;

impl Os {
    pub(super) fn note(&self, text: impl Into<String>) {
        self.inner.sched.emit(EventKind::Note { text: text.into() });
    }

    /// Adapter bring-up, in the order ddi-facts G9 suggests: `DxgkDdiQueryInterface` (Miracast),
    /// `DxgkDdiStartDevice`, `DxgkDdiMiracastQueryCaps`, `DxgkDdiQueryChildRelations`,
    /// `DxgkDdiQueryChildStatus` for each child. Returns the bring-up status.
    pub async fn bring_up_adapter(&self) -> NtStatus {
        let kmd = self.inner.kmd.clone();
        let config = self.inner.config.clone();
        let queries =
            config.queries_miracast && config.wddm_version >= DXGKDDI_INTERFACE_VERSION_WDDM1_3;
        let mut interface = None;
        if queries {
            let guard = self.inner.adapter.read().await;
            let ((status, iface), _, leave) = self
                .call(
                    Ddi::DxgkDdiQueryInterface,
                    CallArgs::QueryInterface {
                        size: DXGK_MIRACAST_DISPLAY_INTERFACE_SIZE.into(),
                        version: DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1.into(),
                    },
                    kmd.query_miracast_interface(
                        DXGK_MIRACAST_DISPLAY_INTERFACE_SIZE,
                        DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1,
                    ),
                    |(s, i)| {
                        (
                            Some(*s),
                            i.map_or(CallOut::None, |i| CallOut::Interface {
                                size: i.size.into(),
                                version: i.version.into(),
                            }),
                        )
                    },
                )
                .await;
            drop(guard);
            match (status, iface) {
                (NtStatus::STATUS_SUCCESS, Some(i)) => {
                    let nulls = i.null_entries();
                    if i.size != DXGK_MIRACAST_DISPLAY_INTERFACE_SIZE || i.version != DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1 || !nulls.is_empty() {
                        self.report(
                            CheckId::InterfaceQuery,
                            RuleId::R1,
                            Culprit::Kmd,
                            format!(
                                "DxgkDdiQueryInterface returned an incomplete DXGK_MIRACAST_DISPLAY_INTERFACE (Size {}, Version {}, NULL: {})",
                                i.size,
                                i.version,
                                if nulls.is_empty() { "none".to_owned() } else { nulls.join(", ") }
                            ),
                            vec![leave],
                        );
                    } else {
                        interface = Some(i);
                    }
                }
                (NtStatus::STATUS_SUCCESS, None) => {
                    self.report(CheckId::InterfaceQuery, RuleId::R1, Culprit::Kmd, "DxgkDdiQueryInterface returned STATUS_SUCCESS without an interface", vec![leave]);
                }
                (NtStatus::STATUS_NOT_SUPPORTED, _) => self.note("the KMD does not support Miracast (STATUS_NOT_SUPPORTED)"),
                (other, _) => self.report(
                    CheckId::InterfaceQuery,
                    RuleId::R1,
                    Culprit::Kmd,
                    format!("DxgkDdiQueryInterface for the Miracast interface returned {other}; it must return STATUS_SUCCESS or STATUS_NOT_SUPPORTED"),
                    vec![leave],
                ),
            }
        } else {
            self.note("the OS does not query the Miracast interface (no Miracast support, or WDDM below 1.3)");
        }
        let services: Rc<dyn DxgkrnlServices> = KmdServices::new(self);
        let level3 = self.level3_lock().await;
        let ((status, children), _, _) = self
            .call(
                Ddi::DxgkDdiStartDevice,
                CallArgs::None,
                kmd.start_device(services),
                |(s, n)| {
                    (
                        Some(*s),
                        CallOut::StartDevice {
                            number_of_children: *n,
                        },
                    )
                },
            )
            .await;
        drop(level3);
        if status != NtStatus::STATUS_SUCCESS {
            return status;
        }
        let mut caps = MiracastCaps::default();
        if interface.is_some() {
            let level3 = self.level3_lock().await;
            let ((status, got, written), _, leave) = self
                .call(
                    Ddi::DxgkDdiMiracastQueryCaps,
                    CallArgs::QueryCaps {
                        caps_size: DXGK_MIRACAST_CAPS_SIZE,
                    },
                    kmd.miracast_query_caps(DXGK_MIRACAST_CAPS_SIZE),
                    caps_out,
                )
                .await;
            drop(level3);
            self.inner.adapter_state.borrow_mut().query_caps_calls += 1;
            if self.knobs().query_caps_twice {
                // OS-model knob (R7): QueryCaps again for the same adapter start; the OS
                // keeps the first answer and ignores this one.
                let level3 = self.level3_lock().await;
                let _ = self
                    .call(
                        Ddi::DxgkDdiMiracastQueryCaps,
                        CallArgs::QueryCaps {
                            caps_size: DXGK_MIRACAST_CAPS_SIZE,
                        },
                        kmd.miracast_query_caps(DXGK_MIRACAST_CAPS_SIZE),
                        caps_out,
                    )
                    .await;
                drop(level3);
                self.inner.adapter_state.borrow_mut().query_caps_calls += 1;
            }
            if written > DXGK_MIRACAST_CAPS_SIZE {
                self.report(CheckId::CapsAnswer, RuleId::R8, Culprit::Kmd, format!("DxgkDdiMiracastQueryCaps wrote {written} bytes into a {DXGK_MIRACAST_CAPS_SIZE}-byte buffer"), vec![leave]);
            }
            if got.reserved() != 0 {
                self.report(
                    CheckId::CapsAnswer,
                    RuleId::R8,
                    Culprit::Kmd,
                    format!(
                        "DXGK_MIRACAST_CAPS.Flags.Reserved is {:#x}; it must be 0",
                        got.reserved()
                    ),
                    vec![leave],
                );
            }
            if status == NtStatus::STATUS_SUCCESS {
                if !got.hdcp_support() {
                    self.report(CheckId::CapsAnswer, RuleId::R2, Culprit::Kmd, "the KMD exposes the Miracast interface but DXGK_MIRACAST_CAPS.Flags.HdcpSupport is 0", vec![leave]);
                }
                caps = got;
            }
        }
        let mut relations = vec![ChildDescriptor::default(); children as usize + 1];
        let level3 = self.level3_lock().await;
        let (status, _, leave) = self
            .call(
                Ddi::DxgkDdiQueryChildRelations,
                CallArgs::QueryChildRelations {
                    descriptors: relations.len() as u32,
                },
                kmd.query_child_relations(&mut relations),
                |s| (Some(*s), CallOut::None),
            )
            .await;
        drop(level3);
        if status != NtStatus::STATUS_SUCCESS {
            return status;
        }
        if relations.last().is_some_and(|t| !t.is_zeroed()) {
            self.report(
                CheckId::ChildRelations,
                RuleId::R6,
                Culprit::Kmd,
                format!(
                    "DxgkDdiQueryChildRelations wrote into the zero terminator (entry {children})"
                ),
                vec![leave],
            );
        }
        let described = &relations[..children as usize];
        let miracast: Vec<&ChildDescriptor> = described
            .iter()
            .filter(|d| {
                d.child_device_type == ChildDeviceType::VideoOutput
                    && d.interface_technology == VideoOutputTechnology::Miracast
            })
            .collect();
        if !miracast.is_empty() && interface.is_none() {
            self.report(
                CheckId::ChildRelations,
                RuleId::R3,
                Culprit::Kmd,
                "the KMD reported a D3DKMDT_VOT_MIRACAST target although the OS never obtained its Miracast interface",
                vec![leave],
            );
        }
        if miracast.len() > 1 {
            self.report(CheckId::ChildRelations, RuleId::R4, Culprit::Kmd, format!("the KMD reported {} Miracast targets; at most one is allowed and the OS fails the adapter start", miracast.len()), vec![leave]);
            // Status not documented (G6): the simulator's choice.
            return NtStatus::STATUS_INVALID_DEVICE_STATE;
        }
        if interface.is_some() && miracast.is_empty() {
            self.report(CheckId::ChildRelations, RuleId::R5, Culprit::Kmd, "the KMD exposes the Miracast interface but reports no D3DKMDT_VOT_MIRACAST child in DxgkDdiQueryChildRelations", vec![leave]);
        }
        if let Some(d) = miracast.first()
            && d.hpd_awareness != HpdAwareness::Interruptible
        {
            self.report(CheckId::ChildRelations, RuleId::R5, Culprit::Kmd, format!("the Miracast target has HpdAwareness {:?}; it must be HpdAwarenessInterruptible (4)", d.hpd_awareness), vec![leave]);
        }
        let target = miracast.first().map(|d| d.child_uid);
        self.inner
            .adapter_state
            .borrow_mut()
            .brought_up(interface.is_some(), target, caps);
        // The OS asks the status of interruptible children once (R9: Miracast answers "not connected").
        for d in described
            .iter()
            .filter(|d| d.child_device_type == ChildDeviceType::VideoOutput)
        {
            let kind = if Some(d.child_uid) == target {
                ChildStatusKind::MiracastConnection {
                    connected: false,
                    monitor_type: VideoOutputTechnology::Uninitialized,
                }
            } else {
                ChildStatusKind::Connection { connected: false }
            };
            let _ = self.query_child_status(d.child_uid, kind).await;
        }
        NtStatus::STATUS_SUCCESS
    }

    /// `DxgkDdiQueryChildStatus` for one child; checks R16 for the Miracast target.
    pub async fn query_child_status(
        &self,
        child_uid: u32,
        kind: ChildStatusKind,
    ) -> (NtStatus, ChildStatus) {
        let kmd = self.inner.kmd.clone();
        let mut status = ChildStatus {
            child_uid,
            status: kind,
        };
        let _adapter = self.inner.adapter.read().await;
        let (result, _, leave) = self
            .call(
                Ddi::DxgkDdiQueryChildStatus,
                CallArgs::QueryChildStatus {
                    child_uid,
                    non_destructive_only: true,
                },
                async {
                    let s = kmd.query_child_status(&mut status, true).await;
                    (s, status)
                },
                |(s, cs)| (Some(*s), CallOut::ChildStatus(cs.into())),
            )
            .await;
        let (st, answered) = result;
        let target = self.miracast_target();
        if Some(child_uid) == target && st == NtStatus::STATUS_SUCCESS {
            let last = self.inner.indication.get();
            match (answered.status, last) {
                (ChildStatusKind::MiracastConnection { connected, monitor_type }, Some(Indication { connected: last_connected, monitor_type: last_type, seq })) => {
                    if connected != last_connected || (connected && monitor_type != last_type) {
                        self.report(
                            CheckId::ChildStatusAnswer,
                            RuleId::R16,
                            Culprit::Kmd,
                            format!(
                                "DxgkDdiQueryChildStatus answered connected={connected} {} but the last indication was connected={last_connected} {}",
                                monitor_type.c_name(),
                                last_type.c_name()
                            ),
                            vec![seq, leave],
                        );
                    }
                }
                (ChildStatusKind::MiracastConnection { .. }, None) => {}
                (other, _) => self.report(
                    CheckId::ChildStatusAnswer,
                    RuleId::R16,
                    Culprit::Kmd,
                    format!("DxgkDdiQueryChildStatus for the Miracast target answered with {:?} instead of StatusMiracastConnection", other.status_type()),
                    vec![leave],
                ),
            }
        }
        (st, answered)
    }

    /// `DxgkDdiMiracastCreateContext` (Miracast class). Returns its status, or `None` when the
    /// adapter has no Miracast target or a context already exists (R22).
    pub async fn kmd_create_context(&self) -> Option<NtStatus> {
        let (available, exists, target) = {
            let adapter = self.inner.adapter_state.borrow();
            (
                adapter.miracast_available,
                self.inner.kmd_context.borrow().exists(),
                adapter.miracast_target,
            )
        };
        if !available {
            self.note(
                "DxgkDdiMiracastCreateContext not called: the adapter has no Miracast target",
            );
            return None;
        }
        if exists {
            if self.knobs().create_context_twice {
                // OS-model knob (R22): a second context for the same target.
                return Some(self.second_miracast_create_context().await);
            }
            self.note(
                "DxgkDdiMiracastCreateContext not called: a Miracast context already exists (R22)",
            );
            return None;
        }
        let handle = self.new_handle();
        let callbacks: Rc<dyn MiracastDisplayServices> = MiracastCallbacks::new(self, handle);
        let kmd = self.inner.kmd.clone();
        let class = self.miracast_class_lock().await;
        let adapter = self.inner.adapter.read().await;
        // The handle is live from the call on, so messages sent from inside it are accepted.
        self.inner.kmd_context.borrow_mut().begin_create(handle);
        let ((status, context, target_id), _, leave) = self
            .call(
                Ddi::DxgkDdiMiracastCreateContext,
                CallArgs::MiracastCreateContext {
                    miracast_handle: handle,
                },
                kmd.miracast_create_context(callbacks),
                |(s, c, t)| {
                    (
                        Some(*s),
                        CallOut::MiracastContext {
                            context: *c,
                            target_id: *t,
                        },
                    )
                },
            )
            .await;
        drop(adapter);
        drop(class);
        if self.inner.hardware_busy.get() && status != NtStatus::STATUS_RESOURCE_IN_USE {
            self.report(
                CheckId::MiracastCreateContext,
                RuleId::R17,
                Culprit::Kmd,
                format!("the Miracast encoder was busy, yet DxgkDdiMiracastCreateContext returned {status}; busy hardware is answered exactly STATUS_RESOURCE_IN_USE"),
                vec![leave],
            );
        }
        if status == NtStatus::STATUS_SUCCESS {
            if Some(target_id) != target {
                self.report(
                    CheckId::MiracastCreateContext,
                    RuleId::R17,
                    Culprit::Kmd,
                    format!(
                        "DxgkDdiMiracastCreateContext returned TargetId {target_id}, but the Miracast target reported as D3DKMDT_VOT_MIRACAST is {}",
                        target.map_or("(none)".to_owned(), |t| t.to_string())
                    ),
                    vec![leave],
                );
            }
            self.inner.kmd_context.borrow_mut().created(Some(context));
        } else {
            self.inner.kmd_context.borrow_mut().created(None);
        }
        Some(status)
    }

    /// The R22 fault: `DxgkDdiMiracastCreateContext` while a context exists. The OS keeps the
    /// context it had, whatever the KMD answers.
    async fn second_miracast_create_context(&self) -> NtStatus {
        let handle = self.new_handle();
        let callbacks: Rc<dyn MiracastDisplayServices> = MiracastCallbacks::new(self, handle);
        let kmd = self.inner.kmd.clone();
        let class = self.miracast_class_lock().await;
        let adapter = self.inner.adapter.read().await;
        let ((status, _, _), _, _) = self
            .call(
                Ddi::DxgkDdiMiracastCreateContext,
                CallArgs::MiracastCreateContext {
                    miracast_handle: handle,
                },
                kmd.miracast_create_context(callbacks),
                |(s, c, t)| {
                    (
                        Some(*s),
                        CallOut::MiracastContext {
                            context: *c,
                            target_id: *t,
                        },
                    )
                },
            )
            .await;
        drop(adapter);
        drop(class);
        status
    }

    /// `DxgkDdiMiracastDestroyContext` (Miracast class); checks R12 after it returns.
    pub async fn kmd_destroy_context(&self) -> Option<()> {
        let context = self.inner.kmd_context.borrow().context();
        let Some(context) = context else {
            self.note("DxgkDdiMiracastDestroyContext not called: no KMD Miracast context");
            return None;
        };
        // Messages still held (sent while no session was running) can never be delivered
        // now: they are dropped, and their completion routines run, before the context goes.
        self.drop_held_messages();
        let kmd = self.inner.kmd.clone();
        let class = self.miracast_class_lock().await;
        let adapter = self.inner.adapter.read().await;
        let (_, _, leave) = self
            .call(
                Ddi::DxgkDdiMiracastDestroyContext,
                CallArgs::Context { context },
                kmd.miracast_destroy_context(context),
                |_| (None, CallOut::None),
            )
            .await;
        drop(adapter);
        drop(class);
        self.inner.kmd_context.borrow_mut().destroyed(context);
        let last = self.inner.indication.get();
        if let Some(Indication {
            connected: true,
            seq,
            ..
        }) = last
        {
            self.report(
                CheckId::MiracastDestroyContext,
                RuleId::R12,
                Culprit::Kmd,
                "after DxgkDdiMiracastDestroyContext the Miracast target is still reported connected; the KMD must report departure (Connected = FALSE)",
                vec![seq, leave],
            );
            self.inner.indication.set(None);
        }
        Some(())
    }

    /// `QueryMiracastDriverInterface` (R33, R34). Returns the load status.
    pub async fn umd_load(&self) -> NtStatus {
        let umd = self.inner.umd.clone();
        self.inner.sched.yield_now().await;
        let enter = self.inner.sched.trace_len();
        self.inner.sched.emit(EventKind::Enter {
            ddi: Ddi::QueryMiracastDriverInterface,
            args: CallArgs::QueryDriverInterface {
                version: MIRACAST_DRIVER_INTERFACE_VERSION_1,
                size: MiracastDriverInterface::SIZE,
            },
        });
        let answer = umd.query_driver_interface(
            MIRACAST_DRIVER_INTERFACE_VERSION_1,
            MiracastDriverInterface::SIZE,
        );
        let status = match answer {
            None => {
                self.report(CheckId::UmdLoad, RuleId::R33, Culprit::Umd, "the UMD does not export QueryMiracastDriverInterface; the OS fails the Miracast display device", vec![enter]);
                NtStatus::STATUS_NOT_SUPPORTED
            }
            Some((status, iface)) => {
                let nulls = iface.null_entries();
                // As Windows may also call it: a buffer too small for the structure, and a
                // version it does not know, must both fail (not traced: a driver that keeps
                // the rule answers them without side effects).
                let short = MiracastDriverInterface::SIZE - 8;
                let probes = [
                    (MIRACAST_DRIVER_INTERFACE_VERSION_1, short),
                    (
                        MIRACAST_DRIVER_INTERFACE_VERSION_1 + 1,
                        MiracastDriverInterface::SIZE,
                    ),
                ];
                for (version, size) in probes {
                    if let Some((NtStatus::STATUS_SUCCESS, _)) =
                        umd.query_driver_interface(version, size)
                    {
                        self.report(
                            CheckId::UmdLoad,
                            RuleId::R34,
                            Culprit::Umd,
                            format!(
                                "QueryMiracastDriverInterface(version={version}, size={size}) returned STATUS_SUCCESS; {} must fail",
                                if size < MiracastDriverInterface::SIZE {
                                    "a buffer smaller than MIRACAST_DRIVER_INTERFACE"
                                } else {
                                    "a version other than MIRACAST_DRIVER_INTERFACE_VERSION_1"
                                }
                            ),
                            vec![enter],
                        );
                    }
                }
                if status == NtStatus::STATUS_SUCCESS
                    && (iface.size != MiracastDriverInterface::SIZE || !nulls.is_empty())
                {
                    self.report(
                        CheckId::UmdLoad,
                        RuleId::R34,
                        Culprit::Umd,
                        format!(
                            "QueryMiracastDriverInterface returned Size {} (buffer {}) with NULL entries: {}",
                            iface.size,
                            MiracastDriverInterface::SIZE,
                            if nulls.is_empty() { "none".to_owned() } else { nulls.join(", ") }
                        ),
                        vec![enter],
                    );
                    NtStatus::STATUS_INVALID_PARAMETER
                } else {
                    status
                }
            }
        };
        self.inner.sched.emit(EventKind::Leave {
            ddi: Ddi::QueryMiracastDriverInterface,
            status: Some(status),
            out: CallOut::None,
        });
        self.inner.sched.yield_now().await;
        self.inner
            .umd_host
            .borrow_mut()
            .set_loaded(status == NtStatus::STATUS_SUCCESS);
        status
    }

    /// `CreateMiracastContext` (serialized). `None` if the UMD is not loaded or a context exists.
    pub async fn umd_create_context(&self) -> Option<NtStatus> {
        let (loaded, exists) = {
            let umd = self.inner.umd_host.borrow();
            (umd.loaded(), umd.context().is_some())
        };
        if !loaded || exists {
            self.note(
                "CreateMiracastContext not called: the UMD is not loaded or a context exists",
            );
            return None;
        }
        let device = self.new_handle();
        let callbacks: Rc<dyn MiracastUmdServices> = UmdServices::new(self);
        let umd = self.inner.umd.clone();
        let guard = self.umd_serialized_lock().await;
        self.inner.umd_host.borrow_mut().begin_create(device);
        {
            let mut session = self.inner.session.borrow_mut();
            session.serialized_call =
                Some((self.inner.sched.current(), Ddi::CreateMiracastContext));
            session.stop_begun = false;
            session.teardown_requested = false;
        }
        let ((status, context), _, _) = self
            .call(
                Ddi::CreateMiracastContext,
                CallArgs::CreateMiracastContext { device },
                umd.create_miracast_context(device, callbacks),
                |(s, c)| (Some(*s), CallOut::Context { context: *c }),
            )
            .await;
        self.inner.session.borrow_mut().serialized_call = None;
        if status == NtStatus::STATUS_SUCCESS {
            self.inner.umd_host.borrow_mut().created(context);
        }
        drop(guard);
        Some(status)
    }

    /// `StartMiracastSession` over a new RTSP socket connected to the attached sink.
    pub async fn start_session(&self) -> Option<NtStatus> {
        let (context, phase) = (self.inner.umd_host.borrow().context(), self.phase());
        let Some(context) = context.filter(|_| phase == SessionPhase::Stopped) else {
            self.note(
                "StartMiracastSession not called: no UMD context, or a session is not stopped",
            );
            return None;
        };
        let Some(peer) = self.inner.sink.borrow().clone() else {
            self.note("StartMiracastSession not called: no sink attached");
            return None;
        };
        let umd = self.inner.umd.clone();
        let guard = self.umd_serialized_lock().await;
        let raw = self.new_handle().0;
        let link = SimRtspLink::connect(&self.inner.sched, &self.inner.findings, raw, peer);
        {
            let mut session = self.inner.session.borrow_mut();
            session.link = Some(link.clone());
            session.serialized_call = Some((self.inner.sched.current(), Ddi::StartMiracastSession));
            session.stop_begun = false;
        }
        *self.inner.chunks.borrow_mut() = Default::default();
        *self.inner.chunk_ids.borrow_mut() = Default::default();
        self.inner.start_finished.reset();
        self.inner.session_gone.reset();
        self.set_phase(SessionPhase::StartPending);
        let config = &self.inner.config;
        let stats = WfdConnectionStats {
            current_bit_rate: config.suggested_bitrate,
            local_max_bit_rate: config.local_max_bitrate,
            remote_max_bit_rate: config.remote_max_bitrate,
        };
        let socket: Rc<dyn crate::ddi::RtspSocket> = link.clone();
        let ((status, info), _, leave) = self
            .call(
                Ddi::StartMiracastSession,
                CallArgs::StartSession {
                    socket: raw,
                    current_bit_rate: stats.current_bit_rate,
                    local_max: stats.local_max_bit_rate,
                    remote_max: stats.remote_max_bit_rate,
                },
                umd.start_miracast_session(context, socket, stats),
                |(s, i)| {
                    (
                        Some(*s),
                        CallOut::SessionInfo {
                            monitor_connected: i.monitor_connected(),
                            reduced_mode_list: i.reduced_mode_list_due_to_bandwidth(),
                            reserved: i.reserved(),
                        },
                    )
                },
            )
            .await;
        self.check_start_result(status, info, leave);
        self.inner.session.borrow_mut().serialized_call = None;
        if status == NtStatus::STATUS_SUCCESS {
            self.set_phase(SessionPhase::Started);
            self.release_held_messages();
        } else {
            self.set_phase(SessionPhase::Stopped);
            self.drop_held_messages();
            link.close_by_os();
            self.inner.session.borrow_mut().link = None;
        }
        self.inner.start_finished.set();
        drop(guard);
        Some(status)
    }

    /// R39, R40 on what `StartMiracastSession` returned.
    fn check_start_result(&self, status: NtStatus, info: SessionInfo, leave: u32) {
        let facts = self.inner.sink_facts.borrow().clone();
        let threshold = self
            .inner
            .config
            .min_bitrate_1024x768
            .unwrap_or(crate::wfd::select::DEFAULT_MIN_BITRATE_1024X768);
        let too_low = self.inner.config.suggested_bitrate < threshold;
        if facts.monitor_present
            && facts.supports_1024x768
            && too_low
            && status != NtStatus::STATUS_DEVICE_INSUFFICIENT_RESOURCES
        {
            self.report(
                CheckId::StartResult,
                RuleId::R39,
                Culprit::Umd,
                format!(
                    "the suggested bit rate {} bit/s cannot carry 1024x768 (needs {} bit/s) with a monitor behind the sink, yet StartMiracastSession returned {status} instead of STATUS_DEVICE_INSUFFICIENT_RESOURCES",
                    self.inner.config.suggested_bitrate,
                    threshold
                ),
                vec![leave],
            );
        }
        if status == NtStatus::STATUS_SUCCESS {
            if info.reserved() != 0 {
                self.report(
                    CheckId::StartResult,
                    RuleId::R40,
                    Culprit::Umd,
                    format!(
                        "MIRACAST_SESSION_INFO.Reserved is {:#x}; it must be 0",
                        info.reserved()
                    ),
                    vec![leave],
                );
            }
            if info.monitor_connected() != facts.monitor_present {
                self.report(
                    CheckId::StartResult,
                    RuleId::R40,
                    Culprit::Umd,
                    format!(
                        "MIRACAST_SESSION_INFO.MonitorConnected is {} but the sink {} a monitor",
                        u8::from(info.monitor_connected()),
                        if facts.monitor_present {
                            "reported"
                        } else {
                            "did not report"
                        }
                    ),
                    vec![leave],
                );
            }
        }
    }

    /// `StopMiracastSession` (serialized), with the stop budget (R20, R45). The OS closes the
    /// RTSP socket after it returns.
    pub async fn stop_session(&self) -> Option<()> {
        let (context, phase) = (self.inner.umd_host.borrow().context(), self.phase());
        let Some(context) = context.filter(|_| phase == SessionPhase::Started) else {
            self.note("StopMiracastSession not called: no started session");
            return None;
        };
        let guard = self.umd_serialized_lock().await;
        if self.phase() != SessionPhase::Started {
            self.note("StopMiracastSession not called: the session was already stopped");
            return None;
        }
        self.set_phase(SessionPhase::StopPending);
        let link = {
            let mut session = self.inner.session.borrow_mut();
            session.stop_begun = true;
            session.link.clone()
        };
        if let Some(link) = &link {
            link.note_stop_begun();
        }
        self.inner.session_gone.set();
        self.drop_held_messages();
        // The call runs on its own thread so the OS can act when it overruns the budget (R20).
        let done = crate::sched::SimEvent::new(&self.inner.sched, "stop-returned", false);
        let (os, done2) = (self.clone(), done.clone());
        let started_at = self.inner.sched.now();
        self.inner.sched.spawn("os-stop", false, async move {
            os.inner.session.borrow_mut().serialized_call =
                Some((os.inner.sched.current(), Ddi::StopMiracastSession));
            let umd = os.inner.umd.clone();
            os.call(
                Ddi::StopMiracastSession,
                CallArgs::Context { context },
                umd.stop_miracast_session(context),
                |_| (None, CallOut::None),
            )
            .await;
            os.finish_datarate().await;
            os.inner.session.borrow_mut().serialized_call = None;
            done2.set();
        });
        let budget = Self::ms(self.inner.config.stop_budget_ms);
        if !done.wait(Some(budget)).await {
            let seq = self.inner.sched.trace_len();
            self.report(
                CheckId::StopBudget,
                RuleId::R45,
                Culprit::Umd,
                format!(
                    "StopMiracastSession did not return within the stop budget of {} ms",
                    self.inner.config.stop_budget_ms
                ),
                vec![seq],
            );
            self.note("stop budget exceeded: the OS destroys the KMD Miracast context while the UMD still runs, and blocks its MiracastIoControl calls (R20)");
            self.inner.kmd_context.borrow_mut().mark_overrun();
            self.kmd_destroy_context().await;
            done.wait(None).await;
            let took = self.inner.sched.now() - started_at;
            self.note(format!(
                "StopMiracastSession returned after {} ms",
                took.as_millis()
            ));
        }
        self.set_phase(SessionPhase::Stopped);
        if let Some(link) = link {
            link.close_by_os();
        }
        self.inner.session.borrow_mut().link = None;
        drop(guard);
        Some(())
    }

    /// `DestroyMiracastContext` (serialized), with its 3 s budget and the "nothing survives"
    /// check (R46).
    pub async fn umd_destroy_context(&self) -> Option<()> {
        let context = self.inner.umd_host.borrow().context();
        let Some(context) = context else {
            self.note("DestroyMiracastContext not called: no UMD context");
            return None;
        };
        if self.phase() == SessionPhase::Started {
            if self.knobs().destroy_without_stop {
                // OS-model knob (R38): Destroy runs on a started session without a Stop.
                self.note("OS-model knob destroy_without_stop: DestroyMiracastContext without StopMiracastSession first");
            } else {
                self.stop_session().await;
            }
        }
        let umd = self.inner.umd.clone();
        // A destroyed context gets no more data-rate notifications. After a Stop the
        // registration is gone already; only a Destroy without one (the `destroy_without_stop`
        // knob) finds it still there.
        if self.inner.datarate.borrow().registered() == Some(context) {
            self.inner.datarate.borrow_mut().unregister();
        }
        // No data-rate notification may still run the UMD's code when it is destroyed.
        self.datarate_quiesce().await;
        let guard = self.umd_serialized_lock().await;
        self.inner.umd_host.borrow().context()?;
        {
            // From here the session goes away, with or without a Stop first: GetNextChunkData
            // answers STATUS_INSTANCE_NOT_AVAILABLE (R54).
            let mut session = self.inner.session.borrow_mut();
            session.serialized_call =
                Some((self.inner.sched.current(), Ddi::DestroyMiracastContext));
            session.stop_begun = true;
        }
        let started_at = self.inner.sched.now();
        let (_, _, leave) = self
            .call(
                Ddi::DestroyMiracastContext,
                CallArgs::Context { context },
                umd.destroy_miracast_context(context),
                |_| (None, CallOut::None),
            )
            .await;
        let took = self.inner.sched.now() - started_at;
        {
            let mut session = self.inner.session.borrow_mut();
            session.serialized_call = None;
            session.stop_begun = true;
        }
        self.inner.umd_host.borrow_mut().destroyed_now();
        self.inner.session_gone.set();
        drop(guard);
        if took > Self::ms(self.inner.config.destroy_budget_ms) {
            self.report(
                CheckId::DestroyBudget,
                RuleId::R46,
                Culprit::Umd,
                format!(
                    "DestroyMiracastContext took {} ms; it should finish within {} ms",
                    took.as_millis(),
                    self.inner.config.destroy_budget_ms
                ),
                vec![leave],
            );
        }
        let survivors: Vec<String> = self
            .inner
            .sched
            .live_threads_of(crate::sched::drivers::UMD)
            .into_iter()
            .map(|(thread, name)| format!("{name} (t{thread})"))
            .collect();
        if !survivors.is_empty() {
            self.report(
                CheckId::DestroyBudget,
                RuleId::R46,
                Culprit::Umd,
                format!("UMD threads still alive after DestroyMiracastContext returned (the OS unloads the DLL): {}", survivors.join(", ")),
                vec![leave],
            );
        }
        Some(())
    }

    /// The whole connection: KMD context, UMD load and context, start. Returns the first
    /// status that is not `STATUS_SUCCESS`, or success.
    pub async fn connect(&self) -> NtStatus {
        if !self.inner.adapter_state.borrow().miracast_available {
            // No Miracast target (no interface, or none reported): Windows offers no Miracast
            // display, so there is no session to start.
            self.note("no Miracast session: the adapter has no Miracast target");
            return NtStatus::STATUS_NOT_SUPPORTED;
        }
        if let Some(s) = self.kmd_create_context().await
            && s != NtStatus::STATUS_SUCCESS
        {
            return s;
        }
        if !self.inner.umd_host.borrow().loaded() {
            let s = self.umd_load().await;
            if s != NtStatus::STATUS_SUCCESS {
                return s;
            }
        }
        if let Some(s) = self.umd_create_context().await
            && s != NtStatus::STATUS_SUCCESS
        {
            return s;
        }
        self.start_session()
            .await
            .unwrap_or(NtStatus::STATUS_INVALID_DEVICE_STATE)
    }

    /// The whole disconnection: stop, UMD destroy, KMD destroy (steps 14-16 of the lifecycle).
    pub async fn disconnect(&self) {
        self.stop_session().await;
        self.umd_destroy_context().await;
        self.kmd_destroy_context().await;
    }

    /// `DxgkDdiCreateContext` `count` times (GPU contexts, Level 0). Returns the first status
    /// other than `STATUS_SUCCESS` (or success) and how many were created. Checks R71.
    pub async fn create_gpu_contexts(&self, count: u32, incompatible_umd: bool) -> (NtStatus, u32) {
        let kmd = self.inner.kmd.clone();
        let mut created = 0;
        for _ in 0..count {
            let args = CreateContextArgs {
                node_ordinal: 0,
                engine_affinity: 1,
                flags: CreateContextFlags(0),
                private_driver_data: if incompatible_umd {
                    INCOMPATIBLE_D3D_UMD_MARKER.to_vec()
                } else {
                    b"D3DUMD-1.3".to_vec()
                },
            };
            self.inner
                .memory
                .borrow_mut()
                .begin_call(self.inner.sched.current());
            let _adapter = self.inner.adapter.read().await;
            let ((status, handle), _, leave) = self
                .call(
                    Ddi::DxgkDdiCreateContext,
                    CallArgs::CreateGpuContext {
                        node_ordinal: args.node_ordinal,
                        private_size: args.private_driver_data.len() as u32,
                    },
                    kmd.create_context(&args),
                    |(s, h)| (Some(*s), CallOut::Context { context: *h }),
                )
                .await;
            let (allocated, exhausted) = {
                let mut memory = self.inner.memory.borrow_mut();
                let (a, f) = memory.end_call(self.inner.sched.current());
                (a.saturating_sub(f), memory.exhausted())
            };
            if status == NtStatus::STATUS_SUCCESS {
                self.inner
                    .memory
                    .borrow_mut()
                    .add_gpu_context(handle, allocated);
                created += 1;
                continue;
            }
            let legitimate = (status == NtStatus::STATUS_NO_MEMORY && exhausted)
                || (status == NtStatus::STATUS_GRAPHICS_DRIVER_MISMATCH && incompatible_umd);
            if !legitimate {
                self.report(
                    CheckId::GpuContextCreate,
                    RuleId::R71,
                    Culprit::Kmd,
                    format!(
                        "DxgkDdiCreateContext refused GPU context {} with {status}; the only legitimate refusal is STATUS_NO_MEMORY when memory is exhausted (it was {})",
                        created + 1,
                        if exhausted { "exhausted" } else { "available" }
                    ),
                    vec![leave],
                );
            }
            return (status, created);
        }
        (NtStatus::STATUS_SUCCESS, created)
    }

    /// `DxgkDdiDestroyContext` for every GPU context; checks R72 (what it allocated is freed).
    pub async fn destroy_gpu_contexts(&self) -> NtStatus {
        let kmd = self.inner.kmd.clone();
        let contexts = self.inner.memory.borrow_mut().take_gpu_contexts();
        let mut first = NtStatus::STATUS_SUCCESS;
        for (handle, allocated) in contexts {
            self.inner
                .memory
                .borrow_mut()
                .begin_call(self.inner.sched.current());
            let _adapter = self.inner.adapter.read().await;
            let (status, _, leave) = self
                .call(
                    Ddi::DxgkDdiDestroyContext,
                    CallArgs::Context { context: handle },
                    kmd.destroy_context(handle),
                    |s| (Some(*s), CallOut::None),
                )
                .await;
            let (a, f) = self
                .inner
                .memory
                .borrow_mut()
                .end_call(self.inner.sched.current());
            let freed = f.saturating_sub(a);
            if freed < allocated {
                self.report(
                    CheckId::GpuContextDestroy,
                    RuleId::R72,
                    Culprit::Kmd,
                    format!("DxgkDdiDestroyContext freed {freed} of the {allocated} bytes GPU context {:#x} allocated", handle.0),
                    vec![leave],
                );
            }
            if status != NtStatus::STATUS_SUCCESS && first == NtStatus::STATUS_SUCCESS {
                first = status;
            }
        }
        first
    }

    /// Adapter stop: `DxgkDdiRemoveDevice` at PASSIVE_LEVEL with the adapter lock held
    /// exclusively (a Level-3 call), after which the OS unloads the KMD.
    pub async fn remove_adapter(&self) -> NtStatus {
        let kmd = self.inner.kmd.clone();
        let level3 = self.level3_lock().await;
        let (status, _, _) = self
            .call(
                Ddi::DxgkDdiRemoveDevice,
                CallArgs::None,
                kmd.remove_device(),
                |s| (Some(*s), CallOut::None),
            )
            .await;
        drop(level3);
        status
    }

    /// `DxgkDdiCommitVidPn`; with `monitor_power_off` the KMD must tell the UMD (R31).
    pub async fn commit_vidpn(&self, monitor_power_off: bool) -> Option<NtStatus> {
        let target = self.miracast_target()?;
        let kmd = self.inner.kmd.clone();
        let _level2 = self.inner.adapter.read().await;
        let (status, _, _) = self
            .call(
                Ddi::DxgkDdiCommitVidPn,
                CallArgs::CommitVidPn {
                    target,
                    monitor_power_off,
                },
                kmd.commit_vidpn(VidPnCommit {
                    target_id: target,
                    monitor_power_off,
                }),
                |s| (Some(*s), CallOut::None),
            )
            .await;
        Some(status)
    }

    /// Tells the KMD that its encoder is busy (a binary through its test hook); from then on
    /// `DxgkDdiMiracastCreateContext` must answer `STATUS_RESOURCE_IN_USE` (R17), if the KMD
    /// accepted the request.
    pub async fn tell_encoder_busy(&self) -> NtStatus {
        let kmd = self.inner.kmd.clone();
        let status = kmd.set_encoder_busy(true).await;
        if status == NtStatus::STATUS_SUCCESS {
            self.set_hardware_busy(true);
            self.note("the KMD was told its encoder is busy (test hook)");
        } else {
            self.note(format!(
                "the KMD refused to be told its encoder is busy (test hook returned {status})"
            ));
        }
        status
    }

    /// The test request telling the KMD that the monitor behind the Miracast target is gone, as
    /// its hardware would (a binary through its test hook); the KMD reports the departure.
    pub async fn kmd_monitor_departs(&self) -> NtStatus {
        let kmd = self.inner.kmd.clone();
        self.test_escape(0, 0, kmd.monitor_departs()).await
    }

    /// The test escape asking the KMD to send `payload` to the UMD.
    pub async fn escape_send_message(&self, payload: &[u8], output_size: u32) -> NtStatus {
        let kmd = self.inner.kmd.clone();
        let request = kmd.escape_send_message(payload, output_size);
        self.test_escape(payload.len() as u32, output_size, request)
            .await
    }

    /// A scenario's test request to the KMD, traced as the `DxgkDdiEscape` a test would make on
    /// Windows (a binary KMD gets it through its test hook), under the adapter's shared lock.
    async fn test_escape(
        &self,
        payload_size: u32,
        output_size: u32,
        request: impl std::future::Future<Output = NtStatus>,
    ) -> NtStatus {
        let _adapter = self.inner.adapter.read().await;
        let (status, _, _) = self
            .call(
                Ddi::DxgkDdiEscape,
                CallArgs::Escape {
                    payload_size,
                    output_size,
                },
                request,
                |s| (Some(*s), CallOut::None),
            )
            .await;
        status
    }

    /// The encoder finished a chunk: `DxgkDdiInterruptRoutine` on the `isr` context, then
    /// `DxgkDdiDpcRoutine` if the KMD asked for it. Checks R53 (overflow needs `DxgkCbNotifyDpc`).
    pub async fn raise_chunk_interrupt(
        &self,
        chunk_info: ChunkInfo,
        private_driver_data: Vec<u8>,
    ) -> bool {
        let kmd = self.inner.kmd.clone();
        {
            let mut chunks = self.inner.chunks.borrow_mut();
            chunks.overflowed_in_isr = false;
            chunks.dpc_requested = false;
        }
        let (mine, _, leave) = self
            .call(
                Ddi::DxgkDdiInterruptRoutine,
                CallArgs::InterruptRoutine { chunk: chunk_info },
                async {
                    let claimed = kmd
                        .interrupt_routine(HardwareEvent::ChunkProcessed {
                            chunk_info,
                            private_driver_data,
                        })
                        .await;
                    let target = self.miracast_target();
                    if let Some(target) = target.filter(|_| self.knobs().pageable_from_isr) {
                        // OS-model knob (R70): a pageable DDI from inside the interrupt
                        // routine, on the same thread, at DIRQL.
                        self.note("OS-model knob pageable_from_isr: DxgkDdiQueryChildStatus from inside DxgkDdiInterruptRoutine");
                        let kind = ChildStatusKind::MiracastConnection {
                            connected: false,
                            monitor_type: VideoOutputTechnology::Uninitialized,
                        };
                        let _ = self.query_child_status(target, kind).await;
                    }
                    claimed
                },
                |m| (None, CallOut::Claimed { claimed: *m }),
            )
            .await;
        let (overflowed, dpc) = {
            let chunks = self.inner.chunks.borrow();
            (chunks.overflowed_in_isr, chunks.dpc_requested)
        };
        if overflowed && !dpc {
            self.report(
                CheckId::ChunkOverflowDpc,
                RuleId::R53,
                Culprit::Kmd,
                "the chunk queue overflowed (MiracastEncodeChunkCompleted.Status = STATUS_NO_MEMORY) and the KMD did not call DxgkCbNotifyDpc",
                vec![leave],
            );
        }
        if dpc {
            let _adapter = self.inner.adapter.read().await;
            self.call(
                Ddi::DxgkDdiDpcRoutine,
                CallArgs::None,
                kmd.dpc_routine(),
                |_| (None, CallOut::None),
            )
            .await;
        }
        mine
    }

    /// A `MiracastIoControl` issued by a UMD thread that is not running any UMD function (the
    /// scenario's "IOCTL from another thread", R42/R44). Runs on the calling simulated thread,
    /// which should be named `umd-...`.
    pub async fn io_control_from_umd_thread(
        &self,
        hardware_access: bool,
        input: &[u8],
        output_size: u32,
    ) -> Option<(NtStatus, u32)> {
        let device = self.inner.umd_host.borrow().device();
        if self.inner.umd_host.borrow().context().is_none() {
            self.note("MiracastIoControl not issued: no UMD context");
            return None;
        }
        let services = UmdServices::new(self);
        let mut output = vec![0u8; output_size as usize];
        Some(
            services
                .miracast_io_control(device, hardware_access, input, &mut output)
                .await,
        )
    }

    /// Sleep (S3 or connected standby): the OS tears an active session down (HLK "Sleep").
    pub async fn power_sleep(&self) {
        self.note("system enters sleep: the OS tears the Miracast session down");
        self.disconnect().await;
    }

    /// Acts on the sink (monitor arrives or departs, IDR request, disconnect, ...).
    pub fn with_sink<R>(
        &self,
        f: impl FnOnce(&mut dyn super::SinkPeer, crate::time::SimTime) -> R,
    ) -> Option<R> {
        let link = self.inner.session.borrow().link.clone();
        match link {
            Some(link) => Some(link.with_peer(f)),
            None => {
                let peer = self.inner.sink.borrow().clone()?;
                let now = self.inner.sched.now();
                let r = f(peer.borrow_mut().as_mut(), now);
                Some(r)
            }
        }
    }
}

/// What `DxgkDdiMiracastQueryCaps` handed back, for the trace.
fn caps_out((s, c, w): &(NtStatus, MiracastCaps, u32)) -> (Option<NtStatus>, CallOut) {
    (
        Some(*s),
        CallOut::Caps {
            bytes_written: *w,
            max_chunk_private: c.max_chunk_private_driver_data_size,
            hdcp: c.hdcp_support(),
        },
    )
}
