//! A shrinking demonstration for the testing chapter: a plausible but false
//! claim, "an AVL tree is always as short as possible", refuted by proptest
//! and by quickcheck, each shrinking its random counter-example to a small one.
//!
//! The claim fails first at 7 keys: the Fibonacci tree of height 4 holds 7
//! keys, while 7 keys fit in a perfect tree of height 3. Both frameworks run
//! from fixed seeds, so the shrunk counter-examples are pinned as snapshots.

mod support;

use avl::AvlSet;
use proptest::prelude::*;
use proptest::test_runner::{TestError, TestRunner};
use quickcheck::{Gen, QuickCheck, TestResult};

// ANCHOR: claim
/// The false claim: inserting `keys` one by one gives a tree of minimal
/// height ⌈log₂(n + 1)⌉.
fn height_is_minimal(keys: &[u8]) -> bool {
    let mut set = AvlSet::new();
    for &k in keys {
        set.insert(k);
    }
    let n = set.len();
    let minimal = (usize::BITS - n.leading_zeros()) as usize; // ⌈log₂(n + 1)⌉
    set.height() == minimal
}
// ANCHOR_END: claim

fn distinct(keys: &[u8]) -> usize {
    keys.iter().copied().collect::<AvlSet<u8>>().len()
}

// ANCHOR: proptest_shrink
#[test]
fn proptest_shrinks_the_counterexample() {
    let (config, _) = support::config();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(any::<u8>(), 0..100), |keys| {
        prop_assert!(height_is_minimal(&keys));
        Ok(())
    });
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("the false claim must be refuted: {result:?}")
    };
    assert!(!height_is_minimal(&minimal), "the shrunk input still fails");
    assert!(
        distinct(&minimal) >= 7,
        "no AVL tree with fewer than 7 keys is taller than minimal"
    );
    insta::assert_debug_snapshot!(minimal);
}
// ANCHOR_END: proptest_shrink

// ANCHOR: quickcheck_shrink
#[test]
fn quickcheck_shrinks_the_counterexample() {
    fn claim(keys: Vec<u8>) -> TestResult {
        TestResult::from_bool(height_is_minimal(&keys))
    }
    let mut qc = QuickCheck::new()
        .rng(Gen::from_size_and_seed(100, support::DEFAULT_SEED))
        .tests(1000);
    let outcome = qc.quicktest(claim as fn(Vec<u8>) -> TestResult);
    let Err(failure) = outcome else {
        panic!("the false claim must be refuted")
    };
    // quickcheck reports the shrunk arguments as text.
    let shrunk = format!("{failure:?}");
    assert!(failure.is_failure(), "{shrunk}");
    insta::assert_snapshot!(shrunk);
}
// ANCHOR_END: quickcheck_shrink
