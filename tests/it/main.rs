//! The one integration-test binary. Each module has a one-line scope.

/// Wi-Fi Display codec vectors, property tests and loopback TCP sessions.
mod wfd;

/// Layout of the C headers in `include/` against the Rust FFI mirrors and the documented x64 sizes.
mod ffi_layout;

/// Wi-Fi Display source and sink state machines against each other in virtual time: faults and outcomes.
mod wfd_sessions;

/// The reference KMD and UMD models: rules kept under the OS model, every bug knob, fake-service details.
mod model;

/// Wi-Fi Display source and sink over loopback TCP (127.0.0.1 only), short timers.
mod wfd_tcp;

/// The rule catalogue and the trace checks: keep/break traces per check, never-panic property.
mod rules;

/// A real driver binary (C fixtures built with `cc`) through the loader: sessions, seeded bugs, crashes, loader errors.
mod real_driver;

/// R30 on a C UMD built for the race check: clean when it locks, the seeded unlocked message state found and replayed.
mod umd_race;

/// Kernel routines for C drivers (`include/wdm.h`): locks, waits, IRQL and pool under the scheduler, seeded kernel bugs found by exploration.
mod kernel;

/// Wi-Fi Display codec properties: round trips for every parameter type, no panics on any input.
mod wfd_props;

/// The `miracast-sim` binary: exit codes, reports, partitions, jobs, replay, explain, bad files.
mod cli;

/// The shipped scenarios pass; negatives fail for exactly their rules; located errors; schema.
mod scenarios;

/// Same seed, same trace; seeds change orders; replay tokens reproduce runs.
mod determinism;

/// Exploration of orderings: ordering scenarios found, tokens replayed, shrinking, clean corpus.
mod explore;

/// One verdict under `run --explore`: lines, findings, JSON and exit codes agree over the corpus.
mod verdict;

/// `show`: the HTML timeline in headless Chromium, Mermaid, Perfetto, byte-identical renderings.
mod show;

/// Rule coverage: the human table, the JSON, the committed snapshot of the shipped corpus.
mod coverage;

/// Long runs: progress lines when piped, reports streamed and written on SIGINT, flat memory.
mod long_runs;

/// Hangs explained: every live thread, its driver frame and what it waits for.
mod hangs;

/// Paper cuts: one skipped count, JUnit time, short path-independent tokens with a backend.
mod paper_cuts;

/// The check registry: every checked rule has a check that reports it on a shipped scenario,
/// and no check reports a rule it does not list or the catalogue marks unchecked.
mod registry;

/// Hostile drivers (hangs, forks, output floods, crashes on their own threads, garbage tables)
/// and hostile input: each ends with a finding or a clear error and every report is written.
mod hostile;
