//! Model-based test: random sequences of every reading and mutating operation
//! of `AvlMap`, replayed on `std::collections::BTreeMap`. After every step the
//! results must agree; after every mutation `check_invariants()` must pass.
//!
//! Keys are `u8` (few distinct values, so many collisions) and short `String`s
//! (heap-allocated keys; `borrowed_str_lookups_match` checks `&str` look-ups). The same panics are part of the contract: an
//! invalid range must panic in both maps or in neither.

mod support;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};

use avl::AvlMap;
use avl::map::Entry;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ANCHOR: ops
#[derive(Clone, Debug)]
enum Op<K> {
    Insert(K, u32),
    Remove(K),
    RemoveEntry(K),
    Get(K),
    GetMut(K, u32),
    GetKeyValue(K),
    ContainsKey(K),
    EntryOrInsert(K, u32),
    EntryAndModifyOrInsert(K),
    EntryOrDefault(K),
    EntryRemove(K),
    EntryOccupiedInsert(K, u32),
    FirstAndLast,
    PopFirst,
    PopLast,
    Range(Bound<K>, Bound<K>, Vec<bool>),
    RangeMut(Bound<K>, Bound<K>, Vec<bool>, u32),
    Iter(Vec<bool>),
    /// Take some steps from either end, then `fold` the rest of a range.
    Fold(Bound<K>, Bound<K>, Vec<bool>),
    IterNth(usize, usize),
    IterMut(Vec<bool>, u32),
    IntoIter(Vec<bool>),
    KeysValues(Vec<bool>),
    ValuesMut(u32),
    Retain(u32),
    Append(Vec<(K, u32)>),
    SplitOff(K),
    SplitOffThenAppend(K),
    Rank(K),
    Select(usize),
    Extend(Vec<(K, u32)>),
    Clear,
    CloneEq,
}
// ANCHOR_END: ops

fn bound<K: Debug + Clone>(
    key: impl Strategy<Value = K> + Clone,
) -> impl Strategy<Value = Bound<K>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key.clone().prop_map(Bound::Included),
        2 => key.prop_map(Bound::Excluded),
    ]
}

fn op<K: Debug + Clone + 'static>(
    key: impl Strategy<Value = K> + Clone + 'static,
) -> impl Strategy<Value = Op<K>> {
    let k = || key.clone();
    let pattern = || prop::collection::vec(any::<bool>(), 0..40);
    let entries = || prop::collection::vec((k(), any::<u32>()), 0..40);
    prop_oneof![
        8 => (k(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => k().prop_map(Op::Remove),
        1 => k().prop_map(Op::RemoveEntry),
        2 => k().prop_map(Op::Get),
        1 => (k(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        1 => k().prop_map(Op::GetKeyValue),
        1 => k().prop_map(Op::ContainsKey),
        2 => (k(), any::<u32>()).prop_map(|(k, v)| Op::EntryOrInsert(k, v)),
        1 => k().prop_map(Op::EntryAndModifyOrInsert),
        1 => k().prop_map(Op::EntryOrDefault),
        1 => k().prop_map(Op::EntryRemove),
        1 => (k(), any::<u32>()).prop_map(|(k, v)| Op::EntryOccupiedInsert(k, v)),
        1 => Just(Op::FirstAndLast),
        1 => Just(Op::PopFirst),
        1 => Just(Op::PopLast),
        2 => (bound(k()), bound(k()), pattern()).prop_map(|(a, b, p)| Op::Range(a, b, p)),
        1 => (bound(k()), bound(k()), pattern(), any::<u32>()).prop_map(|(a, b, p, v)| Op::RangeMut(a, b, p, v)),
        1 => pattern().prop_map(Op::Iter),
        1 => (bound(k()), bound(k()), pattern()).prop_map(|(a, b, p)| Op::Fold(a, b, p)),
        1 => (0..50usize, 0..50usize).prop_map(|(a, b)| Op::IterNth(a, b)),
        1 => (pattern(), any::<u32>()).prop_map(|(p, v)| Op::IterMut(p, v)),
        1 => pattern().prop_map(Op::IntoIter),
        1 => pattern().prop_map(Op::KeysValues),
        1 => any::<u32>().prop_map(Op::ValuesMut),
        1 => (1..5u32).prop_map(Op::Retain),
        1 => entries().prop_map(Op::Append),
        1 => k().prop_map(Op::SplitOff),
        1 => k().prop_map(Op::SplitOffThenAppend),
        1 => k().prop_map(Op::Rank),
        1 => (0..60usize).prop_map(Op::Select),
        1 => entries().prop_map(Op::Extend),
        1 => Just(Op::CloneEq),
        1 => Just(Op::Clear),
    ]
}

/// Pulls from the front (`true`) or the back (`false`) as `pattern` says, then
/// drains the rest from the front.
fn drain_mixed<I: DoubleEndedIterator>(mut iter: I, pattern: &[bool]) -> Vec<I::Item> {
    let mut out = Vec::new();
    for &front in pattern {
        let item = if front { iter.next() } else { iter.next_back() };
        out.extend(item);
    }
    out.extend(iter.by_ref());
    out
}

/// Wraps one of our iterators: checks at every step that `len()` (exact size)
/// counts down by one, reaches 0 exactly at the end, and that it stays fused.
struct Exact<I> {
    inner: I,
    done: bool,
}

fn exact<I: ExactSizeIterator + DoubleEndedIterator>(inner: I) -> Exact<I> {
    Exact { inner, done: false }
}

impl<I: ExactSizeIterator + DoubleEndedIterator> Exact<I> {
    fn step(&mut self, item: Option<I::Item>, before: usize) -> Option<I::Item> {
        assert!(
            !(self.done && item.is_some()),
            "yielded after returning None: not fused"
        );
        match &item {
            Some(_) => assert_eq!(self.inner.len(), before - 1, "len() counts down"),
            None => {
                assert_eq!(before, 0, "ended with len() > 0");
                self.done = true;
            }
        }
        assert_eq!(
            self.inner.size_hint(),
            (self.inner.len(), Some(self.inner.len()))
        );
        item
    }
}

impl<I: ExactSizeIterator + DoubleEndedIterator> Iterator for Exact<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let before = self.inner.len();
        let item = self.inner.next();
        self.step(item, before)
    }
}

impl<I: ExactSizeIterator + DoubleEndedIterator> DoubleEndedIterator for Exact<I> {
    fn next_back(&mut self) -> Option<I::Item> {
        let before = self.inner.len();
        let item = self.inner.next_back();
        self.step(item, before)
    }
}

/// Runs `f`; `None` if it panicked.
fn unless_panics<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// Whether `BTreeMap::range` is documented to panic on these bounds: start
/// after end, or start equal to end with both excluded.
fn documented_range_panic<K: Ord>(lo: &Bound<K>, hi: &Bound<K>) -> bool {
    use Bound::{Excluded, Included};
    match (lo, hi) {
        (Excluded(a), Excluded(b)) => a >= b,
        (Included(a) | Excluded(a), Included(b) | Excluded(b)) => a > b,
        _ => false,
    }
}

fn apply<K>(
    op: &Op<K>,
    map: &mut AvlMap<K, u32>,
    model: &mut BTreeMap<K, u32>,
) -> Result<(), TestCaseError>
where
    K: Ord + Clone + Debug,
{
    match op.clone() {
        Op::Insert(k, v) => prop_assert_eq!(map.insert(k.clone(), v), model.insert(k, v)),
        Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
        Op::RemoveEntry(k) => prop_assert_eq!(map.remove_entry(&k), model.remove_entry(&k)),
        Op::Get(k) => prop_assert_eq!(map.get(&k), model.get(&k)),
        Op::GetMut(k, v) => {
            let (a, b) = (map.get_mut(&k), model.get_mut(&k));
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                *a = v;
                *b = v;
            }
        }
        Op::GetKeyValue(k) => prop_assert_eq!(map.get_key_value(&k), model.get_key_value(&k)),
        Op::ContainsKey(k) => prop_assert_eq!(map.contains_key(&k), model.contains_key(&k)),
        Op::EntryOrInsert(k, v) => {
            let entry_key = map.entry(k.clone()).key().clone();
            prop_assert_eq!(&entry_key, &k);
            prop_assert_eq!(
                *map.entry(k.clone()).or_insert(v),
                *model.entry(k).or_insert(v)
            );
        }
        Op::EntryAndModifyOrInsert(k) => {
            let a = *map
                .entry(k.clone())
                .and_modify(|v| *v = v.wrapping_add(1))
                .or_insert(7);
            let b = *model
                .entry(k)
                .and_modify(|v| *v = v.wrapping_add(1))
                .or_insert(7);
            prop_assert_eq!(a, b);
        }
        Op::EntryOrDefault(k) => prop_assert_eq!(
            *map.entry(k.clone()).or_default(),
            *model.entry(k).or_default()
        ),
        Op::EntryRemove(k) => {
            let a = match map.entry(k.clone()) {
                Entry::Occupied(e) => Some(e.remove_entry()),
                Entry::Vacant(e) => {
                    prop_assert_eq!(e.into_key(), k.clone());
                    None
                }
            };
            prop_assert_eq!(a, model.remove_entry(&k));
        }
        Op::EntryOccupiedInsert(k, v) => {
            let a = match map.entry(k.clone()) {
                Entry::Occupied(mut e) => {
                    prop_assert_eq!(e.key(), &k);
                    let got = *e.get();
                    let old = e.insert(v);
                    prop_assert_eq!(got, old);
                    Some(old)
                }
                Entry::Vacant(_) => None,
            };
            let b = model.get_mut(&k).map(|slot| std::mem::replace(slot, v));
            prop_assert_eq!(a, b);
        }
        Op::FirstAndLast => {
            prop_assert_eq!(map.first_key_value(), model.first_key_value());
            prop_assert_eq!(map.last_key_value(), model.last_key_value());
        }
        Op::PopFirst => prop_assert_eq!(map.pop_first(), model.pop_first()),
        Op::PopLast => prop_assert_eq!(map.pop_last(), model.pop_last()),
        Op::Range(lo, hi, pattern) => {
            let bounds = (lo.as_ref(), hi.as_ref());
            let a = unless_panics(|| drain_mixed(exact(map.range(bounds)), &pattern));
            if documented_range_panic(&lo, &hi) {
                prop_assert!(a.is_none(), "range must panic");
            } else {
                prop_assert_eq!(a, Some(drain_mixed(model.range(bounds), &pattern)));
            }
        }
        Op::RangeMut(lo, hi, pattern, v) => {
            let bounds = (lo.as_ref(), hi.as_ref());
            let bump = |(k, value): (&K, &mut u32)| {
                *value = value.wrapping_add(v);
                (k.clone(), *value)
            };
            let a = unless_panics(|| drain_mixed(exact(map.range_mut(bounds).map(bump)), &pattern));
            if documented_range_panic(&lo, &hi) {
                prop_assert!(a.is_none(), "range_mut must panic");
            } else {
                prop_assert_eq!(
                    a,
                    Some(drain_mixed(model.range_mut(bounds).map(bump), &pattern))
                );
            }
        }
        Op::Iter(pattern) => prop_assert_eq!(
            drain_mixed(exact(map.iter()), &pattern),
            drain_mixed(model.iter(), &pattern)
        ),
        Op::Fold(lo, hi, pattern) => {
            if documented_range_panic(&lo, &hi) {
                return Ok(());
            }
            let bounds = (lo.as_ref(), hi.as_ref());
            fn steps_then_fold<'a, K: 'a, I>(mut iter: I, pattern: &[bool]) -> Vec<&'a K>
            where
                I: DoubleEndedIterator<Item = (&'a K, &'a u32)>,
            {
                let mut out = Vec::new();
                for &front in pattern.iter().take(pattern.len() / 2) {
                    out.extend(if front { iter.next() } else { iter.next_back() }.map(|(k, _)| k));
                }
                iter.fold(out, |mut out, (k, _)| {
                    out.push(k);
                    out
                })
            }
            prop_assert_eq!(
                steps_then_fold(map.range(bounds), &pattern),
                steps_then_fold(model.range(bounds), &pattern)
            );
            prop_assert_eq!(
                map.values().fold(0u64, |a, v| a + u64::from(*v)),
                model.values().map(|v| u64::from(*v)).sum::<u64>()
            );
        }
        Op::IterNth(front, back) => {
            let (mut a, mut b) = (map.iter(), model.iter());
            prop_assert_eq!(a.nth(front), b.nth(front));
            prop_assert_eq!(a.nth_back(back), b.nth_back(back));
            prop_assert_eq!(a.len(), b.len());
            prop_assert_eq!(a.collect::<Vec<_>>(), b.collect::<Vec<_>>());
        }
        Op::IterMut(pattern, v) => {
            let bump = |(k, value): (&K, &mut u32)| {
                *value ^= v;
                (k.clone(), *value)
            };
            let a = drain_mixed(exact(map.iter_mut().map(bump)), &pattern);
            let b = drain_mixed(model.iter_mut().map(bump), &pattern);
            prop_assert_eq!(a, b);
        }
        Op::IntoIter(pattern) => {
            let a = drain_mixed(exact(map.clone().into_iter()), &pattern);
            let b = drain_mixed(model.clone().into_iter(), &pattern);
            prop_assert_eq!(a, b);
            let a = drain_mixed(exact(map.clone().into_keys()), &pattern);
            let b = drain_mixed(model.clone().into_keys(), &pattern);
            prop_assert_eq!(a, b);
            let a = drain_mixed(exact(map.clone().into_values()), &pattern);
            let b = drain_mixed(model.clone().into_values(), &pattern);
            prop_assert_eq!(a, b);
        }
        Op::KeysValues(pattern) => {
            prop_assert_eq!(
                drain_mixed(exact(map.keys()), &pattern),
                drain_mixed(model.keys(), &pattern)
            );
            prop_assert_eq!(
                drain_mixed(exact(map.values()), &pattern),
                drain_mixed(model.values(), &pattern)
            );
        }
        Op::ValuesMut(v) => {
            map.values_mut()
                .for_each(|value| *value = value.wrapping_mul(v | 1));
            model
                .values_mut()
                .for_each(|value| *value = value.wrapping_mul(v | 1));
        }
        Op::Retain(m) => {
            let mut seen_a = Vec::new();
            map.retain(|k, v| {
                seen_a.push(k.clone());
                *v = v.wrapping_add(1);
                *v % (m + 1) != 0
            });
            let mut seen_b = Vec::new();
            model.retain(|k, v| {
                seen_b.push(k.clone());
                *v = v.wrapping_add(1);
                *v % (m + 1) != 0
            });
            prop_assert_eq!(seen_a, seen_b, "retain visits in key order");
        }
        Op::Append(entries) => {
            let mut other: AvlMap<K, u32> = entries.iter().cloned().collect();
            let mut other_model: BTreeMap<K, u32> = entries.into_iter().collect();
            prop_assert!(
                other.iter().eq(other_model.iter()),
                "from_iter keeps the last duplicate"
            );
            other
                .check_invariants()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            map.append(&mut other);
            model.append(&mut other_model);
            prop_assert!(other.is_empty());
        }
        Op::SplitOff(k) => {
            let right = map.split_off(&k);
            let right_model = model.split_off(&k);
            right
                .check_invariants()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(right.iter().eq(right_model.iter()));
        }
        Op::SplitOffThenAppend(k) => {
            let mut right = map.split_off(&k);
            map.check_invariants()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            right
                .check_invariants()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            map.append(&mut right);
        }
        Op::Rank(k) => prop_assert_eq!(map.rank(&k), model.range(..&k).count()),
        Op::Select(i) => {
            prop_assert_eq!(map.select(i), model.iter().nth(i));
            if let Some((k, _)) = map.select(i) {
                prop_assert_eq!(map.rank(k), i);
            }
        }
        Op::Extend(entries) => {
            map.extend(entries.iter().cloned());
            model.extend(entries);
        }
        Op::Clear => {
            map.clear();
            model.clear();
        }
        Op::CloneEq => {
            let copy = map.clone();
            prop_assert!(copy == *map);
            prop_assert_eq!(copy.height(), map.height());
        }
    }
    Ok(())
}

// ANCHOR: run
fn run<K>(ops: Vec<Op<K>>) -> Result<(), TestCaseError>
where
    K: Ord + Clone + Debug,
{
    support::quiet_expected_panics(&["range start"]);
    let mut map = AvlMap::new();
    let mut model = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        apply(op, &mut map, &mut model)?;
        if let Err(violation) = map.check_invariants() {
            return Err(TestCaseError::fail(format!(
                "after step {step} ({op:?}): {violation}"
            )));
        }
        prop_assert_eq!(map.len(), model.len(), "len after step {} ({:?})", step, op);
        prop_assert!(
            map.iter().eq(model.iter()),
            "contents after step {} ({:?})",
            step,
            op
        );
    }
    Ok(())
}
// ANCHOR_END: run

#[test]
fn matches_btreemap_with_u8_keys() {
    let key = prop_oneof![0u8..16, any::<u8>()];
    support::check(
        "matches_btreemap_with_u8_keys",
        prop::collection::vec(op(key), 1..200),
        run,
    );
}

#[test]
fn matches_btreemap_with_string_keys() {
    support::check(
        "matches_btreemap_with_string_keys",
        prop::collection::vec(op("[a-d]{0,3}"), 1..150),
        run,
    );
}

#[test]
fn borrowed_str_lookups_match() {
    let map: AvlMap<String, usize> = ["b", "a", "c"]
        .iter()
        .map(|s| (s.to_string(), s.len()))
        .collect();
    assert_eq!(map.get("a"), Some(&1));
    assert_eq!(
        map.range::<str, _>((Bound::Excluded("a"), Bound::Unbounded))
            .count(),
        2
    );
    assert_eq!(map.rank("bb"), 2);
}
