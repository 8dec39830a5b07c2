//! Hidden grading tests of the lab `avl-insert`: every insertion order of a
//! few keys, the Fibonacci orders that need no rotation at all, and a key
//! whose `Ord` panics part-way through an insertion.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use avl::AvlMap;
use avl::shapes::{fibonacci_tree, fibonacci_tree_size};

/// Calls `visit` with every permutation of `keys` (Heap's algorithm).
fn permutations(keys: &mut [u32], k: usize, visit: &mut impl FnMut(&[u32])) {
    if k <= 1 {
        visit(keys);
        return;
    }
    for i in 0..k {
        permutations(keys, k - 1, visit);
        let j = if k.is_multiple_of(2) { i } else { 0 };
        keys.swap(j, k - 1);
    }
}

// All 5,040 orders of seven keys: the invariants hold after every insert,
// no insert rotates more than once, and the entries are the keys.
#[test]
fn every_order_of_seven_keys() {
    let mut keys: Vec<u32> = (0..7).collect();
    let mut orders = 0;
    permutations(&mut keys, 7, &mut |order| {
        orders += 1;
        let mut map = AvlMap::new();
        for (step, &key) in order.iter().enumerate() {
            let before = map.rotation_stats().insert.total();
            assert_eq!(map.insert(key, step), None, "order {order:?}");
            assert!(
                map.rotation_stats().insert.total() - before <= 1,
                "order {order:?}: inserting {key} rotated more than once"
            );
            map.check_invariants()
                .unwrap_or_else(|e| panic!("order {order:?}, after inserting {key}: {e}"));
        }
        assert!(map.keys().copied().eq(0..7), "order {order:?}");
        assert!(
            map.height() <= 4,
            "order {order:?}: height {}",
            map.height()
        );
    });
    assert_eq!(orders, 5040);
}

// Inserting a Fibonacci tree level by level never unbalances a node, so a
// correct insert rotates zero times; and the tree keeps its full height.
#[test]
fn fibonacci_orders_insert_without_rotating() {
    for height in 1..=14 {
        let mut map = AvlMap::new();
        for key in fibonacci_tree(height) {
            map.insert(key, ());
        }
        assert_eq!(map.len() as u64, fibonacci_tree_size(height));
        assert_eq!(
            map.height(),
            height as usize,
            "Fibonacci tree of height {height}"
        );
        assert_eq!(
            map.rotation_stats().insert.total(),
            0,
            "Fibonacci tree of height {height}: rotated where no node was out of balance"
        );
        map.check_invariants().unwrap();
    }
}

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

fn quiet_boom() {
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
            if !message.contains(BOOM) {
                default(info);
            }
        }));
    });
}

// Compare first, change later: an insert whose comparison panics leaves the
// map exactly as it was, whichever comparison panics.
#[test]
fn panicking_ord_leaves_the_map_unchanged() {
    quiet_boom();
    let model: BTreeMap<u32, u32> = (0..60).step_by(2).map(|k| (k, k)).collect();
    for key in [31, 0, 59, 13] {
        let mut map: AvlMap<Touchy, u32> = model.iter().map(|(&k, &v)| (Touchy(k), v)).collect();
        let mut done = false;
        for fuse in 0..64 {
            FUSE.with(|f| f.set(Some(fuse)));
            let outcome = catch_unwind(AssertUnwindSafe(|| map.insert(Touchy(key), 1000)));
            FUSE.with(|f| f.set(None));
            if outcome.is_ok() {
                done = true;
                break;
            }
            map.check_invariants()
                .unwrap_or_else(|e| panic!("insert({key}) panicked at comparison {fuse}: {e}"));
            let entries: BTreeMap<u32, u32> = map.iter().map(|(k, v)| (k.0, *v)).collect();
            assert_eq!(
                entries, model,
                "insert({key}) panicked at comparison {fuse} and changed the map"
            );
        }
        assert!(done, "insert({key}) never completed");
        assert_eq!(map.get(&Touchy(key)), Some(&1000));
        assert_eq!(
            map.len(),
            model.len() + usize::from(!model.contains_key(&key))
        );
        map.check_invariants().unwrap();
    }
}
