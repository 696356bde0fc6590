//! The exit codes of `miracast-sim`, one documented constant each.
//!
//! When several apply, the lowest non-zero code in this order wins: a failed scenario (1) is
//! reported before an invalid one (2), which is reported before an unavailable backend (3).

/// Every scenario run passed (and every file was valid).
pub const OK: u8 = 0;
/// At least one scenario ran and did not meet its `expect` (or a replay still fails).
pub const SCENARIO_FAILED: u8 = 1;
/// Usage error, or at least one scenario file is invalid (and none failed).
pub const INVALID: u8 = 2;
/// The requested driver backend is not available in this build (and nothing failed or was
/// invalid).
pub const BACKEND_UNAVAILABLE: u8 = 3;

/// `run` was interrupted (SIGINT) before every scenario ran, and nothing that ran failed; the
/// reports hold what finished.
pub const INTERRUPTED: u8 = 130;

/// The table shown in `--help` and the README.
pub const TABLE: &str = "\
Exit codes:
  0  every scenario passed
  1  a scenario failed (takes precedence over 2 and 3)
  2  usage error, or a scenario file is invalid
  3  the requested driver backend is not available in this build
  130  interrupted (SIGINT) before the run finished; the reports hold what finished";
