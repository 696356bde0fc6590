//! Raw scenario -> validated [`Scenario`]: defaults filled in, payloads and durations parsed,
//! DDI names and statuses checked, step ids unique, and every step reachable in the phase the
//! steps before it leave.
//!
//! Phase reachability is a small abstract interpretation over the steps: each piece of state
//! (adapter started, KMD context, UMD loaded, UMD context, session started, GPU contexts) is
//! `No`, `Maybe` or `Yes`. A step that needs a piece that is certainly `No` can never happen
//! and is rejected; anything uncertain (a step expected to fail, a `Parallel` branch) makes the
//! piece `Maybe` and is accepted.

use super::error::{ScenarioError, ScenarioErrorKind};
use super::raw::{RawBefore, RawExpect, RawMatcher, RawScenario, RawStep, ScenarioKind};
use super::span::Spanned;
use super::{Backend, Event, Expect, Matcher, Scenario, Setup, SinkFacts, Step, StepOp};
use crate::ddi::{ChunkType, Ddi, VideoOutputTechnology};
use crate::model::protocol::{IoctlRequest, KmdMessage};
use crate::rules::RuleId;
use crate::status::NtStatus;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

/// The most `other_targets` an adapter may have.
pub const MAX_OTHER_TARGETS: u32 = 64;
/// The most steps (nested ones included) a scenario may have.
pub const MAX_STEPS: usize = 2_000_000;

/// Everything resolve needs to report an error at the right place.
struct Ctx<'a> {
    path: &'a str,
    text: &'a str,
    /// Byte offsets where lines start, so each step's line is a binary search (a file with a
    /// million steps resolves in linear time).
    lines: super::span::LineIndex,
}

impl Ctx<'_> {
    fn err(
        &self,
        at: Option<Range<usize>>,
        kind: ScenarioErrorKind,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::at(self.path, self.text, at, kind, message, Some(help.into()))
    }
}

/// A JSON location inside the tree: the steps array path to one step.
#[derive(Clone, Copy)]
struct At<'a>(Option<&'a Spanned>);

impl<'a> At<'a> {
    fn span(self) -> Option<Range<usize>> {
        self.0.map(|s| s.span.clone())
    }
    fn field(self, key: &str) -> Option<Range<usize>> {
        self.0.and_then(|s| s.get(key)).map(|v| v.span.clone())
    }
    fn op(self) -> Option<Range<usize>> {
        self.field("op").or(self.span())
    }
    fn child(self, key: &str) -> At<'a> {
        At(self.0.and_then(|s| s.get(key)))
    }
    fn index(self, i: usize) -> At<'a> {
        At(self.0.and_then(|s| s.index(i)))
    }
}

/// Resolves a parsed file, reporting every mistake it can find in one pass (in file order):
/// the header, each step (a step that cannot happen, or has a bad value, is reported and the
/// ones after it are checked as if it had not been there), and the expectations. `path` and `text` are for error locations.
///
/// # Errors
/// Every mistake found; never empty.
pub(super) fn resolve_all(
    raw: RawScenario,
    path: &str,
    text: &str,
    tree: Option<&Spanned>,
) -> Result<Scenario, Vec<ScenarioError>> {
    let cx = Ctx {
        path,
        text,
        lines: super::span::LineIndex::new(text),
    };
    let root = At(tree);
    let mut errors = Vec::new();
    if raw.version != 1 {
        errors.push(cx.err(
            root.field("version"),
            ScenarioErrorKind::Version,
            format!("unsupported format version {}", raw.version),
            "this build reads scenario format version 1; write \"version\": 1",
        ));
    }
    if raw.name.trim().is_empty() {
        errors.push(cx.err(
            root.field("name"),
            ScenarioErrorKind::Invalid,
            "empty scenario name",
            "give the scenario a short unique name; reports show it",
        ));
    }
    check_kind(&cx, &raw, root, &mut errors);
    let setup_at = root.child("setup");
    let backend = parse_backend(&raw.setup.driver.backend).unwrap_or_else(|help| {
        errors.push(cx.err(
            setup_at.child("driver").field("backend"),
            ScenarioErrorKind::Invalid,
            format!("unknown backend `{}`", raw.setup.driver.backend),
            help,
        ));
        Backend::Model
    });
    let caps = match raw.setup.sink.capability_set() {
        Ok(c) => c,
        Err(e) => {
            errors.push(cx.err(setup_at.field("sink"), ScenarioErrorKind::Invalid, format!("invalid sink capabilities: {e}"), "fix the override in `setup.sink.capabilities` (values are in Wi-Fi Display wire grammar)"));
            return Err(errors);
        }
    };
    let supports_1024x768 = caps.video.as_ref().is_some_and(|v| {
        v.modes()
            .iter()
            .any(|(_, _, m)| m.width >= 1024 && m.height >= 768)
    });
    let sink_facts = SinkFacts {
        monitor_present: caps.edid.is_some(),
        supports_1024x768,
        connector_type: caps.connector.map(|c| c.0),
    };

    let mut os = raw.setup.os.clone();
    let mut umd = raw.setup.driver.umd.clone();
    // One threshold for the OS's check and the UMD's decision (R39), so that a scenario says it
    // once; the Wi-Fi Display module's documented estimate when neither says it.
    let threshold = os
        .min_bitrate_1024x768
        .or(umd.min_bitrate_1024x768)
        .unwrap_or(crate::wfd::select::DEFAULT_MIN_BITRATE_1024X768);
    os.min_bitrate_1024x768 = Some(threshold);
    umd.min_bitrate_1024x768 = Some(threshold);

    let mut resolver = StepResolver {
        cx: &cx,
        next_index: 0,
        ids: BTreeMap::new(),
        errors: Vec::new(),
    };
    if raw.setup.adapter.other_targets > MAX_OTHER_TARGETS {
        return Err(vec![cx.err(
            setup_at.child("adapter").field("other_targets"),
            ScenarioErrorKind::Invalid,
            format!(
                "{} other targets is more than the {MAX_OTHER_TARGETS} the simulated adapter can have",
                raw.setup.adapter.other_targets
            ),
            format!("an adapter has a few video outputs; give 0 to {MAX_OTHER_TARGETS}"),
        )]);
    }
    let mut state = Abstract::initial();
    let steps = resolver
        .steps(&raw.steps, root.child("steps"), &mut state)
        .unwrap_or_default();
    errors.append(&mut resolver.errors);
    let step_count = resolver.next_index;
    if step_count > MAX_STEPS {
        errors.push(cx.err(
            root.field("steps"),
            ScenarioErrorKind::Invalid,
            format!("{step_count} steps is more than the {MAX_STEPS} a scenario may have"),
            "split the scenario, or use longer `Advance` steps and `EncodeChunks` frames",
        ));
        return Err(errors);
    }
    let expect = match resolve_expect(&cx, &raw.expect, root.child("expect")) {
        Ok(e) => e,
        Err(e) => {
            errors.push(e);
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    Ok(Scenario {
        path: path.to_owned(),
        name: raw.name,
        kind: raw.kind,
        description: raw.description,
        tags: raw.tags,
        relies_on: raw.relies_on,
        content_hash: content_hash(text),
        setup: Setup {
            adapter: raw.setup.adapter,
            sink: raw.setup.sink,
            sink_facts,
            backend,
            knobs: raw.setup.driver.knobs,
            umd,
            os,
            seed: raw.setup.seed.unwrap_or(0),
        },
        steps,
        step_count,
        expect,
    })
}

/// The folder a file lies in says its kind: a file under `conformance/` must say
/// `"kind": "conformance"`, one under `self-test/` `"kind": "self-test"`. A conformance
/// scenario passes on every correct driver, so it may use nothing only the reference drivers
/// honour (bug knobs, reference-UMD settings, adapter settings other than a busy encoder, the
/// reference KMD's incompatible-D3D-UMD marker), no OS-model knob, and expect no violation.
fn check_kind(cx: &Ctx<'_>, raw: &RawScenario, root: At<'_>, errors: &mut Vec<ScenarioError>) {
    let folder = folder_kind(cx.path);
    match (folder, raw.kind) {
        (Some(f), None) => errors.push(cx.err(
            root.field("name"),
            ScenarioErrorKind::MissingField,
            format!(
                "a scenario under a `{}/` folder must say its kind",
                f.name()
            ),
            format!("add \"kind\": \"{}\" next to \"name\"", f.name()),
        )),
        (Some(f), Some(k)) if f != k => errors.push(cx.err(
            root.field("kind"),
            ScenarioErrorKind::Invalid,
            format!(
                "this file says \"kind\": \"{}\" but lies under a `{}/` folder",
                k.name(),
                f.name()
            ),
            format!(
                "move the file under `{}/`, or write \"kind\": \"{}\"",
                k.name(),
                f.name()
            ),
        )),
        _ => {}
    }
    if raw.kind != Some(ScenarioKind::SelfTest) && !raw.relies_on.is_empty() {
        errors.push(cx.err(
            root.field("relies_on"),
            ScenarioErrorKind::Invalid,
            "only a self-test scenario may rely on what the reference drivers do beyond the documented contract",
            "a conformance scenario must hold for every correct driver: drop `relies_on`, or say \"kind\": \"self-test\" and move the file under `self-test/`",
        ));
    }
    for (side, why) in [("umd", &raw.relies_on.umd), ("kmd", &raw.relies_on.kmd)] {
        if why.as_deref().is_some_and(|w| w.trim().is_empty()) {
            errors.push(cx.err(
                root.child("relies_on").field(side),
                ScenarioErrorKind::Invalid,
                format!("`relies_on.{side}` is empty"),
                "say in a sentence what the expectation needs that driver to do; it is the reason shown when the scenario is skipped",
            ));
        }
    }
    if raw.kind != Some(ScenarioKind::Conformance) {
        return;
    }
    let setup = root.child("setup");
    let driver = setup.child("driver");
    let mut refuse = |at: Option<std::ops::Range<usize>>, what: String| {
        errors.push(cx.err(
            at,
            ScenarioErrorKind::Invalid,
            format!("a conformance scenario cannot use {what}"),
            "a conformance scenario passes on every correct driver, model or binary: move what only the reference drivers or a faulty OS do to a `self-test` scenario (under `self-test/`)",
        ));
    };
    let knobs = raw.setup.driver.knobs.enabled();
    if !knobs.is_empty() {
        refuse(
            driver.field("knobs"),
            format!("bug knobs of the reference drivers ({})", knobs.join(", ")),
        );
    }
    let os_knobs = raw.setup.os.knobs.enabled();
    if !os_knobs.is_empty() {
        refuse(
            setup.child("os").field("knobs"),
            format!("OS-model knobs ({})", os_knobs.join(", ")),
        );
    }
    let mut umd = raw.setup.driver.umd.clone();
    umd.min_bitrate_1024x768 = None;
    if umd != crate::model::UmdConfig::default() {
        refuse(
            driver.field("umd"),
            "settings of the reference UMD (`setup.driver.umd`)".to_owned(),
        );
    }
    let adapter = crate::model::KmdConfig {
        hardware_busy: false,
        ..raw.setup.adapter.clone()
    };
    if adapter != crate::model::KmdConfig::default() {
        refuse(
            setup.field("adapter"),
            "adapter settings of the reference KMD other than `hardware_busy`".to_owned(),
        );
    }
    if !raw.expect.violations.is_empty() {
        refuse(
            root.child("expect").field("violations"),
            "expected violations (a correct driver breaks no rule)".to_owned(),
        );
    }
    fn incompatible(steps: &[RawStep]) -> bool {
        steps.iter().any(|s| match s {
            RawStep::DxgkDdiCreateContext {
                incompatible_umd, ..
            } => *incompatible_umd,
            RawStep::Parallel { branches, .. } => branches.iter().any(|b| incompatible(b)),
            _ => false,
        })
    }
    if incompatible(&raw.steps) {
        refuse(
            root.field("steps"),
            "`incompatible_umd` (the marker is the reference KMD's own convention)".to_owned(),
        );
    }
}

/// `conformance` or `self-test` when a folder of the path has that name.
pub fn folder_kind(path: &str) -> Option<ScenarioKind> {
    let path = path.replace('\\', "/");
    let mut dirs: Vec<&str> = path.split('/').collect();
    dirs.pop();
    dirs.iter().rev().find_map(|d| match *d {
        "conformance" => Some(ScenarioKind::Conformance),
        "self-test" => Some(ScenarioKind::SelfTest),
        _ => None,
    })
}

/// The first 16 hex digits of the SHA-256 of the file, for replay tokens.
pub fn content_hash(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `model` or `real:PATH`; the error is the hint.
pub fn parse_backend(text: &str) -> Result<Backend, String> {
    if text == "model" {
        return Ok(Backend::Model);
    }
    if let Some(path) = text.strip_prefix("real:") {
        if path.is_empty() {
            return Err(
                "`real:` needs the path of the driver binary, e.g. `real:target/libmydriver.so`"
                    .to_owned(),
            );
        }
        return Ok(Backend::Real(path.into()));
    }
    Err(
        "the backend is `model` (the bundled reference drivers) or `real:PATH` (a driver binary)"
            .to_owned(),
    )
}

/// Parses `"2s"`, `"500ms"`, `"1.5s"`, `"250us"`, `"1m"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    let micros = match unit.trim() {
        "us" => value,
        "ms" => value * 1e3,
        "s" => value * 1e6,
        "m" | "min" => value * 60e6,
        other => return Err(format!("unknown unit `{other}` in `{text}`")),
    };
    if !micros.is_finite() || !(0.0..=1e13).contains(&micros) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_micros(micros.round() as u64))
}

/// A kernel message for `KmdSendMessage`.
fn parse_message(text: &str) -> Result<Vec<u8>, String> {
    if let Some(hex) = text.strip_prefix("hex:") {
        return parse_hex(hex);
    }
    let (name, arg) = text
        .split_once(':')
        .map_or((text, None), |(n, a)| (n, Some(a)));
    match (name, arg) {
        ("PING", seq) => {
            let seq = seq.map_or(Ok(1), |s| {
                s.parse::<u32>()
                    .map_err(|_| format!("`{s}` is not a PING sequence number"))
            })?;
            Ok(KmdMessage::Ping {
                seq,
                data: Vec::new(),
            }
            .encode())
        }
        ("POWER_OFF_MONITOR", None) => Ok(KmdMessage::PowerOffMonitor.encode()),
        ("POWER_ON_MONITOR", None) => Ok(KmdMessage::PowerOnMonitor.encode()),
        _ => Err(format!(
            "`{text}` is not a kernel message: write PING, PING:7, POWER_OFF_MONITOR, POWER_ON_MONITOR or hex:<bytes>"
        )),
    }
}

/// An IOCTL request for `MiracastIoControl`.
fn parse_ioctl(text: &str) -> Result<Vec<u8>, String> {
    if let Some(hex) = text.strip_prefix("hex:") {
        return parse_hex(hex);
    }
    match text {
        "QUERY_STATUS" => Ok(IoctlRequest::QueryStatus.encode()),
        "REQUEST_IFRAME" => Ok(IoctlRequest::RequestIframe.encode()),
        "MONITOR_DEPARTED" => Ok(IoctlRequest::MonitorDeparted.encode()),
        "MONITOR_ARRIVED" => Ok(IoctlRequest::MonitorArrived {
            monitor_type: VideoOutputTechnology::Hdmi,
            edid: Vec::new(),
        }
        .encode()),
        _ => Err(format!(
            "`{text}` is not an IOCTL: write QUERY_STATUS, REQUEST_IFRAME, MONITOR_ARRIVED, MONITOR_DEPARTED or hex:<bytes>"
        )),
    }
}

/// The largest payload given by size (64 MiB): the OS copies it into every message.
pub const MAX_SIZED_PAYLOAD: u64 = 64 << 20;

/// A payload: its text through `parse`, or `size` bytes of a fill pattern.
/// True when a payload is given by name (`"QUERY_STATUS"`, `"PING:7"`, or the default): it is
/// written in the driver profile's framing at run time.
fn is_named(raw: Option<&super::raw::RawPayload>) -> bool {
    use super::raw::RawPayload;
    match raw {
        None => true,
        Some(RawPayload::Text(t)) => !t.starts_with("hex:"),
        Some(RawPayload::Sized { .. }) => false,
    }
}

fn payload_bytes(
    raw: Option<&super::raw::RawPayload>,
    default: &str,
    parse: fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    use super::raw::RawPayload;
    match raw {
        None => parse(default),
        Some(RawPayload::Text(t)) => parse(t),
        Some(RawPayload::Sized { size, fill }) => {
            if *size > MAX_SIZED_PAYLOAD {
                return Err(format!(
                    "{size} bytes is more than the {MAX_SIZED_PAYLOAD}-byte limit of a payload"
                ));
            }
            let n = usize::try_from(*size).map_err(|_| "the size does not fit".to_owned())?;
            match fill.as_str() {
                "zero" => Ok(vec![0; n]),
                "counter" => Ok((0..n).map(|i| (i % 256) as u8).collect()),
                pattern => {
                    let unit = pattern
                        .strip_prefix("hex:")
                        .map(parse_hex)
                        .transpose()?
                        .filter(|u| !u.is_empty())
                        .ok_or_else(|| {
                            format!("`{pattern}` is not a fill: write zero, counter or hex:<bytes>")
                        })?;
                    Ok(unit.iter().copied().cycle().take(n).collect())
                }
            }
        }
    }
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("hex payload has an odd number of digits".to_owned());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).unwrap_or("zz");
            u8::from_str_radix(s, 16).map_err(|_| format!("`{s}` is not a hex byte"))
        })
        .collect()
}

/// Three-valued knowledge about one piece of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    No,
    Maybe,
    Yes,
}

impl Tri {
    fn join(self, other: Tri) -> Tri {
        if self == other { self } else { Tri::Maybe }
    }
    /// After a step that sets the piece: certainly when the step is expected to succeed.
    fn set(expect: Option<NtStatus>) -> Tri {
        match expect {
            None | Some(NtStatus::STATUS_SUCCESS) => Tri::Yes,
            Some(_) => Tri::Maybe,
        }
    }
}

/// What the steps so far leave, as far as validation can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Abstract {
    adapter: Tri,
    kmd: Tri,
    umd_loaded: Tri,
    umd: Tri,
    session: Tri,
    gpu: Tri,
}

impl Abstract {
    fn initial() -> Self {
        Abstract {
            adapter: Tri::No,
            kmd: Tri::No,
            umd_loaded: Tri::No,
            umd: Tri::No,
            session: Tri::No,
            gpu: Tri::No,
        }
    }
    fn join(self, o: Abstract) -> Abstract {
        Abstract {
            adapter: self.adapter.join(o.adapter),
            kmd: self.kmd.join(o.kmd),
            umd_loaded: self.umd_loaded.join(o.umd_loaded),
            umd: self.umd.join(o.umd),
            session: self.session.join(o.session),
            gpu: self.gpu.join(o.gpu),
        }
    }
    fn disconnect(&mut self) {
        self.session = Tri::No;
        self.umd = Tri::No;
        self.kmd = Tri::No;
    }
    fn connect(&mut self, expect: Option<NtStatus>) {
        let t = Tri::set(expect);
        self.kmd = self.kmd.join(t).max_yes(t);
        self.umd_loaded = self.umd_loaded.max_yes(t);
        self.umd = self.umd.max_yes(t);
        self.session = self.session.max_yes(t);
    }
}

impl Tri {
    /// `Yes` if either is `Yes`, else `Maybe` if either is `Maybe`.
    fn max_yes(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Maybe,
        }
    }
}

struct StepResolver<'a> {
    cx: &'a Ctx<'a>,
    next_index: usize,
    ids: BTreeMap<String, usize>,
    /// Mistakes found so far; [`StepResolver::steps`] goes on past each one.
    errors: Vec<ScenarioError>,
}

impl StepResolver<'_> {
    fn steps(
        &mut self,
        raw: &[RawStep],
        at: At<'_>,
        state: &mut Abstract,
    ) -> Result<Vec<Step>, ScenarioError> {
        let mut out = Vec::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            match self.step(r, at.index(i), state) {
                Ok(step) => out.push(step),
                Err(e) => {
                    // Go on with the state as it was before the step (the step did not happen),
                    // so every later step is checked too.
                    self.errors.push(e);
                }
            }
        }
        Ok(out)
    }

    fn phase_error(&self, at: At<'_>, op: &str, why: &str, fix: &str) -> ScenarioError {
        self.cx.err(
            at.op(),
            ScenarioErrorKind::Phase,
            format!("step `{op}` can never happen here: {why}"),
            fix.to_owned(),
        )
    }

    fn step(
        &mut self,
        raw: &RawStep,
        at: At<'_>,
        state: &mut Abstract,
    ) -> Result<Step, ScenarioError> {
        let index = self.next_index;
        self.next_index += 1;
        let (id, expect_status) = common(raw);
        if let Some(id) = &id
            && let Some(first) = self.ids.insert(id.clone(), index)
        {
            return Err(self.cx.err(
                at.field("id"),
                ScenarioErrorKind::Invalid,
                format!("duplicate step id `{id}`"),
                format!("step {first} already has this id; step ids must be unique"),
            ));
        }
        let need = |this: &Self, piece: Tri, why: &str, fix: &str| -> Result<(), ScenarioError> {
            if piece == Tri::No {
                Err(this.phase_error(at, raw_op_name(raw), why, fix))
            } else {
                Ok(())
            }
        };
        const NO_ADAPTER: &str = "the adapter has not been started";
        const ADD_BRING_UP: &str = "add an `AdapterBringUp` step before it";
        let op = match raw {
            RawStep::AdapterBringUp { .. } => {
                state.adapter = state.adapter.max_yes(Tri::set(expect_status));
                StepOp::AdapterBringUp
            }
            RawStep::AdapterRemove { .. } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                for (piece, what, fix) in [
                    (
                        state.session,
                        "a Miracast session may still run",
                        "add `Disconnect` (or `StopMiracastSession` and the destroys) before it",
                    ),
                    (
                        state.umd,
                        "a UMD Miracast context may still exist",
                        "add `Disconnect` or `DestroyMiracastContext` before it",
                    ),
                    (
                        state.kmd,
                        "a KMD Miracast context may still exist",
                        "add `Disconnect` or `DxgkDdiMiracastDestroyContext` before it",
                    ),
                    (
                        state.gpu,
                        "GPU contexts may still exist",
                        "add `DxgkDdiDestroyContext` before it",
                    ),
                ] {
                    if piece != Tri::No {
                        return Err(self.cx.err(
                            at.op(),
                            ScenarioErrorKind::Phase,
                            format!("the OS removes the adapter only after every context is gone, and {what} here"),
                            fix,
                        ));
                    }
                }
                state.adapter = Tri::No;
                StepOp::AdapterRemove
            }
            RawStep::DxgkDdiMiracastCreateContext { .. } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                state.kmd = state.kmd.max_yes(Tri::set(expect_status));
                StepOp::KmdCreateContext
            }
            RawStep::QueryMiracastDriverInterface { .. } => {
                state.umd_loaded = state.umd_loaded.max_yes(Tri::set(expect_status));
                StepOp::UmdLoad
            }
            RawStep::CreateMiracastContext { .. } => {
                need(
                    self,
                    state.umd_loaded,
                    "the Miracast UMD has not been loaded",
                    "add `QueryMiracastDriverInterface` (or use `Connect`) before it",
                )?;
                state.umd = state.umd.max_yes(Tri::set(expect_status));
                StepOp::UmdCreateContext
            }
            RawStep::StartMiracastSession { .. } => {
                need(
                    self,
                    state.umd,
                    "no UMD Miracast context exists",
                    "add `CreateMiracastContext` (or use `Connect`) before it",
                )?;
                state.session = state.session.max_yes(Tri::set(expect_status));
                StepOp::StartSession
            }
            RawStep::StopMiracastSession { .. } => {
                need(
                    self,
                    state.session,
                    "no session has been started by the steps before it",
                    "add `StartMiracastSession` or `Connect` before it",
                )?;
                state.session = Tri::No;
                StepOp::StopSession
            }
            RawStep::DestroyMiracastContext { .. } => {
                need(
                    self,
                    state.umd,
                    "no UMD Miracast context exists",
                    "add `CreateMiracastContext` or `Connect` before it",
                )?;
                state.session = Tri::No;
                state.umd = Tri::No;
                StepOp::UmdDestroyContext
            }
            RawStep::DxgkDdiMiracastDestroyContext { .. } => {
                need(
                    self,
                    state.kmd,
                    "no KMD Miracast context exists",
                    "add `DxgkDdiMiracastCreateContext` or `Connect` before it",
                )?;
                state.kmd = Tri::No;
                StepOp::KmdDestroyContext
            }
            RawStep::Connect { .. } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                state.connect(expect_status);
                StepOp::Connect
            }
            RawStep::Disconnect { .. } => {
                let any = state.session.max_yes(state.umd).max_yes(state.kmd);
                need(self, any, "nothing is connected", "add `Connect` before it")?;
                state.disconnect();
                StepOp::Disconnect
            }
            RawStep::KmdSendMessage {
                payload,
                output_size,
                ..
            } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                let payload_raw = payload.as_ref();
                let payload =
                    payload_bytes(payload.as_ref(), "PING", parse_message).map_err(|e| {
                        self.cx.err(
                            at.field("payload").or(at.op()),
                            ScenarioErrorKind::Invalid,
                            format!("invalid payload: {e}"),
                            "see scenarios/README.md, `KmdSendMessage`",
                        )
                    })?;
                StepOp::KmdSendMessage {
                    named: is_named(payload_raw),
                    payload,
                    output_size: output_size.unwrap_or(64),
                }
            }
            RawStep::KmdMonitorDeparts { .. } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                StepOp::KmdMonitorDeparts
            }
            RawStep::MiracastIoControl {
                hardware_access,
                payload,
                output_size,
                ..
            } => {
                need(
                    self,
                    state.umd,
                    "no UMD Miracast context exists (a UMD thread needs a loaded, created UMD)",
                    "add `CreateMiracastContext` or `Connect` before it",
                )?;
                let payload_raw = payload.as_ref();
                let payload = payload_bytes(payload.as_ref(), "QUERY_STATUS", parse_ioctl)
                    .map_err(|e| {
                        self.cx.err(
                            at.field("payload").or(at.op()),
                            ScenarioErrorKind::Invalid,
                            format!("invalid payload: {e}"),
                            "see scenarios/README.md, `MiracastIoControl`",
                        )
                    })?;
                StepOp::MiracastIoControl {
                    hardware_access: *hardware_access,
                    named: is_named(payload_raw),
                    payload,
                    output_size: output_size.unwrap_or(16),
                }
            }
            RawStep::DxgkDdiCreateContext {
                count,
                incompatible_umd,
                ..
            } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                let count = count.unwrap_or(1);
                if count == 0 || count > 1_000_000 {
                    return Err(self.cx.err(
                        at.field("count"),
                        ScenarioErrorKind::Invalid,
                        format!("count {count} is out of range"),
                        "create between 1 and 1,000,000 GPU contexts",
                    ));
                }
                state.gpu = state.gpu.max_yes(
                    if expect_status.is_none_or(|s| s == NtStatus::STATUS_SUCCESS) {
                        Tri::Yes
                    } else {
                        Tri::Maybe
                    },
                );
                StepOp::CreateGpuContexts {
                    count,
                    incompatible_umd: *incompatible_umd,
                }
            }
            RawStep::DxgkDdiDestroyContext { .. } => {
                need(
                    self,
                    state.gpu,
                    "no GPU context has been created",
                    "add `DxgkDdiCreateContext` before it",
                )?;
                state.gpu = Tri::No;
                StepOp::DestroyGpuContexts
            }
            RawStep::DxgkDdiCommitVidPn {
                monitor_power_off, ..
            } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                StepOp::CommitVidPn {
                    monitor_power_off: *monitor_power_off,
                }
            }
            RawStep::EncodeChunks {
                frames,
                parts,
                chunk_types,
                private_data_size,
                first_frame,
                ..
            } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                let frames = frames.unwrap_or(1);
                let parts = parts.unwrap_or(1);
                if frames == 0 || frames > 100_000 || parts == 0 || parts > 1_000 {
                    return Err(self.cx.err(
                        at.span(),
                        ScenarioErrorKind::Invalid,
                        format!("{frames} frames of {parts} parts is out of range"),
                        "use 1..100000 frames and 1..1000 parts",
                    ));
                }
                StepOp::EncodeChunks {
                    frames,
                    parts,
                    chunk_types: chunk_types
                        .clone()
                        .unwrap_or_else(|| vec![ChunkType::FrameStart, ChunkType::EncodeComplete]),
                    private_data_size: private_data_size.unwrap_or(0).min(1 << 16),
                    first_frame: first_frame.unwrap_or(1),
                }
            }
            RawStep::SinkMonitorArrives { .. }
            | RawStep::SinkMonitorDeparts { .. }
            | RawStep::SinkIdrRequest { .. }
            | RawStep::SinkDisconnect { .. } => {
                need(
                    self,
                    state.session,
                    "the sink only acts during a session, and none has been started",
                    "add `StartMiracastSession` or `Connect` before it",
                )?;
                match raw {
                    RawStep::SinkMonitorArrives { .. } => StepOp::SinkMonitorArrives,
                    RawStep::SinkMonitorDeparts { .. } => StepOp::SinkMonitorDeparts,
                    RawStep::SinkIdrRequest { .. } => StepOp::SinkIdrRequest,
                    _ => StepOp::SinkDisconnect,
                }
            }
            RawStep::Sleep { .. } => {
                state.disconnect();
                StepOp::Sleep
            }
            RawStep::Resume { .. } => {
                need(self, state.adapter, NO_ADAPTER, ADD_BRING_UP)?;
                state.connect(expect_status);
                StepOp::Resume
            }
            RawStep::Advance { by, .. } => {
                let d = parse_duration(by).map_err(|e| {
                    self.cx.err(
                        at.field("by"),
                        ScenarioErrorKind::Invalid,
                        format!("invalid duration: {e}"),
                        "write a duration such as \"2s\", \"500ms\" or \"1.5s\"",
                    )
                })?;
                StepOp::Advance(d)
            }
            RawStep::Parallel { branches, .. } => {
                if branches.len() < 2 {
                    return Err(self.cx.err(at.field("branches").or(at.op()), ScenarioErrorKind::Invalid, "a `Parallel` step needs at least two branches", "put each concurrent list of steps in its own branch: \"branches\": [[...], [...]]"));
                }
                // Any branch may run before any step of another: validate each branch from a
                // state where every other branch's effects may or may not have happened.
                let before = *state;
                let mut probe_ends = Vec::new();
                for (b, branch) in branches.iter().enumerate() {
                    let mut probe = StepResolver {
                        cx: self.cx,
                        next_index: 0,
                        ids: BTreeMap::new(),
                        errors: Vec::new(),
                    };
                    let mut s = before;
                    // Errors surface in the real pass below; this pass only learns effects.
                    let _ = probe.steps(branch, at.child("branches").index(b), &mut s);
                    probe_ends.push(s);
                }
                let mut merged = before;
                for s in &probe_ends {
                    merged = merged.join(*s);
                }
                let mut resolved = Vec::new();
                let mut end: Option<Abstract> = None;
                for (b, branch) in branches.iter().enumerate() {
                    let mut s = merged;
                    resolved.push(self.steps(branch, at.child("branches").index(b), &mut s)?);
                    end = Some(end.map_or(s, |e| e.join(s)));
                }
                *state = end.unwrap_or(merged);
                StepOp::Parallel(resolved)
            }
        };
        let line = at.span().map_or(0, |s| self.cx.lines.line(s.start));
        Ok(Step {
            index,
            id,
            op,
            expect_status,
            line,
        })
    }
}

fn common(raw: &RawStep) -> (Option<String>, Option<NtStatus>) {
    match raw {
        RawStep::AdapterBringUp { id, expect_status }
        | RawStep::AdapterRemove { id, expect_status }
        | RawStep::DxgkDdiMiracastCreateContext { id, expect_status }
        | RawStep::QueryMiracastDriverInterface { id, expect_status }
        | RawStep::CreateMiracastContext { id, expect_status }
        | RawStep::StartMiracastSession { id, expect_status }
        | RawStep::Connect { id, expect_status }
        | RawStep::KmdSendMessage {
            id, expect_status, ..
        }
        | RawStep::KmdMonitorDeparts { id, expect_status }
        | RawStep::MiracastIoControl {
            id, expect_status, ..
        }
        | RawStep::DxgkDdiCreateContext {
            id, expect_status, ..
        }
        | RawStep::DxgkDdiDestroyContext { id, expect_status }
        | RawStep::DxgkDdiCommitVidPn {
            id, expect_status, ..
        }
        | RawStep::Resume { id, expect_status } => (id.clone(), *expect_status),
        RawStep::StopMiracastSession { id }
        | RawStep::DestroyMiracastContext { id }
        | RawStep::DxgkDdiMiracastDestroyContext { id }
        | RawStep::Disconnect { id }
        | RawStep::SinkMonitorArrives { id }
        | RawStep::SinkMonitorDeparts { id }
        | RawStep::SinkIdrRequest { id }
        | RawStep::SinkDisconnect { id }
        | RawStep::Sleep { id }
        | RawStep::Advance { id, .. }
        | RawStep::EncodeChunks { id, .. }
        | RawStep::Parallel { id, .. } => (id.clone(), None),
    }
}

fn raw_op_name(raw: &RawStep) -> &'static str {
    match raw {
        RawStep::AdapterBringUp { .. } => "AdapterBringUp",
        RawStep::AdapterRemove { .. } => "AdapterRemove",
        RawStep::DxgkDdiMiracastCreateContext { .. } => "DxgkDdiMiracastCreateContext",
        RawStep::QueryMiracastDriverInterface { .. } => "QueryMiracastDriverInterface",
        RawStep::CreateMiracastContext { .. } => "CreateMiracastContext",
        RawStep::StartMiracastSession { .. } => "StartMiracastSession",
        RawStep::StopMiracastSession { .. } => "StopMiracastSession",
        RawStep::DestroyMiracastContext { .. } => "DestroyMiracastContext",
        RawStep::DxgkDdiMiracastDestroyContext { .. } => "DxgkDdiMiracastDestroyContext",
        RawStep::Connect { .. } => "Connect",
        RawStep::Disconnect { .. } => "Disconnect",
        RawStep::KmdSendMessage { .. } => "KmdSendMessage",
        RawStep::KmdMonitorDeparts { .. } => "KmdMonitorDeparts",
        RawStep::MiracastIoControl { .. } => "MiracastIoControl",
        RawStep::DxgkDdiCreateContext { .. } => "DxgkDdiCreateContext",
        RawStep::DxgkDdiDestroyContext { .. } => "DxgkDdiDestroyContext",
        RawStep::DxgkDdiCommitVidPn { .. } => "DxgkDdiCommitVidPn",
        RawStep::EncodeChunks { .. } => "EncodeChunks",
        RawStep::SinkMonitorArrives { .. } => "SinkMonitorArrives",
        RawStep::SinkMonitorDeparts { .. } => "SinkMonitorDeparts",
        RawStep::SinkIdrRequest { .. } => "SinkIdrRequest",
        RawStep::SinkDisconnect { .. } => "SinkDisconnect",
        RawStep::Sleep { .. } => "Sleep",
        RawStep::Resume { .. } => "Resume",
        RawStep::Advance { .. } => "Advance",
        RawStep::Parallel { .. } => "Parallel",
    }
}

fn resolve_expect(cx: &Ctx<'_>, raw: &RawExpect, at: At<'_>) -> Result<Expect, ScenarioError> {
    let violations: BTreeSet<RuleId> = raw.violations.iter().copied().collect();
    let matcher = |m: &RawMatcher, at: At<'_>| resolve_matcher(cx, m, at);
    let happens = raw
        .happens
        .iter()
        .enumerate()
        .map(|(i, m)| matcher(m, at.child("happens").index(i)))
        .collect::<Result<_, _>>()?;
    let never = raw
        .never
        .iter()
        .enumerate()
        .map(|(i, m)| matcher(m, at.child("never").index(i)))
        .collect::<Result<_, _>>()?;
    let before = raw
        .before
        .iter()
        .enumerate()
        .map(|(i, RawBefore { first, then })| {
            let pair = at.child("before").index(i);
            Ok((
                matcher(first, pair.child("first"))?,
                matcher(then, pair.child("then"))?,
            ))
        })
        .collect::<Result<_, ScenarioError>>()?;
    Ok(Expect {
        violations,
        final_phase: raw.final_phase,
        final_monitor_connected: raw.final_monitor_connected,
        final_gpu_contexts: raw.final_gpu_contexts,
        happens,
        before,
        never,
        holds_on: raw.holds_on,
    })
}

fn resolve_matcher(cx: &Ctx<'_>, raw: &RawMatcher, at: At<'_>) -> Result<Matcher, ScenarioError> {
    let ddi = match &raw.ddi {
        None => None,
        Some(name) => Some(name.parse::<Ddi>().map_err(|e| {
            let help = match e.suggestion {
                Some(s) => format!(
                    "did you mean {s}? (`miracast-sim schema` lists every documented DDI name)"
                ),
                None => "write a documented DDI or callback name, e.g. DxgkCbMiracastSendMessage"
                    .to_owned(),
            };
            cx.err(
                at.field("ddi"),
                ScenarioErrorKind::UnknownDdi,
                format!("unknown DDI `{name}`"),
                help,
            )
        })?),
    };
    let event = match raw.event.as_deref() {
        None if raw.status.is_some() => Event::Leave,
        None if ddi.is_some() => Event::Enter,
        None => Event::Any,
        Some(name) => Event::from_name(name).ok_or_else(|| {
            let near = super::error::closest(name, Event::NAMES.iter().copied());
            cx.err(
                at.field("event"),
                ScenarioErrorKind::UnknownValue,
                format!("unknown event kind `{name}`"),
                format!(
                    "{}event kinds: {}",
                    near.map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default(),
                    Event::NAMES.join(", ")
                ),
            )
        })?,
    };
    if raw.status.is_some() && event != Event::Leave {
        return Err(cx.err(
            at.field("event"),
            ScenarioErrorKind::Invalid,
            "`status` only matches `leave` events",
            "drop `event` or write \"event\": \"leave\"",
        ));
    }
    if let Some(arg) = &raw.arg
        && !arg.contains('=')
    {
        return Err(cx.err(
            at.field("arg"),
            ScenarioErrorKind::Invalid,
            format!("`{arg}` is not a key=value pair"),
            "write the pair as it appears in the trace, e.g. \"op=MONITOR_ARRIVED\"",
        ));
    }
    let source = serde_json::to_string(raw).unwrap_or_default();
    Ok(Matcher {
        ddi,
        event,
        thread: raw.thread.clone(),
        status: raw.status,
        arg: raw.arg.clone(),
        text: raw.text.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("2 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1e400s").is_err());
    }

    #[test]
    fn payloads() {
        assert!(parse_message("PING:7").is_ok());
        assert_eq!(parse_message("hex:4d 43").unwrap(), vec![0x4d, 0x43]);
        assert!(parse_message("PONG").is_err());
        assert!(parse_ioctl("QUERY_STATUS").is_ok());
        assert!(parse_ioctl("hex:4").is_err());
    }

    #[test]
    fn backends() {
        assert_eq!(parse_backend("model"), Ok(Backend::Model));
        assert_eq!(parse_backend("real:x.so"), Ok(Backend::Real("x.so".into())));
        assert!(parse_backend("real:").is_err());
        assert!(parse_backend("sim").is_err());
    }
}
