//! Coverage: which (DDI, session phase, message state) combinations the exploration visited,
//! derived from the traces of the schedules (Coyote's event coverage, for our DDI model).

use crate::ddi::{Ddi, SessionPhase};
use crate::trace::{EventKind, Trace};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Kernel-to-user messages at the time of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// No message in flight.
    None,
    /// At least one held until `StartMiracastSession` returns (R28).
    Held,
    /// At least one queued for delivery (none held).
    Pending,
}

/// One visited combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CoverageKey {
    /// The DDI or callback entered.
    pub ddi: Ddi,
    /// The session phase at entry.
    #[serde(serialize_with = "phase_name")]
    pub phase: u8,
    /// Messages in flight at entry.
    pub messages: MessageState,
}

fn phase_name<S: serde::Serializer>(p: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(PHASES[*p as usize % 4])
}

const PHASES: [&str; 4] = ["Stopped", "StartPending", "Started", "StopPending"];

/// Visited combinations with how many schedules visited each; serializable for the JSON
/// report (`{"ddi": ..., "phase": ..., "messages": ..., "schedules": n}` entries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Combination → schedules that visited it.
    pub visited: BTreeMap<CoverageKey, u64>,
}

#[derive(Serialize)]
struct Entry {
    #[serde(flatten)]
    key: CoverageKey,
    schedules: u64,
}

impl Serialize for Coverage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.visited.iter().map(|(k, n)| Entry {
            key: *k,
            schedules: *n,
        }))
    }
}

impl Coverage {
    /// Adds one schedule's visited set.
    pub fn add(&mut self, keys: &BTreeSet<CoverageKey>) {
        for k in keys {
            *self.visited.entry(*k).or_default() += 1;
        }
    }

    /// Merges another worker's coverage.
    pub fn merge(&mut self, other: &Coverage) {
        for (k, n) in &other.visited {
            *self.visited.entry(*k).or_default() += n;
        }
    }

    /// A text summary, one line per DDI: the (phase, messages) pairs seen.
    pub fn summary(&self) -> String {
        let mut by_ddi: BTreeMap<Ddi, Vec<String>> = BTreeMap::new();
        for k in self.visited.keys() {
            by_ddi.entry(k.ddi).or_default().push(format!(
                "{}/{}",
                PHASES[k.phase as usize % 4],
                match k.messages {
                    MessageState::None => "no-msg",
                    MessageState::Held => "msg-held",
                    MessageState::Pending => "msg-pending",
                }
            ));
        }
        let mut out = format!(
            "coverage: {} (DDI, phase, messages) combinations over {} DDIs\n",
            self.visited.len(),
            by_ddi.len()
        );
        for (ddi, seen) in by_ddi {
            out.push_str(&format!("  {:<40} {}\n", ddi.name(), seen.join(" ")));
        }
        out
    }
}

/// The combinations one trace visited.
pub fn keys_of_trace(trace: &Trace) -> BTreeSet<CoverageKey> {
    let mut phase = SessionPhase::Stopped;
    let mut held: BTreeSet<u64> = BTreeSet::new();
    let mut pending: BTreeSet<u64> = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for e in &trace.events {
        match &e.kind {
            EventKind::Phase { to, .. } => phase = *to,
            EventKind::MessageQueued { id, held: h } => {
                if *h {
                    held.insert(*id);
                } else {
                    pending.insert(*id);
                }
            }
            EventKind::MessageDelivered { id } | EventKind::MessageDropped { id, .. } => {
                held.remove(id);
                pending.remove(id);
            }
            EventKind::Enter { ddi, .. } => {
                let messages = if !held.is_empty() {
                    MessageState::Held
                } else if !pending.is_empty() {
                    MessageState::Pending
                } else {
                    MessageState::None
                };
                keys.insert(CoverageKey {
                    ddi: *ddi,
                    phase: phase as u8,
                    messages,
                });
            }
            _ => {}
        }
    }
    keys
}

/// How a rule came out over a set of runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Some run broke it.
    Broken,
    /// Some run reached it (called a DDI it concerns) and none broke it.
    Exercised,
    /// No run called a DDI it concerns.
    NeverReached,
    /// The catalogue does not check it (`miracast-sim rules` says why).
    Unchecked,
}

impl RuleStatus {
    fn word(self) -> &'static str {
        match self {
            RuleStatus::Broken => "broken",
            RuleStatus::Exercised => "exercised",
            RuleStatus::NeverReached => "never reached",
            RuleStatus::Unchecked => "unchecked",
        }
    }
}

/// One rule's coverage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleEntry {
    /// `R30`.
    pub rule: crate::rules::RuleId,
    /// Its title.
    pub title: &'static str,
    /// `online`, `trace` or `unchecked`.
    pub check: &'static str,
    /// Broken, exercised, never reached or unchecked.
    pub status: RuleStatus,
    /// Runs that reached it.
    pub reached: u64,
    /// Runs that reached it and kept it.
    pub kept: u64,
    /// Scenarios whose run broke it, by name.
    pub broken_by: BTreeSet<String>,
}

/// Rule coverage of a set of runs: for each rule of the catalogue, whether a run broke it, or
/// reached it (called a DDI or callback the rule concerns, so its check had something to
/// judge) without breaking it, or never reached it.
///
/// Which DDIs a rule concerns comes from the catalogue itself: every DDI or callback its title
/// or statement names (by documented name or C type), plus, for the few rules whose text names
/// none, the calls that carry what they judge (`extra_ddis`). The JSON form is a list in
/// catalogue order with sorted scenario names, so two runs of the same corpus give the same
/// bytes and a change shows as a small diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCoverage {
    /// Runs counted.
    pub runs: u64,
    /// Every rule of the catalogue, in catalogue order.
    pub rules: Vec<RuleEntry>,
    concerns: Vec<BTreeSet<Ddi>>,
}

/// DDIs that carry what a rule judges when its text names none of them.
fn extra_ddis(rule: u8) -> &'static [Ddi] {
    match rule {
        2 | 8 => &[Ddi::DxgkDdiMiracastQueryCaps],
        3 | 4 => &[Ddi::DxgkDdiQueryChildRelations, Ddi::DxgkDdiStartDevice],
        10 => &[Ddi::DxgkCbIndicateChildStatus],
        22 => &[Ddi::DxgkDdiMiracastCreateContext],
        34 => &[Ddi::QueryMiracastDriverInterface],
        40 => &[Ddi::StartMiracastSession],
        50 => &[
            Ddi::PfnDataRateNotify,
            Ddi::RegisterForDataRateNotifications,
        ],
        52 | 58 | 59 => &[Ddi::DxgkCbNotifyInterrupt, Ddi::DxgkDdiInterruptRoutine],
        // Exact NTSTATUS comparisons: every call that returns a status.
        73 => Ddi::ALL,
        _ => &[],
    }
}

fn names_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

impl Default for RuleCoverage {
    fn default() -> Self {
        let rules = crate::rules::CATALOGUE;
        RuleCoverage {
            runs: 0,
            concerns: rules
                .iter()
                .map(|r| {
                    let text = format!("{} {}", r.title, r.statement);
                    Ddi::ALL
                        .iter()
                        .copied()
                        .filter(|d| names_word(&text, d.name()) || names_word(&text, d.c_type()))
                        .chain(extra_ddis(r.id.number()).iter().copied())
                        .collect()
                })
                .collect(),
            rules: rules
                .iter()
                .map(|r| RuleEntry {
                    rule: r.id,
                    title: r.title,
                    check: r.check.label(),
                    status: if r.check.is_checked() {
                        RuleStatus::NeverReached
                    } else {
                        RuleStatus::Unchecked
                    },
                    reached: 0,
                    kept: 0,
                    broken_by: BTreeSet::new(),
                })
                .collect(),
        }
    }
}

impl RuleCoverage {
    /// Counts one run of `scenario`: the DDIs and callbacks it entered and the rules it broke.
    pub fn add_run(
        &mut self,
        scenario: &str,
        entered: &BTreeSet<Ddi>,
        broken: &BTreeSet<crate::rules::RuleId>,
    ) {
        self.runs += 1;
        for (entry, concerns) in self.rules.iter_mut().zip(&self.concerns) {
            let is_broken = broken.contains(&entry.rule);
            if is_broken || !concerns.is_disjoint(entered) {
                entry.reached += 1;
                entry.kept += u64::from(!is_broken);
            }
            if is_broken {
                entry.broken_by.insert(scenario.to_owned());
            }
            entry.status = match entry.status {
                RuleStatus::Unchecked if !is_broken => RuleStatus::Unchecked,
                _ if !entry.broken_by.is_empty() => RuleStatus::Broken,
                _ if entry.reached > 0 => RuleStatus::Exercised,
                s => s,
            };
        }
    }

    /// How many rules are in `status`.
    pub fn count(&self, status: RuleStatus) -> usize {
        self.rules.iter().filter(|r| r.status == status).count()
    }

    /// `rule coverage over N runs: B broken, E exercised, R never reached, U unchecked`.
    pub fn headline(&self) -> String {
        format!(
            "rule coverage over {} runs: {} broken, {} exercised, {} never reached, {} unchecked",
            self.runs,
            self.count(RuleStatus::Broken),
            self.count(RuleStatus::Exercised),
            self.count(RuleStatus::NeverReached),
            self.count(RuleStatus::Unchecked)
        )
    }

    /// The table of the human report: the headline, then one line per rule.
    pub fn table(&self) -> String {
        let mut out = self.headline();
        out.push('\n');
        out.push_str(&format!(
            "  {:<5} {:<13} {:<9} {:>7} {:>5}  {}\n",
            "rule", "status", "check", "reached", "kept", "title / broken by"
        ));
        for r in &self.rules {
            let by = if r.broken_by.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = r.broken_by.iter().map(String::as_str).take(3).collect();
                let more = r.broken_by.len().saturating_sub(3);
                format!(
                    " [broken by {}{}]",
                    names.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            };
            out.push_str(&format!(
                "  {:<5} {:<13} {:<9} {:>7} {:>5}  {}{by}\n",
                r.rule.to_string(),
                r.status.word(),
                r.check,
                r.reached,
                r.kept,
                r.title
            ));
        }
        out
    }

    /// The stable, diffable JSON: pretty, catalogue order, a trailing newline.
    pub fn to_json(&self) -> String {
        let doc = serde_json::json!({
            "runs": self.runs,
            "broken": self.count(RuleStatus::Broken),
            "exercised": self.count(RuleStatus::Exercised),
            "never_reached": self.count(RuleStatus::NeverReached),
            "unchecked": self.count(RuleStatus::Unchecked),
            "rules": self.rules,
        });
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// The DDIs and callbacks a trace entered.
pub fn entered_ddis(trace: &Trace) -> BTreeSet<Ddi> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Enter { ddi, .. } => Some(*ddi),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod rule_tests {
    use super::*;
    use crate::rules::RuleId;

    fn rid(n: u8) -> RuleId {
        format!("R{n}").parse().expect("a rule id")
    }

    #[test]
    fn statuses_follow_reach_and_breakage() {
        let mut c = RuleCoverage::default();
        assert_eq!(c.count(RuleStatus::Broken), 0);
        let unchecked = c.count(RuleStatus::Unchecked);
        assert!(unchecked > 0);
        // R30 names HandleKernelModeMessage; R17 names DxgkDdiMiracastCreateContext.
        let entered: BTreeSet<Ddi> = [Ddi::HandleKernelModeMessage].into();
        c.add_run("a", &entered, &[rid(17)].into());
        let get =
            |c: &RuleCoverage, n: u8| c.rules.iter().find(|r| r.rule == rid(n)).cloned().unwrap();
        assert_eq!(get(&c, 30).status, RuleStatus::Exercised);
        assert_eq!(get(&c, 17).status, RuleStatus::Broken);
        assert_eq!(get(&c, 17).broken_by, ["a".to_owned()].into());
        assert_eq!(get(&c, 50).status, RuleStatus::NeverReached);
        assert_eq!(c.count(RuleStatus::Unchecked), unchecked);
        assert_eq!(c.runs, 1);
        // Every checked rule concerns at least one DDI, so each can be reached.
        for (r, concerns) in c.rules.iter().zip(&c.concerns) {
            assert!(
                r.status == RuleStatus::Unchecked || !concerns.is_empty(),
                "{} concerns no DDI",
                r.rule
            );
        }
    }
}
