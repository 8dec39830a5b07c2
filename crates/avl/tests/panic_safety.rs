//! A key whose `Ord` panics part-way through an operation must leave the map
//! passing `check_invariants()`. For the single-key operations it must leave
//! the map exactly as it was: they compare keys on the way down and change
//! the tree only on the way back up, after the last comparison.
//!
//! `Touchy` keys count comparisons on a thread-local fuse and panic when it
//! burns down; each operation runs with the fuse set to every value from 0
//! (panic on the first comparison) until the operation completes unharmed.

mod support;

use std::cell::Cell;
use std::cmp::Ordering;
use std::panic::{AssertUnwindSafe, catch_unwind};

use avl::AvlMap;

thread_local! {
    /// Comparisons left before `Touchy::cmp` panics; `None` disarms it.
    static FUSE: Cell<Option<u32>> = const { Cell::new(None) };
}

const BOOM: &str = "Touchy::cmp panicked on purpose";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Touchy(u32);

impl Ord for Touchy {
    fn cmp(&self, other: &Self) -> Ordering {
        FUSE.with(|fuse| match fuse.get() {
            Some(0) => panic!("{BOOM}"),
            Some(n) => fuse.set(Some(n - 1)),
            None => {}
        });
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for Touchy {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

type Map = AvlMap<Touchy, u32>;

fn sample_map() -> Map {
    (0..60).step_by(2).map(|k| (Touchy(k), k)).collect()
}

fn entries(map: &Map) -> Vec<(u32, u32)> {
    map.iter().map(|(k, v)| (k.0, *v)).collect()
}

/// Runs `op` with the fuse at 0, 1, 2, … until it completes; after each
/// panic, checks the invariants and (if `unchanged`) that nothing changed.
/// Returns how many runs panicked.
fn burn(name: &str, unchanged: bool, op: impl Fn(&mut Map)) -> u32 {
    support::quiet_expected_panics(&[BOOM]);
    let mut panics = 0;
    for fuse in 0.. {
        let mut map = sample_map();
        let before = entries(&map);
        FUSE.with(|f| f.set(Some(fuse)));
        let result = catch_unwind(AssertUnwindSafe(|| op(&mut map)));
        FUSE.with(|f| f.set(None));
        if let Err(violation) = map.check_invariants() {
            panic!("{name}, fuse {fuse}: {violation}");
        }
        if result.is_ok() {
            break;
        }
        panics += 1;
        if unchanged {
            assert_eq!(
                entries(&map),
                before,
                "{name}, fuse {fuse}: the map changed"
            );
        }
    }
    assert!(panics > 0, "{name} never compared a key");
    panics
}

// ANCHOR: panic_safety
#[test]
fn single_key_operations_leave_the_map_untouched() {
    burn("insert new", true, |m| {
        m.insert(Touchy(31), 0);
    });
    burn("insert existing", true, |m| {
        m.insert(Touchy(30), 0);
    });
    burn("remove", true, |m| {
        m.remove(&Touchy(30));
    });
    burn("remove absent", true, |m| {
        m.remove(&Touchy(31));
    });
    burn("entry or_insert", true, |m| {
        *m.entry(Touchy(33)).or_insert(1) += 1;
    });
    burn("get_mut", true, |m| {
        if let Some(v) = m.get_mut(&Touchy(20)) {
            *v += 1;
        }
    });
    burn("range_mut", true, |m| {
        m.range_mut(Touchy(10)..Touchy(20))
            .for_each(|(_, v)| *v += 1);
    });
    burn("split_off", true, |m| {
        drop(m.split_off(&Touchy(25)));
    });
    burn("append of greater keys", true, |m| {
        let mut above: Map = (100..110).map(|k| (Touchy(k), k)).collect();
        m.append(&mut above);
    });
}
// ANCHOR_END: panic_safety

#[test]
fn bulk_operations_leave_valid_maps() {
    // An overlapping append compares keys while the entries are out of both
    // maps: a panic may drop entries but leaves valid trees behind.
    burn("overlapping append", false, |m| {
        let mut other: Map = (0..40).step_by(3).map(|k| (Touchy(k), k)).collect();
        m.append(&mut other);
        assert!(other.check_invariants().is_ok());
    });
}

#[test]
fn a_panicking_retain_predicate_changes_nothing() {
    support::quiet_expected_panics(&[BOOM]);
    for stop in 0..30 {
        let mut map = sample_map();
        let before = entries(&map);
        let mut calls = 0;
        let result = catch_unwind(AssertUnwindSafe(|| {
            map.retain(|k, _| {
                calls += 1;
                assert!(calls <= stop, "{BOOM}");
                k.0 % 4 == 0
            })
        }));
        assert!(result.is_err());
        map.check_invariants().unwrap();
        assert_eq!(entries(&map), before, "retain panicked after {stop} calls");
    }
}
