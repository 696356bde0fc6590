use super::models::{lock_order_inversion, lock_steps};
use super::*;
use std::collections::HashSet;

fn never() -> bool {
    false
}

fn dfs(reduction: bool) -> ExploreConfig {
    ExploreConfig {
        mode: Mode::Dfs,
        max_schedules: None,
        reduction,
        shrink: false,
        ..ExploreConfig::default()
    }
}

#[test]
fn sleep_sets_reduce_two_by_five_lock_steps_to_the_lock_orders() {
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(2, 5, false, s);
    let r = explore(&dfs(true), &run, &never);
    assert!(r.complete);
    assert!(r.failures.is_empty());
    // C(10, 5): only the order of the ten lock acquisitions matters.
    assert_eq!(r.schedules, 252);
    assert_eq!(r.distinct_schedules, 252);
    let plain = explore(&dfs(false), &run, &never);
    assert!(plain.complete);
    assert!(
        plain.schedules > r.schedules,
        "{} vs {}",
        plain.schedules,
        r.schedules
    );
}

#[test]
fn dfs_finds_the_lost_update_and_the_shrunk_token_replays_it() {
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(2, 3, true, s);
    let config = ExploreConfig {
        shrink: true,
        stop_at_first_failure: true,
        ..dfs(true)
    };
    let r = explore(&config, &run, &never);
    let f = r.failures.first().expect("lost update found");
    assert_eq!(f.finding.key, "lost-update");
    let shrunk = f.shrunk.as_ref().expect("shrunk");
    assert!(shrunk.choices_len <= shrunk.original_len);
    let decoded = token::decode(&f.token).expect("token decodes");
    assert_eq!(decoded.finding.as_deref(), Some("lost-update"));
    let replayed = run(Box::new(crate::sched::ReplayStrategy::new(
        decoded.choices,
        Box::new(crate::sched::FirstStrategy),
    )));
    assert!(replayed.fails_with("lost-update"));
    assert!(replayed.divergence.is_none());
}

#[test]
fn random_pct_and_portfolio_find_the_lost_update() {
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(2, 5, true, s);
    for mode in [
        Mode::Random,
        Mode::Pct { depth: 2 },
        Mode::Pct { depth: 3 },
        Mode::Portfolio,
    ] {
        let config = ExploreConfig {
            mode,
            max_schedules: Some(200),
            shrink: false,
            ..ExploreConfig::default()
        };
        let r = explore(&config, &run, &never);
        assert!(
            !r.failures.is_empty(),
            "{mode:?} found nothing in 200 schedules"
        );
    }
}

#[test]
fn deadlock_is_a_finding_with_the_wait_for_chain() {
    let r = explore(&dfs(true), &lock_order_inversion, &never);
    assert!(r.complete);
    let f = r
        .failures
        .iter()
        .find(|f| f.finding.key == "deadlock")
        .expect("deadlock found");
    assert!(
        f.finding.message.contains("held by"),
        "{}",
        f.finding.message
    );
}

#[test]
fn partitions_split_the_tree_without_overlap_and_jobs_cover_it_all() {
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(2, 3, false, s);
    let whole = explore(&dfs(true), &run, &never);
    let mut total = 0;
    for part in 0..3 {
        let c = ExploreConfig {
            partition: Partition { part, parts: 3 },
            ..dfs(true)
        };
        let r = explore(&c, &run, &never);
        assert!(r.complete);
        total += r.schedules;
    }
    assert_eq!(total, whole.schedules);
    let jobs = explore(
        &ExploreConfig {
            jobs: 2,
            ..dfs(true)
        },
        &run,
        &never,
    );
    assert_eq!(jobs.schedules, whole.schedules);
    assert_eq!(jobs.distinct_schedules, whole.distinct_schedules);
}

#[test]
fn preemption_bound_limits_the_search() {
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(2, 5, false, s);
    let counts: Vec<u64> = [0, 1, 2]
        .iter()
        .map(|p| {
            let c = ExploreConfig {
                bounds: Bounds {
                    max_preemptions: Some(*p),
                    max_depth: None,
                },
                ..dfs(true)
            };
            explore(&c, &run, &never).schedules
        })
        .collect();
    assert!(
        counts[0] < counts[1] && counts[1] < counts[2] && counts[2] < 252,
        "{counts:?}"
    );
}

#[test]
fn budget_stop_reports_progress() {
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(2, 5, false, s);
    let calls = std::sync::atomic::AtomicU64::new(0);
    let stop = || calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 10;
    let r = explore(&dfs(true), &run, &stop);
    assert!(r.budget_exhausted && !r.complete);
    assert_eq!(r.schedules, 10);
    assert!(!r.progress.is_empty());
}

#[test]
fn seeds_are_split_across_partitions() {
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(2, 2, false, s);
    let mut seen = HashSet::new();
    for part in 0..2 {
        let c = ExploreConfig {
            mode: Mode::Random,
            max_schedules: Some(5),
            partition: Partition { part, parts: 2 },
            shrink: false,
            ..ExploreConfig::default()
        };
        let r = explore(&c, &run, &never);
        assert_eq!(r.schedules, 5);
        seen.insert(part);
    }
    assert_eq!(seen.len(), 2);
}

#[test]
fn shrinking_lets_threads_the_failure_does_not_need_run_undisturbed() {
    // Four threads, a lost update: a random schedule that breaks it interleaves every thread,
    // while two suffice (one preempted between its read and its write).
    let run = |s: Box<dyn crate::sched::Strategy>| lock_steps(4, 2, true, s);
    let failing = (0..500u64)
        .map(|seed| run(Box::new(crate::sched::RandomStrategy::new(seed))))
        .find(|o| o.fails_with("lost-update"))
        .expect("some seed loses an update");
    let s = super::shrink::shrink(&run, &failing.schedule, "lost-update", 300);
    assert!(s.original_threads >= 3, "{}", s.describe());
    assert!(s.threads < s.original_threads, "{}", s.describe());
    assert!(s.threads <= 2, "{}", s.describe());
    assert!(s.preemptions <= s.original_preemptions, "{}", s.describe());
    let replayed = run(Box::new(crate::sched::ReplayStrategy::new(
        s.choices.clone(),
        Box::new(crate::sched::FirstStrategy),
    )));
    assert!(replayed.fails_with("lost-update"));
}
