//! The rule catalogue R1..R74 (ddi-facts section 3.1): id, title, group, severity, source doc,
//! statement, and whether and how the simulator checks it.

use super::RuleId;
use serde::Serialize;

/// How serious a violation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Severity {
    /// The documented contract is broken.
    Error,
    /// A "should" of the docs, or a lint.
    Warning,
}

/// The rule groups A..P of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub enum RuleGroup {
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P,
}

/// Whether and how a rule is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CheckKind {
    /// Checked by the OS model at the call where it sees the behaviour.
    Online,
    /// Checked over the finished trace.
    Trace,
    /// Not checked; the text says why.
    Unchecked(&'static str),
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

/// Every rule, in id order.
pub static CATALOGUE: &[Rule] = &[];

/// The entry for `id`.
pub fn rule(id: RuleId) -> &'static Rule {
    CATALOGUE.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("rule {id} missing from the catalogue"))
}
