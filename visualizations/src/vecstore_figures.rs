//! Part V's figures: what filtering after an approximate search costs.
//!
//! The data are those of `post_filtering_loses_results_that_pre_filtering_finds`
//! (crates/vecstore/tests/state.rs), which pins four points of these curves:
//! 2,000 users in 8 dimensions added in order under the store's defaults
//! (cosine, M 16, ef construction 200), 20 queries, and a filter that one
//! user in `s` passes.

use anyhow::Result;
use hnsw::{Hnsw, Metric, Params};

use crate::Figure;
use crate::plot::{Axis, PALETTE, Series, line_chart};

pub(crate) fn all() -> Vec<Figure> {
    vec![Figure {
        name: "vecstore-filtering.svg",
        render: filtering,
    }]
}

const USERS: u32 = 2_000;
const COUNT: usize = 10;
const EFS: [usize; 8] = [10, 20, 50, 100, 200, 400, 1_000, 2_000];

/// The users of the test, in the order the store adds them (ids 0, 1, …).
fn index() -> Result<Hnsw> {
    let params = Params {
        ef_construction: 200,
        ..Params::new(16)
    };
    let mut index = Hnsw::new(Metric::Cosine, 8, params)?;
    for i in 0..USERS {
        let v: Vec<f32> = (0..8)
            .map(|d| ((i * 7 + d * 13) as f32 * 0.61).sin())
            .collect();
        index.insert(u64::from(i), &v)?;
    }
    Ok(index)
}

fn queries() -> Vec<Vec<f32>> {
    (0..20u32)
        .map(|q| {
            (0..8)
                .map(|d| ((q * 31 + d * 5) as f32 * 0.37).cos())
                .collect()
        })
        .collect()
}

/// A curve: (ef, recall) points.
type Curve = Vec<(f64, f64)>;

/// Mean recall@10 of post- and pre-filtering at each ef, for a filter that
/// one id in `every` passes.
fn curves(index: &Hnsw, every: u64) -> Result<(Curve, Curve)> {
    let pass = |id: u64| id.is_multiple_of(every);
    let queries = queries();
    let mut exact = Vec::new();
    for q in &queries {
        let found = index.search_filtered(q, COUNT, USERS as usize, pass)?;
        exact.push(found.iter().map(|r| r.id).collect::<Vec<_>>());
    }
    let (mut post, mut pre) = (Vec::new(), Vec::new());
    for ef in EFS {
        let (mut post_hits, mut pre_hits) = (0usize, 0usize);
        for (q, truth) in queries.iter().zip(&exact) {
            let after = index.search(q, ef, ef)?;
            post_hits += after
                .iter()
                .filter(|r| pass(r.id))
                .take(COUNT)
                .filter(|r| truth.contains(&r.id))
                .count();
            let during = index.search_filtered(q, COUNT, ef, pass)?;
            pre_hits += during.iter().filter(|r| truth.contains(&r.id)).count();
        }
        let total = (COUNT * queries.len()) as f64;
        post.push((ef as f64, post_hits as f64 / total));
        pre.push((ef as f64, pre_hits as f64 / total));
    }
    Ok((post, pre))
}

fn filtering() -> Result<String> {
    let index = index()?;
    let (post_50, pre_50) = curves(&index, 50)?;
    let (post_10, pre_10) = curves(&index, 10)?;
    line_chart(
        "Filtering after the search loses answers; filtering during it does not",
        Axis {
            label: "ef (candidates kept on layer 0, log scale)",
            range: (EFS[0] as f64, EFS[EFS.len() - 1] as f64),
            log: true,
        },
        Axis {
            label: "recall@10 of the filtered answer (exact: a full filtered scan)",
            range: (0.0, 1.02),
            log: false,
        },
        &[
            Series {
                label: "during the search (VSIM FILTER), 1 user in 50 passes".into(),
                points: pre_50,
                color: PALETTE[0],
                dashed: false,
            },
            Series {
                label: "during the search, 1 in 10 passes".into(),
                points: pre_10,
                color: PALETTE[0],
                dashed: true,
            },
            Series {
                label: "after the search (post-filter), 1 in 50 passes".into(),
                points: post_50,
                color: PALETTE[1],
                dashed: false,
            },
            Series {
                label: "after the search, 1 in 10 passes".into(),
                points: post_10,
                color: PALETTE[1],
                dashed: true,
            },
        ],
        "2,000 users, 8 dimensions, cosine, M 16; 20 queries for 10 matching users each · seeded, deterministic · cargo xtask figures",
    )
}
