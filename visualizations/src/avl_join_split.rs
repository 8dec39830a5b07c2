//! Split and join on seeded keys, drawn with the crate's own tree renderer
//! (`avl::render::svg_row`), one row per operation, under one title and
//! over the footer every figure carries.

use anyhow::{Context, Result, ensure};
use avl::AvlMap;
use avl::render::svg_row;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use crate::QuotingFigure;
use crate::avl_figures::SEED;
use crate::numbers::Numbers;

/// Keys in the tree.
const KEYS: u32 = 20;

/// The figure of this module; its caption quotes the split key.
pub(crate) fn quoting() -> Vec<QuotingFigure> {
    vec![QuotingFigure {
        name: "avl-join-split.svg",
        render: join_split,
    }]
}

/// The keys 1..=KEYS·3 shuffled by the seed, the first KEYS of them, in
/// insertion order.
fn keys() -> Vec<u32> {
    let mut all: Vec<u32> = (1..=KEYS * 3).collect();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(SEED));
    all.truncate(KEYS as usize);
    all
}

/// `split(T, k)` through the public API: `split_off` is the crate's
/// `split_at` by rank, and `pop_first` detaches `k` from the right part,
/// exactly as `join::split` does.
fn split(tree: &AvlMap<u32, ()>, k: u32) -> (AvlMap<u32, ()>, AvlMap<u32, ()>) {
    let mut left = tree.clone();
    let mut right = left.split_off(&k);
    right.pop_first();
    (left, right)
}

/// `join(L, k, R)` through the public API: `append` of two ordered maps is
/// `join2`, which takes the largest entry of the left map as the middle
/// node. With `k` inserted as that largest entry, `join2` removes it again
/// and calls `join(L, k, R)`, provided inserting and removing `k` leaves
/// `L`'s shape as it was (checked).
fn join(left: &AvlMap<u32, ()>, k: u32, right: &AvlMap<u32, ()>) -> Option<AvlMap<u32, ()>> {
    let mut probe = left.clone();
    probe.insert(k, ());
    probe.pop_last();
    if probe.to_ascii() != left.to_ascii() {
        return None;
    }
    let mut joined = left.clone();
    joined.insert(k, ());
    joined.append(&mut right.clone());
    Some(joined)
}

/// The attributes `width` and `height` of an `<svg>` element.
fn size_of(svg: &str) -> Result<(i64, i64)> {
    let attr = |name: &str| -> Result<i64> {
        let at = svg
            .find(&format!("{name}=\""))
            .with_context(|| format!("no {name} in svg_row's output"))?
            + name.len()
            + 2;
        let end = svg[at..].find('"').context("an unterminated attribute")?;
        Ok(svg[at..at + end].parse()?)
    };
    Ok((attr("width")?, attr("height")?))
}

fn join_split() -> Result<(String, Numbers)> {
    let keys = keys();
    let mut tree = AvlMap::new();
    for &k in &keys {
        tree.insert(k, ());
    }
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    // The split key: from the three-quarter rank upwards, the first for
    // which the two parts differ in height by at least 2 (so that join
    // walks down a spine) and the public-API join is exactly join(L, k, R).
    let (k, left, right, joined) = (sorted.len() * 3 / 4..sorted.len() - 1)
        .find_map(|rank| {
            let k = sorted[rank];
            let (left, right) = split(&tree, k);
            if left.height() < right.height() + 2 {
                return None;
            }
            let joined = join(&left, k, &right)?;
            Some((k, left, right, joined))
        })
        .context("no split key fits")?;
    ensure!(
        joined.keys().copied().eq(sorted.iter().copied()),
        "join lost or gained keys"
    );
    let middle = AvlMap::from([(k, ())]);
    let n = |m: &AvlMap<u32, ()>| m.len();
    let h = |m: &AvlMap<u32, ()>| m.height();
    let split_row = svg_row(
        &[
            (
                &format!("T: {} keys, height {}", n(&tree), h(&tree)),
                &tree.shape(),
            ),
            (
                &format!("L: keys < {k}, height {}", h(&left)),
                &left.shape(),
            ),
            (&format!("k = {k}, detached"), &middle.shape()),
            (
                &format!("R: keys > {k}, height {}", h(&right)),
                &right.shape(),
            ),
        ],
        &format!("split(T, {k}) → (L, {k}, R)"),
    );
    let join_row = svg_row(
        &[
            (&format!("L (height {})", h(&left)), &left.shape()),
            (&format!("k = {k}"), &middle.shape()),
            (&format!("R (height {})", h(&right)), &right.shape()),
            (
                &format!("join(L, {k}, R): height {}", h(&joined)),
                &joined.shape(),
            ),
        ],
        &format!(
            "join(L, {k}, R): L is {} levels taller than R, so join walks down L's right spine",
            h(&left) - h(&right)
        ),
    );
    let (w1, h1) = size_of(&split_row)?;
    let (w2, h2) = size_of(&join_row)?;
    let title_h = 36;
    let footer_h = 28;
    let width = w1.max(w2);
    let height = title_h + h1 + 16 + h2 + footer_h;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    out.push_str(&format!(
        "<text x=\"{}\" y=\"24\" font-family=\"sans-serif\" font-size=\"17\" text-anchor=\"middle\" fill=\"#222\">How do split and join cut and glue AVL trees? Numbers at the nodes: balance factors</text>\n",
        width / 2
    ));
    for (svg, y, w) in [
        (&split_row, title_h, w1),
        (&join_row, title_h + h1 + 16, w2),
    ] {
        let inner = svg.replacen(
            "<svg ",
            &format!("<svg x=\"{}\" y=\"{y}\" ", (width - w) / 2),
            1,
        );
        out.push_str(&inner);
    }
    out.push_str(&format!(
        "<text x=\"12\" y=\"{}\" font-family=\"sans-serif\" font-size=\"12\" fill=\"#5a5a5a\">{} keys of 1..={} inserted in seeded order; split = split_off + pop_first, join = insert + append (join2), checked to equal join(L, k, R) · seed {SEED:#x} (ChaCha8) · cargo run --release -p visualizations -- figures</text>\n",
        height - 10,
        KEYS,
        KEYS * 3
    ));
    out.push_str("</svg>\n");
    let mut numbers = Numbers::default();
    numbers.quote("keys", KEYS);
    numbers.quote("split_key", k);
    Ok((out, numbers))
}
