//! The check registry against the catalogue and the corpus.
//!
//! The catalogue says which rules are checked; the registry says which check reports which
//! rule. These tests tie them together and to what the checks actually do: every checked rule
//! is reported, by a check registered for it, on a shipped self-test scenario. Delete the code
//! of a check and the rule it alone reported goes missing here.

use miracast_sim::model::knobs::KNOB_CATALOGUE;
use miracast_sim::rules::registry::{CHECKS, checks_for};
use miracast_sim::rules::trace_checks::trace_check_ids;
use miracast_sim::rules::{CATALOGUE, CheckId, Place, RuleId};
use miracast_sim::runner::{self, RunOptions};
use miracast_sim::scenario::{self, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn corpus() -> Vec<(PathBuf, Scenario)> {
    scenario::discover(&[PathBuf::from("scenarios")])
        .expect("scenarios/ is readable")
        .into_iter()
        .map(|f| {
            let (s, _) = scenario::load(&f).unwrap_or_else(|e| panic!("{}", e.render()));
            (f, s)
        })
        .collect()
}

#[test]
fn the_registry_and_the_catalogue_agree() {
    for rule in CATALOGUE {
        let checks: Vec<CheckId> = checks_for(rule.id).map(|c| c.id).collect();
        assert_eq!(
            rule.check.is_checked(),
            !checks.is_empty(),
            "{} is marked {} but has checks {checks:?}",
            rule.id,
            rule.check
        );
    }
    for check in CHECKS {
        assert!(!check.rules.is_empty(), "{:?} reports no rule", check.id);
        for r in check.rules {
            assert!(
                r.rule().check.is_checked(),
                "{:?} reports {r}, which the catalogue marks unchecked",
                check.id
            );
        }
    }
    // The trace checks that run are exactly the registry's trace entries.
    let registered: BTreeSet<CheckId> = CHECKS
        .iter()
        .filter(|c| c.place == Place::Trace)
        .map(|c| c.id)
        .collect();
    let run: BTreeSet<CheckId> = trace_check_ids().collect();
    assert_eq!(registered, run);
}

/// Runs every self-test scenario (the ones expecting violations) and collects which check
/// reported which rule.
fn reported_by_the_corpus() -> BTreeMap<RuleId, BTreeSet<CheckId>> {
    let mut seen: BTreeMap<RuleId, BTreeSet<CheckId>> = BTreeMap::new();
    for (path, s) in corpus() {
        if s.expect.violations.is_empty() {
            continue;
        }
        let result = runner::run_seeded(&s, &RunOptions::default());
        for v in &result.violations {
            assert!(
                v.check.may_report(v.rule),
                "{}: {:?} reported {}, which its registry entry does not list",
                path.display(),
                v.check,
                v.rule
            );
            assert!(
                v.rule.rule().check.is_checked(),
                "{}: {} reported although the catalogue marks it unchecked",
                path.display(),
                v.rule
            );
            seen.entry(v.rule).or_default().insert(v.check);
        }
    }
    seen
}

#[test]
fn every_checked_rule_is_reported_by_its_check_on_a_shipped_scenario() {
    let seen = reported_by_the_corpus();
    let mut missing = Vec::new();
    for rule in CATALOGUE.iter().filter(|r| r.check.is_checked()) {
        match seen.get(&rule.id) {
            Some(checks) if checks.iter().all(|c| c.may_report(rule.id)) => {}
            _ => missing.push(format!(
                "{} ({}) is marked checked, but no shipped self-test scenario saw any of its checks {:?} report it",
                rule.id,
                rule.title,
                checks_for(rule.id).map(|c| c.id).collect::<Vec<_>>()
            )),
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_bug_knob_has_a_self_test_scenario_expecting_its_rules() {
    let corpus = corpus();
    for knob in KNOB_CATALOGUE {
        let expected: BTreeSet<RuleId> = knob.rules.iter().copied().collect();
        let found = corpus.iter().any(|(_, s)| {
            let json = serde_json::to_value(&s.setup.knobs).expect("knobs serialize");
            let on = json
                .get(knob.name)
                .is_some_and(|v| !v.is_null() && v != &serde_json::Value::Bool(false));
            on && expected.is_subset(&s.expect.violations)
        });
        assert!(
            found,
            "knob {} has no scenario under scenarios/ expecting {expected:?}",
            knob.name
        );
    }
}

/// The README's per-backend counts are the catalogue's.
#[test]
fn the_readme_counts_rules_per_backend_as_the_catalogue_does() {
    use miracast_sim::rules::catalogue::{BinaryReach, binaries, checked_count};
    let with = |b: BinaryReach| CATALOGUE.iter().filter(|r| binaries(r.id) == b).count();
    let readme = std::fs::read_to_string("README.md").unwrap();
    let want = format!(
        "Today: {} rules are judged on binaries directly, {} on Linux only",
        with(BinaryReach::Yes),
        with(BinaryReach::OnLinux)
    );
    assert!(readme.contains(&want), "README.md should say: {want}");
    let want = format!("{} through the profile", with(BinaryReach::WithProfile));
    assert!(readme.contains(&want), "README.md should say: {want}");
    let model_only = format!(
        "{} only on the reference drivers",
        with(BinaryReach::ModelOnly)
    );
    assert!(
        readme.contains(&model_only),
        "README.md should say: {model_only}"
    );
    let unchecked = format!("and {} are unchecked;", CATALOGUE.len() - checked_count());
    assert!(
        readme.contains(&unchecked),
        "README.md should say: {unchecked}"
    );
    assert_eq!(
        with(BinaryReach::NeedsKernelRoutines),
        0,
        "every rule the kernel routines serve is judged on binaries"
    );
}
