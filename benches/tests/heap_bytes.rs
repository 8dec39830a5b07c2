//! The memory target: an `AvlMap<u64, u64>` requests at most 40 heap bytes
//! per entry, counted by a wrapping allocator. (One test in this binary: the
//! counter is global, so nothing else may allocate while it measures.)

use std::alloc::System;
use std::collections::BTreeMap;

use benches::{BenchMap, Order, keys};
use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn bytes_per_entry<M: BenchMap>(keys: &[u64]) -> f64 {
    let before = ALLOCATOR.allocated();
    let map = M::build(keys);
    let bytes = ALLOCATOR.allocated() - before;
    drop(map);
    bytes as f64 / keys.len() as f64
}

#[test]
fn avl_map_uses_at_most_40_bytes_per_entry() {
    for order in Order::ALL {
        let keys = keys(100_000, order);
        let avl = bytes_per_entry::<avl::AvlMap<u64, u64>>(&keys);
        let btree = bytes_per_entry::<BTreeMap<u64, u64>>(&keys);
        println!(
            "{}: AvlMap {avl:.1} B/entry, BTreeMap {btree:.1} B/entry",
            order.name()
        );
        assert!(
            avl <= 40.0,
            "AvlMap uses {avl:.1} bytes per entry ({})",
            order.name()
        );
        // A removal frees exactly one node.
        let mut map = avl::AvlMap::<u64, u64>::build(&keys);
        let before = ALLOCATOR.allocated();
        map.remove(&keys[0]);
        assert_eq!(
            before - ALLOCATOR.allocated(),
            avl::AvlMap::<u64, u64>::NODE_BYTES
        );
    }
}
