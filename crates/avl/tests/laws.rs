//! Algebraic laws, checked with quickcheck (the book compares it with the
//! proptest model test in `model.rs`).
//!
//! Each law is a small function from random inputs to `bool` or a
//! `TestResult`; quickcheck generates inputs from a seeded `Gen` and, on a
//! failure, shrinks them. The seed is fixed (`QUICKCHECK_SEED` overrides it)
//! so every run checks the same cases.

use std::collections::BTreeSet;

use avl::{AvlMap, AvlSet};
use quickcheck::{Gen, QuickCheck, Testable};

/// Runs a law on 500 seeded cases (`QUICKCHECK_TESTS` overrides the count).
fn check<A: Testable>(law: A) {
    let seed = std::env::var("QUICKCHECK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_5EED);
    let tests = std::env::var("QUICKCHECK_TESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    eprintln!("quickcheck seed {seed} (QUICKCHECK_SEED={seed} replays)");
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(100, seed))
        .tests(tests)
        .quickcheck(law);
}

fn map_of(entries: Vec<(u16, u16)>) -> AvlMap<u16, u16> {
    entries.into_iter().collect()
}

fn set_of(values: &[u8]) -> AvlSet<u8> {
    values.iter().copied().collect()
}

fn model_of(values: &[u8]) -> BTreeSet<u8> {
    values.iter().copied().collect()
}

// ANCHOR: split_append
#[test]
fn split_off_then_append_is_the_identity() {
    fn law(entries: Vec<(u16, u16)>, key: u16) -> bool {
        let original = map_of(entries);
        let mut left = original.clone();
        let mut right = left.split_off(&key);
        let parts_valid = left.check_invariants().is_ok() && right.check_invariants().is_ok();
        let parts_split = left.keys().all(|k| *k < key) && right.keys().all(|k| *k >= key);
        left.append(&mut right);
        parts_valid
            && parts_split
            && right.is_empty()
            && left == original
            && left.check_invariants().is_ok()
    }
    check(law as fn(Vec<(u16, u16)>, u16) -> bool);
}
// ANCHOR_END: split_append

// ANCHOR: rank_select
#[test]
fn rank_of_select_is_the_identity() {
    fn law(entries: Vec<(u16, u16)>) -> bool {
        let map = map_of(entries);
        (0..map.len()).all(|i| map.select(i).is_some_and(|(k, _)| map.rank(k) == i))
            && map.select(map.len()).is_none()
    }
    check(law as fn(Vec<(u16, u16)>) -> bool);
}
// ANCHOR_END: rank_select

#[test]
fn select_of_rank_finds_present_keys() {
    fn law(entries: Vec<(u16, u16)>, probe: u16) -> bool {
        let map = map_of(entries);
        let rank = map.rank(&probe);
        let below = map.keys().filter(|k| **k < probe).count();
        let found = map.select(rank).map(|(k, _)| *k);
        // For an absent probe, `select(rank)` is its successor: the
        // smallest key above it, or `None` past the end.
        let successor = map.range(probe..).next().map(|(k, _)| *k);
        rank == below && found == successor && (found == Some(probe)) == map.contains_key(&probe)
    }
    check(law as fn(Vec<(u16, u16)>, u16) -> bool);
}

#[test]
fn appending_ordered_maps_is_concatenation() {
    fn law(a: Vec<u16>, b: Vec<u16>) -> bool {
        // Shift b above a so that the join fast path is taken.
        let mut left: AvlMap<u32, ()> = a.iter().map(|&k| (u32::from(k), ())).collect();
        let mut right: AvlMap<u32, ()> = b.iter().map(|&k| (u32::from(k) + 70_000, ())).collect();
        let expected: Vec<u32> = left.keys().chain(right.keys()).copied().collect();
        left.append(&mut right);
        left.keys().copied().eq(expected) && left.check_invariants().is_ok()
    }
    check(law as fn(Vec<u16>, Vec<u16>) -> bool);
}

// ANCHOR: set_laws
#[test]
fn set_operations_agree_with_btreeset() {
    fn law(a: Vec<u8>, b: Vec<u8>) -> bool {
        let (sa, sb) = (set_of(&a), set_of(&b));
        let (ma, mb) = (model_of(&a), model_of(&b));
        let lazy = sa.union(&sb).eq(ma.union(&mb))
            && sa.intersection(&sb).eq(ma.intersection(&mb))
            && sa.difference(&sb).eq(ma.difference(&mb))
            && sa
                .symmetric_difference(&sb)
                .eq(ma.symmetric_difference(&mb));
        let relations = sa.is_subset(&sb) == ma.is_subset(&mb)
            && sa.is_superset(&sb) == ma.is_superset(&mb)
            && sa.is_disjoint(&sb) == ma.is_disjoint(&mb);
        let owned = [&sa | &sb, &sa & &sb, &sa - &sb, &sa ^ &sb];
        let expected = [&ma | &mb, &ma & &mb, &ma - &mb, &ma ^ &mb];
        let joined = owned
            .iter()
            .zip(&expected)
            .all(|(ours, theirs)| ours.check_invariants().is_ok() && ours.iter().eq(theirs.iter()));
        lazy && relations && joined
    }
    check(law as fn(Vec<u8>, Vec<u8>) -> bool);
}

#[test]
fn union_and_intersection_absorb() {
    // A ∪ (A ∩ B) = A and A ∩ (A ∪ B) = A.
    fn law(a: Vec<u8>, b: Vec<u8>) -> bool {
        let (sa, sb) = (set_of(&a), set_of(&b));
        (&sa | &(&sa & &sb)) == sa && (&sa & &(&sa | &sb)) == sa
    }
    check(law as fn(Vec<u8>, Vec<u8>) -> bool);
}

#[test]
fn difference_and_intersection_partition() {
    // (A − B) ∪ (A ∩ B) = A, and the two parts are disjoint.
    fn law(a: Vec<u8>, b: Vec<u8>) -> bool {
        let (sa, sb) = (set_of(&a), set_of(&b));
        let (only_a, both) = (&sa - &sb, &sa & &sb);
        only_a.is_disjoint(&both) && (only_a | both) == sa
    }
    check(law as fn(Vec<u8>, Vec<u8>) -> bool);
}

#[test]
fn symmetric_difference_is_union_minus_intersection() {
    fn law(a: Vec<u8>, b: Vec<u8>, c: Vec<u8>) -> bool {
        let (sa, sb, sc) = (set_of(&a), set_of(&b), set_of(&c));
        let sym = &sa ^ &sb;
        // Associativity as well: (A ^ B) ^ C = A ^ (B ^ C).
        sym == &(&sa | &sb) - &(&sa & &sb) && (&sym ^ &sc) == (&sa ^ &(&sb ^ &sc))
    }
    check(law as fn(Vec<u8>, Vec<u8>, Vec<u8>) -> bool);
}
// ANCHOR_END: set_laws

#[test]
fn sizes_add_up() {
    // |A ∪ B| + |A ∩ B| = |A| + |B|.
    fn law(a: Vec<u8>, b: Vec<u8>) -> bool {
        let (sa, sb) = (set_of(&a), set_of(&b));
        (&sa | &sb).len() + (&sa & &sb).len() == sa.len() + sb.len()
    }
    check(law as fn(Vec<u8>, Vec<u8>) -> bool);
}
