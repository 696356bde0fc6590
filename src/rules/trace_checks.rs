//! Checks over a finished trace.

use super::Violation;
use crate::trace::Trace;

/// Every trace-level check, in rule order.
pub fn check(_trace: &Trace) -> Vec<Violation> {
    Vec::new()
}
