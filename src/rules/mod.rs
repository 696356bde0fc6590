//! The rule catalogue R1..R74 and the checks.
//!
//! A violation is data in a list, never a panic and never an `Err` that ends a run. Checks run
//! in two places:
//! - *online*, in the OS model, at the exact call where the model sees the behaviour (a KMD
//!   writing past `MiracastCapsSize`, a second `DxgkDdiMiracastQueryCaps`, ...), through
//!   [`Findings`];
//! - *over the trace* after the run ([`trace_checks`]), for ordering rules (a monitor reported
//!   before the session started, a message delivered before start returned, two Miracast-class
//!   calls overlapping, ...). These hold the OS model itself to the documented contract: they
//!   do not trust it.
//!
//! Map:
//! - [`catalogue`]: every rule with its id, title, severity, group, source doc and whether and
//!   how it is checked.
//! - [`trace_checks`]: the checks over a finished trace (its module doc lists each check and
//!   the event conventions it relies on).
//! - `trace_index` (private): the trace as DDI call intervals, for the trace checks.

pub mod catalogue;
pub mod registry;
pub mod trace_checks;
mod trace_index;

use serde::Serialize;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

pub use catalogue::{CATALOGUE, CheckKind, Rule, RuleGroup, Severity, checked_count};
pub use registry::{CHECKS, CheckDef, CheckId, Place, Reach};

/// A rule id, `R1`..`R74`. Made only from the registry's constants ([`RuleId::R17`]) or by
/// parsing `"R17"`, so every rule a check names is a catalogue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(u8);

impl RuleId {
    /// The rule's number, 1..=74.
    pub fn number(self) -> u8 {
        self.0
    }

    /// The catalogue entry.
    pub fn rule(self) -> &'static Rule {
        catalogue::rule(self)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}", self.0)
    }
}

impl std::str::FromStr for RuleId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let n: u8 = s
            .strip_prefix('R')
            .or_else(|| s.strip_prefix('r'))
            .and_then(|n| n.parse().ok())
            .filter(|n| (1..=74).contains(n))
            .ok_or_else(|| {
                format!("unknown rule `{s}` (rules are R1 to R74; `miracast-sim rules` lists them)")
            })?;
        Ok(RuleId(n))
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for RuleId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RuleId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^R([1-9]|[1-6][0-9]|7[0-4])$", "description": "A rule id, R1..R74 (`miracast-sim rules`)." })
    }
}

/// Who caused a violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Culprit {
    /// The display miniport under test.
    Kmd,
    /// The Miracast UMD under test.
    Umd,
    /// The simulated operating system (a simulator bug, or an OS-model fault knob).
    OsModel,
    /// The simulated Wi-Fi Display sink.
    Sink,
}

impl fmt::Display for Culprit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Culprit::Kmd => "KMD",
            Culprit::Umd => "UMD",
            Culprit::OsModel => "OS model",
            Culprit::Sink => "sink",
        })
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which rule.
    pub rule: RuleId,
    /// The check that found it.
    pub check: CheckId,
    /// Who caused it.
    pub culprit: Culprit,
    /// What happened, in one sentence.
    pub finding: String,
    /// The trace events (by `seq`) that show it.
    pub events: Vec<u32>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}): {}",
            self.rule,
            self.rule.rule().title,
            self.culprit,
            self.finding
        )
    }
}

/// The shared list online checks append to. Cheap to clone.
#[derive(Clone, Default)]
pub struct Findings {
    list: Rc<RefCell<Vec<Violation>>>,
}

impl Findings {
    /// Records a violation of `rule` found by `check`, which must list the rule in the
    /// registry.
    pub fn report(
        &self,
        check: CheckId,
        rule: RuleId,
        culprit: Culprit,
        finding: impl Into<String>,
        events: Vec<u32>,
    ) {
        debug_assert!(
            check.may_report(rule),
            "{check} reported {rule}, which its registry entry does not list"
        );
        self.list.borrow_mut().push(Violation {
            rule,
            check,
            culprit,
            finding: finding.into(),
            events,
        });
    }

    /// Everything recorded so far.
    pub fn snapshot(&self) -> Vec<Violation> {
        self.list.borrow().clone()
    }

    /// True when a violation of `rule` was recorded.
    pub fn has(&self, rule: RuleId) -> bool {
        self.list.borrow().iter().any(|v| v.rule == rule)
    }
}

/// Turns a race found by the scheduler's race detector into the rule it breaks: a race that
/// involves the completion routine breaks R27 (it may run before `DxgkCbMiracastSendMessage`
/// returns, on another thread); a race between `HandleKernelModeMessage` calls breaks R30 (the
/// UMD must synchronize itself). A race in a C driver's memory (the race check of
/// `backend::real::kernel`) is the KMD's R27 or the UMD's R30 by whose memory it is. Other races
/// are attributed by which driver's state raced.
pub fn race_violation(race: &crate::sched::RaceReport) -> Violation {
    use crate::ddi::Ddi;
    let inside = |ddi: Ddi| race.first.inside.contains(&ddi) || race.second.inside.contains(&ddi);
    let describe = |a: &crate::sched::tracked::Access| {
        let frames: Vec<&str> = a.inside.iter().map(|d| d.name()).collect();
        format!(
            "{} on {} (t{}){}",
            if a.write { "a write" } else { "a read" },
            a.thread_name,
            a.thread,
            if frames.is_empty() {
                String::new()
            } else {
                format!(" inside {}", frames.join(" > "))
            }
        )
    };
    // A C driver's memory, seen by the race check of `backend::real::kernel`, whose cells are
    // named after whose memory it is. The KMD's (`kmd pool ...`, `kmd memory ...`, `kmd heap
    // ...`): the KMD's state, R27. The UMD's (`umd heap ...`, `umd memory ...`): R30, whatever
    // the two accesses were inside. R30 is the rule that tells the UMD to synchronize itself
    // (the OS may run HandleKernelModeMessage on several threads at once, and it runs the UMD's
    // other entry points and callbacks on threads of its own); the OS documents no other
    // ordering for the UMD's memory, so any unordered pair of accesses to it is the UMD's
    // missing synchronization.
    let c_kmd = ["kmd pool ", "kmd memory ", "kmd heap "]
        .iter()
        .any(|p| race.cell.starts_with(p));
    let c_umd = ["umd heap ", "umd memory "]
        .iter()
        .any(|p| race.cell.starts_with(p));
    let (rule, culprit) = if c_umd {
        (RuleId::R30, Culprit::Umd)
    } else if c_kmd
        || inside(Ddi::DxgkCbMiracastSendMessageCallback)
        || inside(Ddi::DxgkCbMiracastSendMessage)
    {
        (RuleId::R27, Culprit::Kmd)
    } else if inside(Ddi::HandleKernelModeMessage) {
        (RuleId::R30, Culprit::Umd)
    } else if race.cell.starts_with("kmd") {
        (RuleId::R27, Culprit::Kmd)
    } else {
        (RuleId::R30, Culprit::Umd)
    };
    let check = if c_kmd {
        CheckId::KernelRace
    } else if c_umd {
        CheckId::UmdRace
    } else {
        CheckId::DataRace
    };
    Violation {
        rule,
        check,
        culprit,
        finding: format!(
            "unsynchronized access to `{}`: {} and {} are not ordered by any lock or documented OS guarantee",
            race.cell,
            describe(&race.first),
            describe(&race.second)
        ),
        events: vec![race.first.trace_seq, race.second.trace_seq],
    }
}
