//! Shared helpers for the integration tests: one seed for every random choice.

#![allow(dead_code, unreachable_pub, unused_imports)]

use proptest::test_runner::{Config, RngSeed};

/// proptest's configuration with the project's default seed, 0x5EED_5EED;
/// `PROPTEST_RNG_SEED=<u64>` picks another, `PROPTEST_CASES=<n>` more cases.
pub fn seeded() -> Config {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => 0x5EED_5EED,
    };
    Config {
        rng_seed: RngSeed::Fixed(seed),
        ..config
    }
}

// The fault-injecting storage and its helpers live in the library now
// (`kv::FaultyStorage`), so students and the other crates can use them.
pub use kv::{Call, FaultyStorage as Hooked, Then, dies_after};
