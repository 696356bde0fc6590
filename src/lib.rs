//! miracast-sim: a simulator of the Windows WDDM Miracast driver stack.
//!
//! It plays dxgkrnl and the Miracast user-mode host against a driver under test, with a Wi-Fi
//! Display sink at the far end, checks every documented rule, explores orderings, and replays
//! failures exactly. Map of the modules:
//! - [`scenario`]: the JSON scenario format, its validation and located errors.
//! - [`runner`]: plays one scenario under one strategy and judges it; replay tokens.
//! - [`report`], [`cli`]: human / JSON / JUnit reports and the command line.
//! - [`os`]: the OS model (adapter, contexts, session phases, messages, chunks) in virtual time.
//! - [`sched`]: the deterministic scheduler of simulated threads, strategies, race detection.
//! - [`rules`]: the rule catalogue R1..R74, online findings and trace checks.
//! - [`ddi`], [`status`]: DDI names, Rust-named types and driver traits; NTSTATUS values.
//! - [`model`]: the reference KMD and UMD with bug knobs; [`backend`]: where drivers come from.
//! - [`wfd`], [`net`]: Wi-Fi Display RTSP source and sink (sans-IO) and their TCP edge.
//! - [`trace`], [`time`]: the event trace with its stable text form; virtual time.

pub mod backend;
pub mod cli;
pub mod ddi;
pub mod explore;
pub mod model;
pub mod net;
pub mod os;
pub mod profile;
pub mod props;
pub mod report;
pub mod rules;
pub mod runner;
pub mod scenario;
pub mod sched;
pub mod status;
pub mod time;
pub mod trace;
pub mod wfd;
