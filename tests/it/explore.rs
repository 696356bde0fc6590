//! Exploration of orderings on scenarios: each ordering scenario is found, its printed token
//! replays it, the shrunk schedule is no larger and fails the same way; the reference drivers
//! explored exhaustively (bounded) on a small corpus find nothing; determinism, coverage,
//! replay-then-explore and divergence.

use miracast_sim::explore::scenario_run::{ScenarioRunConfig, run_scenario};
use miracast_sim::explore::{Bounds, ExploreConfig, ExploreReport, Mode, explore, token};
use miracast_sim::runner::{self, RunOptions};
use miracast_sim::scenario::Scenario;
use miracast_sim::sched::{FirstStrategy, RandomStrategy, ReplayStrategy, Strategy};
use std::path::Path;

fn never() -> bool {
    false
}

fn load(path: &str) -> Scenario {
    miracast_sim::scenario::load(Path::new(path))
        .expect("scenario loads")
        .0
}

fn explore_scenario(
    scenario: &Scenario,
    rc: &ScenarioRunConfig,
    config: &ExploreConfig,
) -> ExploreReport {
    let run = |s: Box<dyn Strategy>| run_scenario(scenario, rc, s);
    let c = ExploreConfig {
        scenario: (scenario.path.clone(), scenario.content_hash.clone()),
        ..config.clone()
    };
    explore(&c, &run, &never)
}

/// Replays a token the way `miracast-sim replay` does: recorded choices, then the seed's
/// random strategy.
fn replay_token(scenario: &Scenario, text: &str) -> runner::RunResult {
    let decoded = token::decode(text).expect("token decodes");
    assert_eq!(decoded.token.hash, scenario.content_hash);
    let strategy = ReplayStrategy::new(
        decoded.choices,
        Box::new(RandomStrategy::new(decoded.token.seed)),
    );
    runner::run_once(scenario, &RunOptions::default(), Box::new(strategy))
}

const ORDERINGS: &[(&str, &str)] = &[
    (
        "scenarios/self-test/orderings/completion-before-send-returns.json",
        "R27",
    ),
    (
        "scenarios/self-test/orderings/two-kernel-messages-unlocked.json",
        "R30",
    ),
    (
        "scenarios/self-test/orderings/buffer-released-before-completion.json",
        "R26",
    ),
    (
        "scenarios/self-test/orderings/held-message-delivered-after-start.json",
        "R30",
    ),
    (
        "scenarios/self-test/orderings/chunk-overflow-slow-consumer.json",
        "R53",
    ),
];

#[test]
fn each_ordering_scenario_is_found_replayed_and_shrunk() {
    for (path, rule) in ORDERINGS {
        let scenario = load(path);
        let rc = ScenarioRunConfig::default();
        // Some orderings pass and some fail: it is the ordering that breaks the rule.
        let survey = explore_scenario(
            &scenario,
            &rc,
            &ExploreConfig {
                mode: Mode::Portfolio,
                max_schedules: Some(60),
                shrink: false,
                ..ExploreConfig::default()
            },
        );
        assert!(
            survey.failing_schedules > 0,
            "{path}: no failing ordering in 60 schedules"
        );
        assert!(
            survey.failing_schedules < survey.schedules,
            "{path}: every ordering fails ({} of {})",
            survey.failing_schedules,
            survey.schedules
        );

        let config = ExploreConfig {
            mode: Mode::Portfolio,
            max_schedules: Some(200),
            stop_at_first_failure: true,
            shrink_runs: 60,
            ..ExploreConfig::default()
        };
        let report = explore_scenario(&scenario, &rc, &config);
        let failure = report
            .failures
            .iter()
            .find(|f| f.finding.key == *rule)
            .unwrap_or_else(|| panic!("{path}: {rule} not found:\n{}", report.summary()));
        let shrunk = failure.shrunk.as_ref().expect("shrunk");
        assert!(
            shrunk.preemptions <= shrunk.original_preemptions,
            "{path}: {}",
            shrunk.describe()
        );
        assert!(
            shrunk.deviations <= shrunk.original_deviations,
            "{path}: {}",
            shrunk.describe()
        );
        assert!(
            shrunk.threads <= shrunk.original_threads,
            "{path}: {}",
            shrunk.describe()
        );
        assert!(
            shrunk.significant_len <= shrunk.original_significant_len,
            "{path}: {}",
            shrunk.describe()
        );
        for text in [&failure.original_token, &failure.token] {
            let decoded = token::decode(text).expect("token decodes");
            assert_eq!(decoded.finding.as_deref(), Some(*rule));
            let replayed = replay_token(&scenario, text);
            assert!(
                replayed.divergence.is_none(),
                "{path}: replay diverged: {:?}",
                replayed.divergence
            );
            assert!(
                replayed
                    .violations
                    .iter()
                    .any(|v| v.rule.to_string() == *rule),
                "{path}: the token did not reproduce {rule}"
            );
        }
    }
}

/// Exhaustive depth-first search with partial-order reduction over `scenario`, within `bounds`.
fn exhaustive(scenario: &Scenario, bounds: Bounds, reduction: bool) -> ExploreReport {
    let config = ExploreConfig {
        mode: Mode::Dfs,
        max_schedules: None,
        bounds,
        reduction,
        shrink: false,
        ..ExploreConfig::default()
    };
    explore_scenario(scenario, &ScenarioRunConfig::default(), &config)
}

#[test]
fn reference_drivers_on_a_small_corpus_explore_clean_to_the_end() {
    // No bug knobs. Every shipped scenario without an RTSP session, and the one whose session
    // fails at once, explored without any bound: every schedule, to the end.
    let unbounded = [
        "scenarios/conformance/create-context/hardware-busy.json",
        "scenarios/self-test/create-context/target-id-seven.json",
        "scenarios/conformance/create-context/target-id.json",
        "scenarios/self-test/gpu-contexts/driver-mismatch.json",
        "scenarios/self-test/gpu-contexts/no-memory-only-when-spent.json",
        "scenarios/conformance/gpu-contexts/ten-thousand.json",
        "scenarios/conformance/hlk-preflight/wireless-display-verify-miracast-support.json",
        "scenarios/conformance/start-session/bitrate-too-low.json",
    ];
    // Whole sessions (negotiation, streaming, teardown): every schedule with at most one
    // preemption, to the end of the run. (Two preemptions on connect-disconnect: 4,695
    // schedules, in the bench.)
    let one_preemption = Bounds {
        max_preemptions: Some(1),
        max_depth: None,
    };
    let sessions = [
        "scenarios/conformance/lifecycle/connect-disconnect.json",
        "scenarios/conformance/start-session/no-monitor.json",
        "scenarios/self-test/os-model/umd-calls-serialized.json",
    ];
    // Messages and IOCTLs racing the session: one preemption among the first 14 choices.
    let early = Bounds {
        max_preemptions: Some(1),
        max_depth: Some(14),
    };
    let racing = [
        "scenarios/conformance/messages/two-at-once.json",
        "scenarios/conformance/messages/held-during-start.json",
        "scenarios/conformance/lifecycle/ioctl-during-start-waits.json",
        "scenarios/conformance/orderings/ioctl-racing-start.json",
    ];
    let corpus = unbounded
        .iter()
        .map(|p| (*p, Bounds::default()))
        .chain(sessions.iter().map(|p| (*p, one_preemption)))
        .chain(racing.iter().map(|p| (*p, early)));
    for (path, bounds) in corpus {
        let scenario = load(path);
        assert!(
            scenario.setup.knobs.enabled().is_empty(),
            "{path} has bug knobs"
        );
        let report = exhaustive(&scenario, bounds, true);
        assert!(report.complete, "{path}: exploration did not finish");
        // Bring-up and context calls only: a single thread, a single schedule.
        let single = unbounded[..7].contains(&path);
        assert!(
            report.schedules > 1 || single,
            "{path}: only {} schedule",
            report.schedules
        );
        assert!(report.failures.is_empty(), "{path}:\n{}", report.summary());
    }
}

#[test]
fn reduction_prunes_sessions_and_keeps_every_ordering_bug() {
    // Partial-order reduction on a whole session: the same bounded search, far fewer schedules.
    let scenario = load("scenarios/conformance/start-session/no-monitor.json");
    let bounds = Bounds {
        max_preemptions: Some(1),
        max_depth: None,
    };
    let reduced = exhaustive(&scenario, bounds, true);
    let full = exhaustive(&scenario, bounds, false);
    assert!(reduced.complete && full.complete);
    assert!(
        reduced.schedules * 5 < full.schedules,
        "reduced {} vs full {}",
        reduced.schedules,
        full.schedules
    );
    // And what it prunes is only reorderings of independent steps: the search with
    // reduction still finds every ordering bug.
    for (path, rule) in ORDERINGS {
        let scenario = load(path);
        let config = ExploreConfig {
            mode: Mode::Dfs,
            max_schedules: Some(10_000),
            bounds: Bounds {
                max_preemptions: Some(1),
                max_depth: None,
            },
            stop_at_first_failure: true,
            shrink: false,
            ..ExploreConfig::default()
        };
        let report = explore_scenario(&scenario, &ScenarioRunConfig::default(), &config);
        assert!(
            report.failures.iter().any(|f| f.finding.key == *rule),
            "{path}: the reduced search did not find {rule}:\n{}",
            report.summary()
        );
    }
}

#[test]
fn determinism_self_check_and_coverage_on_a_scenario() {
    let scenario = load("scenarios/conformance/messages/held-during-start.json");
    let rc = ScenarioRunConfig {
        coverage: true,
        keep_trace: true,
        ..ScenarioRunConfig::default()
    };
    let config = ExploreConfig {
        mode: Mode::Portfolio,
        max_schedules: Some(16),
        check_determinism: true,
        shrink: false,
        ..ExploreConfig::default()
    };
    let report = explore_scenario(&scenario, &rc, &config);
    assert!(
        report.nondeterminism.is_empty(),
        "{:?}",
        report.nondeterminism
    );
    assert!(
        report
            .coverage
            .visited
            .keys()
            .any(|k| k.ddi == miracast_sim::ddi::Ddi::HandleKernelModeMessage)
    );
    let summary = report.coverage.summary();
    assert!(summary.contains("StartMiracastSession"), "{summary}");
    let json = serde_json::to_value(&report).expect("report serializes");
    assert!(json["coverage"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn then_explore_continues_from_a_token_and_replay_reports_divergence() {
    let scenario = load("scenarios/self-test/orderings/two-kernel-messages-unlocked.json");
    let rc = ScenarioRunConfig::default();
    let first = run_scenario(&scenario, &rc, Box::new(RandomStrategy::new(5)));
    let prefix: Vec<_> = first.schedule[..10].to_vec();
    let config = ExploreConfig {
        mode: Mode::Random,
        max_schedules: Some(5),
        prefix: prefix.clone(),
        shrink: false,
        ..ExploreConfig::default()
    };
    let run = |s: Box<dyn Strategy>| {
        let o = run_scenario(&scenario, &rc, s);
        assert_eq!(
            &o.schedule[..10],
            &prefix[..],
            "every schedule starts with the replayed prefix"
        );
        o
    };
    assert_eq!(explore(&config, &run, &never).schedules, 5);

    // The same choices on another scenario stop fitting: replay says where and how.
    let other = load("scenarios/conformance/messages/held-during-start.json");
    let replayed = runner::run_once(
        &other,
        &RunOptions::default(),
        Box::new(ReplayStrategy::new(
            first.schedule.clone(),
            Box::new(FirstStrategy),
        )),
    );
    let d = replayed
        .divergence
        .expect("the schedule does not fit another scenario");
    assert!(d.index < first.schedule.len());
    assert_eq!(d.expected, first.schedule[d.index]);
}

#[test]
fn orderings_that_once_broke_the_reference_kmd_stay_clean() {
    // Exploration found two races in the reference KMD: a send that read the Miracast context
    // before DxgkDdiMiracastDestroyContext and called DxgkCbMiracastSendMessage after it
    // returned (R19; fixed with a rundown), and the EDID dropped before the departure was
    // reported while Plug and Play was still reading it (R15). The portfolio found each within
    // its first 250 schedules.
    for path in [
        "scenarios/conformance/messages/never-during-serialized-calls.json",
        "scenarios/conformance/hlk-preflight/wireless-display-verify-monitor-disconnect.json",
    ] {
        let scenario = load(path);
        let config = ExploreConfig {
            mode: Mode::Portfolio,
            max_schedules: Some(300),
            shrink: false,
            ..ExploreConfig::default()
        };
        let report = explore_scenario(&scenario, &ScenarioRunConfig::default(), &config);
        assert_eq!(report.schedules, 300, "{path}");
        // No rule broken and no hang. (The monitor-disconnect scenario's own `happens` does not
        // hold when the monitor departs before the session plays: that is the finding `expect`,
        // about the scenario, not the KMD.)
        assert!(
            report.failures.iter().all(|f| f.finding.key == "expect"),
            "{path}:\n{}",
            report.summary()
        );
    }
}

#[test]
fn gpu_contexts_created_on_two_threads_at_once_are_each_judged_by_their_own_allocations() {
    // DxgkDdiCreateContext is Level 0, so the OS may run two at once. The OS counted the pool a
    // GPU context took in one window for the whole OS: two creates at once mixed their counts,
    // and about one schedule in five reported a correct KMD under R72 ("freed 65536 of the
    // 131072 bytes"). Each thread now counts its own call.
    let scenario = load("scenarios/conformance/gpu-contexts/from-two-threads.json");
    let config = ExploreConfig {
        mode: Mode::Portfolio,
        max_schedules: Some(200),
        shrink: false,
        ..ExploreConfig::default()
    };
    let report = explore_scenario(&scenario, &ScenarioRunConfig::default(), &config);
    assert_eq!(report.schedules, 200);
    assert!(report.failures.is_empty(), "{}", report.summary());
}
