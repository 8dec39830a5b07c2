//! Shared helpers for the integration tests: one seed for every random choice.
//!
//! Every property test runs from a fixed ChaCha seed, so a run is reproducible
//! byte for byte. `PROPTEST_RNG_SEED=<u64>` picks another seed and
//! `PROPTEST_CASES=<n>` more cases; a failure prints the seed to rerun with.

#![allow(dead_code, unreachable_pub)]

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// The seed used when `PROPTEST_RNG_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x5EED_5EED;

/// The proptest configuration of every property test and its seed.
pub fn config() -> (Config, u64) {
    let mut config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => DEFAULT_SEED,
    };
    config.rng_seed = RngSeed::Fixed(seed);
    (config, seed)
}

/// Runs `test` on values of `strategy`; on failure panics with the minimal
/// failing input and the command that replays it.
pub fn check<S, F>(name: &str, strategy: S, test: F)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: Fn(S::Value) -> Result<(), TestCaseError>,
{
    let (config, seed) = config();
    let mut runner = TestRunner::new(config);
    match runner.run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(reason, input)) => panic!(
            "{name} failed: {reason}\nminimal input: {input:#?}\nreplay: PROPTEST_RNG_SEED={seed} cargo test -p avl --test {} {name}",
            env!("CARGO_CRATE_NAME")
        ),
        Err(TestError::Abort(reason)) => panic!("{name} aborted: {reason} (seed {seed})"),
    }
}

/// Draws one value of `strategy` from the runner's seeded generator, without
/// shrinking (for tests that want a reproducible random input).
pub fn sample<S: Strategy>(strategy: S) -> S::Value {
    let (config, _) = config();
    let mut runner = TestRunner::new(config);
    strategy
        .new_tree(&mut runner)
        .expect("strategy generates a value")
        .current()
}

/// Keeps panics that a test provokes on purpose (their message contains one
/// of `markers`) out of the output; every other panic prints as usual.
pub fn quiet_expected_panics(markers: &'static [&'static str]) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !markers.iter().any(|m| message.contains(m)) {
                default(info);
            }
        }));
    });
}
