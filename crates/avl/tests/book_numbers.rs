//! The numbers Part I of the book prints from seeded runs, pinned.
//!
//! Each test recomputes a value a chapter quotes, with the seed and the
//! parameters the chapter (or the figure it cites) uses, and asserts
//! exactly what the chapter prints, so a change to the code that moves a
//! number fails here until the prose is updated with it. Each test's doc
//! comment names the chapter and the sentence it pins.

use std::cell::Cell;
use std::cmp::Ordering;

use avl::AvlMap;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// The seed of the Part I figures (`visualizations/src/avl_figures.rs`).
const FIGURE_SEED: u64 = 0x5EED_5EED;

thread_local! {
    static COMPARISONS: Cell<u64> = const { Cell::new(0) };
}

/// A `u64` key that counts its comparisons: a search makes one per node it
/// visits.
#[derive(PartialEq, Eq)]
struct Counted(u64);

impl PartialOrd for Counted {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Counted {
    fn cmp(&self, other: &Self) -> Ordering {
        COMPARISONS.with(|c| c.set(c.get() + 1));
        self.0.cmp(&other.0)
    }
}

/// performance.md, "Same O(log n), different constants": "at a million random keys the tree
/// has 24 levels (the height figure shows it); a search for a present key
/// ends at about 19 on average". The keys are those of the height figure:
/// a million `u64` from ChaCha8 seeded with `0x5EED_5EED`, inserted one by
/// one.
#[test]
fn performance_a_million_random_keys_make_24_levels_and_searches_of_19() {
    let mut rng = ChaCha8Rng::seed_from_u64(FIGURE_SEED);
    let keys: Vec<u64> = (0..1_000_000).map(|_| rng.random()).collect();
    let mut map = AvlMap::new();
    for &k in &keys {
        map.insert(Counted(k), ());
    }
    assert_eq!(map.height(), 24);
    // Every 100th key: 10,000 searches.
    let probes: Vec<&u64> = keys.iter().step_by(100).collect();
    COMPARISONS.with(|c| c.set(0));
    for &&k in &probes {
        assert!(map.contains_key(&Counted(k)));
    }
    let mean = COMPARISONS.with(Cell::get) as f64 / probes.len() as f64;
    assert_eq!(format!("{mean:.0}"), "19", "{mean}");
}

/// testing.md, "Shrinking: a false claim, refuted twice": "the same false claim shrinks to 7 keys with
/// quickcheck and to 20 keys with proptest" ("Seven keys, the values shrunk
/// to 0 through 6", "Twenty keys"): the two snapshots the chapter includes.
#[test]
fn testing_the_shrunk_counterexamples_have_7_and_20_keys() {
    let read = |name: &str| {
        let path = format!(
            "{}/tests/snapshots/shrinking__{name}_shrinks_the_counterexample.snap",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let proptest = read("proptest");
    let body = proptest.split("---").nth(2).expect("a snapshot body");
    let keys = body
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .count();
    assert_eq!(keys, 20);
    assert!(read("quickcheck").contains("[\"[0, 2, 3, 4, 5, 1, 6]\"]"));
}
