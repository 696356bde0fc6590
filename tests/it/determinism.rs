//! Same scenario and seed: byte-identical trace; different seeds: different orders where the
//! OS has a choice; a replay token reproduces its run exactly.

use miracast_sim::runner::{self, ReplayToken, RunOptions};
use miracast_sim::scenario;
use miracast_sim::sched::{RandomStrategy, ReplayStrategy};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[test]
fn same_seed_gives_byte_identical_traces_for_every_scenario() {
    for file in scenario::discover(&[PathBuf::from("scenarios")]).unwrap() {
        let (s, _) = scenario::load(&file).unwrap();
        let a = runner::run_seeded(&s, &RunOptions::default());
        let b = runner::run_seeded(&s, &RunOptions::default());
        if let Some((i, x, y)) = a.trace.first_difference(&b.trace) {
            panic!(
                "{}: traces differ at event {i}:\n  {x:?}\n  {y:?}",
                file.display()
            );
        }
        assert_eq!(a.trace.to_text(), b.trace.to_text());
        assert_eq!(a.schedule, b.schedule);
    }
}

#[test]
fn different_seeds_reach_different_orders_where_the_os_has_a_choice() {
    let (s, _) = scenario::load(Path::new(
        "scenarios/conformance/create-context/class-never-overlaps.json",
    ))
    .unwrap();
    let orders: BTreeSet<String> = (0..16)
        .map(|seed| {
            let r = runner::run_seeded(
                &s,
                &RunOptions {
                    seed: Some(seed),
                    ..RunOptions::default()
                },
            );
            assert!(runner::judge(&s, &r).passed, "seed {seed}");
            r.trace.to_text()
        })
        .collect();
    assert!(
        orders.len() > 1,
        "16 seeds all produced the same interleaving"
    );
}

#[test]
fn a_replay_token_reproduces_its_run() {
    let (s, _) =
        scenario::load(Path::new("scenarios/conformance/messages/two-at-once.json")).unwrap();
    let first = runner::run_seeded(
        &s,
        &RunOptions {
            seed: Some(5),
            ..RunOptions::default()
        },
    );
    let token = ReplayToken::decode(&first.replay_token()).unwrap();
    assert_eq!(
        (token.seed, token.hash.as_str()),
        (5, s.content_hash.as_str())
    );
    let choices = token.choices().unwrap();
    assert_eq!(choices, first.schedule);
    // The fallback seed differs on purpose: only the recorded choices may decide.
    let strategy = ReplayStrategy::new(choices, Box::new(RandomStrategy::new(999)));
    let again = runner::run_once(
        &s,
        &RunOptions {
            seed: Some(5),
            ..RunOptions::default()
        },
        Box::new(strategy),
    );
    assert_eq!(again.divergence, None);
    assert_eq!(again.trace.to_text(), first.trace.to_text());
}
