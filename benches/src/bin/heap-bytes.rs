//! Heap bytes per entry of `u64 → u64` maps, measured with a counting
//! allocator: `cargo run --release -p benches --bin heap-bytes`.
//!
//! Counts the bytes the maps *request*; the system allocator may round each
//! request up (glibc's malloc serves a 40-byte request from a 48-byte chunk),
//! which is the same for every map that allocates one node per entry.

use std::alloc::System;
use std::collections::BTreeMap;

use benches::{AvlCrateMap, BenchMap, Order, SIZES, keys};
use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Live heap bytes per entry of a map of `M` built from `keys`.
fn bytes_per_entry<M: BenchMap>(keys: &[u64]) -> f64 {
    let before = ALLOCATOR.allocated();
    let map = M::build(keys);
    let bytes = ALLOCATOR.allocated() - before;
    drop(map);
    bytes as f64 / keys.len() as f64
}

fn main() {
    println!("| n | order | AvlMap | BTreeMap | avl crate |");
    println!("|---|---|---|---|---|");
    for n in SIZES {
        for order in Order::ALL {
            let keys = keys(n, order);
            println!(
                "| {n} | {} | {:.1} B | {:.1} B | {:.1} B |",
                order.name(),
                bytes_per_entry::<avl::AvlMap<u64, u64>>(&keys),
                bytes_per_entry::<BTreeMap<u64, u64>>(&keys),
                bytes_per_entry::<AvlCrateMap>(&keys),
            );
        }
    }
}
