//! The step interpreter: each step list runs on one simulated OS thread (`os-scenario`, and
//! `os-branch-I.B` for branch B of the `Parallel` step I); a `MiracastIoControl` step runs on a
//! UMD thread of its own (`umd-ioctl-I`) that the step waits for.

use super::StepOutcome;
use crate::ddi::{ChunkId, ChunkInfo, ChunkType, SessionPhase};
use crate::os::Os;
use crate::scenario::sink::{SinkCommand, SinkControl};
use crate::scenario::{Scenario, Step, StepOp};
use crate::sched::SimEvent;
use crate::status::NtStatus;
use crate::trace::EventKind;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// Shared state of one run's step threads.
pub(super) struct Exec {
    os: Os,
    sink: SinkControl,
    outcomes: RefCell<Vec<StepOutcome>>,
}

impl Exec {
    pub(super) fn new(os: Os, sink: SinkControl, scenario: &Scenario) -> Self {
        let mut outcomes = Vec::with_capacity(scenario.step_count);
        fn collect(steps: &[Step], out: &mut Vec<StepOutcome>) {
            for s in steps {
                out.push(StepOutcome {
                    index: s.index,
                    label: s.label(),
                    ran: false,
                    status: None,
                });
                if let StepOp::Parallel(branches) = &s.op {
                    branches.iter().for_each(|b| collect(b, out));
                }
            }
        }
        collect(&scenario.steps, &mut outcomes);
        outcomes.sort_by_key(|o| o.index);
        Exec {
            os,
            sink,
            outcomes: RefCell::new(outcomes),
        }
    }

    pub(super) fn outcomes(&self) -> Vec<StepOutcome> {
        self.outcomes.borrow().clone()
    }

    fn record(&self, index: usize, status: Option<NtStatus>) {
        if let Some(o) = self.outcomes.borrow_mut().get_mut(index) {
            o.ran = true;
            o.status = status;
        }
    }

    /// A fresh sink answers the RTSP connection a start is about to open.
    fn fresh_sink_if_stopped(&self) {
        // Through `with_sink`, so the step records that it changed the sink.
        if self.os.phase() == SessionPhase::Stopped
            && let Some(Err(e)) = self.os.with_sink(|_, now| self.sink.reconnect(now))
        {
            self.os.sched().emit(EventKind::Note {
                text: format!("sink configuration rejected: {e}"),
            });
        }
    }

    fn sink_action(&self, command: SinkCommand) {
        // Queued inside `with_sink`, so the step records that it changed the sink.
        let _ = self.os.with_sink(|peer, now| {
            self.sink.push(command);
            peer.handle_timeout(now);
        });
    }
}

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Runs `steps` in order on the current simulated thread.
pub(super) fn run_steps(exec: Rc<Exec>, steps: Rc<Vec<Step>>) -> LocalFuture {
    Box::pin(async move {
        for step in steps.iter() {
            run_step(&exec, step).await;
        }
    })
}

async fn run_step(exec: &Rc<Exec>, step: &Step) {
    let os = &exec.os;
    let sched = os.sched().clone();
    sched.emit(EventKind::Step {
        index: step.index,
        op: step.op.name().to_owned(),
    });
    let status: Option<NtStatus> = match &step.op {
        StepOp::AdapterBringUp => Some(os.bring_up_adapter().await),
        StepOp::AdapterRemove => Some(os.remove_adapter().await),
        StepOp::KmdCreateContext => os.kmd_create_context().await,
        StepOp::UmdLoad => Some(os.umd_load().await),
        StepOp::UmdCreateContext => os.umd_create_context().await,
        StepOp::StartSession => {
            exec.fresh_sink_if_stopped();
            os.start_session().await
        }
        StepOp::StopSession => {
            os.stop_session().await;
            None
        }
        StepOp::UmdDestroyContext => {
            os.umd_destroy_context().await;
            None
        }
        StepOp::KmdDestroyContext => {
            os.kmd_destroy_context().await;
            None
        }
        StepOp::Connect | StepOp::Resume => {
            if matches!(step.op, StepOp::Resume) {
                sched.emit(EventKind::Note {
                    text: "system resumes: the OS connects the Miracast session again".to_owned(),
                });
            }
            exec.fresh_sink_if_stopped();
            Some(os.connect().await)
        }
        StepOp::Disconnect => {
            os.disconnect().await;
            None
        }
        StepOp::KmdSendMessage {
            payload,
            output_size,
            named,
        } => {
            let payload = os.in_profile_framing(payload, *named, false);
            Some(os.escape_send_message(&payload, *output_size).await)
        }
        StepOp::KmdMonitorDeparts => Some(os.kmd_monitor_departs().await),
        StepOp::MiracastIoControl {
            hardware_access,
            payload,
            output_size,
            named,
        } => {
            let payload = os.in_profile_framing(payload, *named, true);
            let done = SimEvent::new(&sched, format!("ioctl-{}-done", step.index), false);
            let answer: Rc<Cell<Option<NtStatus>>> = Rc::new(Cell::new(None));
            let (os2, done2, answer2, payload, hw, size) = (
                os.clone(),
                done.clone(),
                answer.clone(),
                payload.clone(),
                *hardware_access,
                *output_size,
            );
            sched.spawn(format!("umd-ioctl-{}", step.index), false, async move {
                let r = os2.io_control_from_umd_thread(hw, &payload, size).await;
                answer2.set(r.map(|(s, _)| s));
                done2.set();
            });
            done.wait(None).await;
            answer.get()
        }
        StepOp::CreateGpuContexts {
            count,
            incompatible_umd,
        } => Some(os.create_gpu_contexts(*count, *incompatible_umd).await.0),
        StepOp::DestroyGpuContexts => Some(os.destroy_gpu_contexts().await),
        StepOp::CommitVidPn { monitor_power_off } => os.commit_vidpn(*monitor_power_off).await,
        StepOp::EncodeChunks {
            frames,
            parts,
            chunk_types,
            private_data_size,
            first_frame,
        } => {
            for frame in *first_frame..*first_frame + u64::from(*frames) {
                for chunk_type in chunk_types {
                    // Slices of an encoded frame count up and the last one is part 0 (R58).
                    let part_numbers: Vec<u64> = if *chunk_type == ChunkType::EncodeComplete {
                        (1..u64::from(*parts)).chain(std::iter::once(0)).collect()
                    } else {
                        vec![0]
                    };
                    for part in part_numbers {
                        let info = ChunkInfo {
                            chunk_type: *chunk_type,
                            chunk_id: ChunkId::new(frame, part).unwrap_or_default(),
                            processing_time: 1_000,
                            encode_rate: if *chunk_type == ChunkType::EncodeComplete {
                                8_000
                            } else {
                                0
                            },
                        };
                        os.raise_chunk_interrupt(info, vec![0xA5; *private_data_size as usize])
                            .await;
                    }
                }
            }
            None
        }
        StepOp::SinkMonitorArrives => {
            exec.sink_action(SinkCommand::MonitorArrives);
            None
        }
        StepOp::SinkMonitorDeparts => {
            exec.sink_action(SinkCommand::MonitorDeparts);
            None
        }
        StepOp::SinkIdrRequest => {
            exec.sink_action(SinkCommand::IdrRequest);
            None
        }
        StepOp::SinkDisconnect => {
            exec.sink_action(SinkCommand::Teardown);
            None
        }
        StepOp::Sleep => {
            os.power_sleep().await;
            None
        }
        StepOp::Advance(by) => {
            sched.sleep(*by).await;
            None
        }
        StepOp::Parallel(branches) => {
            let mut waits = Vec::new();
            for (b, branch) in branches.iter().enumerate() {
                let done = SimEvent::new(&sched, format!("branch-{}.{b}-done", step.index), false);
                let (exec2, done2, steps) = (exec.clone(), done.clone(), Rc::new(branch.clone()));
                sched.spawn(format!("os-branch-{}.{b}", step.index), false, async move {
                    run_steps(exec2, steps).await;
                    done2.set();
                });
                waits.push(done);
            }
            for done in waits {
                done.wait(None).await;
            }
            None
        }
    };
    exec.record(step.index, status);
}
