//! A fixed seed gives the same graph, link for link: the snapshot pins a
//! small one (update it with `INSTA_UPDATE=always cargo test -p hnsw
//! --test snapshot` after a deliberate change, and review the diff).

use std::fmt::Write;

use hnsw::{Hnsw, Metric, Params, data};

fn render(index: &Hnsw) -> String {
    let mut out = String::new();
    writeln!(out, "entry point: {:?}", index.entry_point()).unwrap();
    for id in 0..index.nodes() as u64 {
        let level = index.level(id).unwrap();
        for layer in (0..=level).rev() {
            writeln!(
                out,
                "id {id:2} layer {layer}: {:?}",
                index.links(id, layer).unwrap()
            )
            .unwrap();
        }
    }
    out
}

fn build() -> Hnsw {
    let params = Params {
        seed: 2024,
        ef_construction: 16,
        ..Params::new(3)
    };
    let mut index = Hnsw::new(Metric::L2, 2, params).unwrap();
    for (id, v) in data::uniform(20, 2, 7).iter().enumerate() {
        index.insert(id as u64, v).unwrap();
    }
    index
}

#[test]
fn a_fixed_seed_gives_an_identical_graph() {
    let index = build();
    index.check_invariants().unwrap();
    assert_eq!(render(&index), render(&build()));
    insta::assert_snapshot!(render(&index));
}
