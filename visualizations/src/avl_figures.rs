//! Figures for Part I (the AVL tree). Every experiment draws its keys from one
//! ChaCha8 stream seeded with [`SEED`], so the figures are byte-identical on
//! every run and every machine.

use anyhow::Result;
use avl::render::svg_row;
use avl::shapes::{avl_height_bound, fibonacci_tree};
use avl::{AvlMap, Bst};
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::Figure;
use crate::plot::{Axis, PALETTE, Series, bar_chart, line_chart};

/// The seed of every Part I experiment.
pub(crate) const SEED: u64 = 0x5EED_5EED;

fn footer(what: &str) -> String {
    format!("{what} · seed {SEED:#x} (ChaCha8) · cargo xtask figures")
}

/// Every Part I figure, in the order they are rendered.
pub(crate) fn all() -> Vec<Figure> {
    vec![
        Figure {
            name: "avl-height-vs-n.svg",
            render: height_vs_n,
        },
        Figure {
            name: "avl-rotations-per-op.svg",
            render: rotations_per_op,
        },
        Figure {
            name: "avl-balance-factors.svg",
            render: balance_factors,
        },
        Figure {
            name: "avl-rotation-ll.svg",
            render: || rotation_case("LL", [3, 2, 1]),
        },
        Figure {
            name: "avl-rotation-rr.svg",
            render: || rotation_case("RR", [1, 2, 3]),
        },
        Figure {
            name: "avl-rotation-lr.svg",
            render: || rotation_case("LR", [3, 1, 2]),
        },
        Figure {
            name: "avl-rotation-rl.svg",
            render: || rotation_case("RL", [1, 3, 2]),
        },
        Figure {
            name: "avl-fibonacci-trees.svg",
            render: fibonacci_trees,
        },
        Figure {
            name: "avl-cascading-delete.svg",
            render: cascading_delete,
        },
        Figure {
            name: "bst-degenerate.svg",
            render: degenerate_bst,
        },
    ]
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(SEED)
}

fn random_keys(n: usize) -> Vec<u64> {
    let mut rng = rng();
    (0..n).map(|_| rng.random()).collect()
}

/// About `per_decade` log-spaced sizes from 1 to `max`, without repeats.
fn log_spaced(max: usize, per_decade: u32) -> Vec<usize> {
    let steps = ((max as f64).log10() * f64::from(per_decade)).round() as u32;
    let mut sizes: Vec<usize> = (0..=steps)
        .map(|i| 10f64.powf(f64::from(i) / f64::from(per_decade)).round() as usize)
        .collect();
    sizes.dedup();
    sizes
}

/// Heights after inserting `keys` one by one, sampled at `sizes`.
fn avl_heights(keys: &[u64], sizes: &[usize]) -> Vec<(f64, f64)> {
    let mut map = AvlMap::new();
    let mut out = Vec::new();
    let mut next = sizes.iter().peekable();
    for (i, &k) in keys.iter().enumerate() {
        map.insert(k, ());
        if next.peek() == Some(&&(i + 1)) {
            next.next();
            out.push(((i + 1) as f64, map.height() as f64));
        }
    }
    out
}

/// The same for the unbalanced BST: its height is the deepest insertion so far.
fn bst_heights(keys: &[u64], sizes: &[usize]) -> Vec<(f64, f64)> {
    let mut tree = Bst::new();
    let mut height = 0;
    let mut out = Vec::new();
    let mut next = sizes.iter().peekable();
    for (i, &k) in keys.iter().enumerate() {
        tree.insert(k, ());
        height = height.max(tree.depth_of(&k).expect("just inserted"));
        if next.peek() == Some(&&(i + 1)) {
            next.next();
            out.push(((i + 1) as f64, height as f64));
        }
    }
    out
}

const MAX_N: usize = 1_000_000;
/// Sorted insertion into the unbalanced BST costs Θ(n²): stop here.
const BST_SORTED_MAX_N: usize = 20_000;

fn height_vs_n() -> Result<String> {
    let sizes = log_spaced(MAX_N, 10);
    let random = random_keys(MAX_N);
    let sorted: Vec<u64> = (0..MAX_N as u64).collect();
    let curve = |f: &dyn Fn(f64) -> f64| {
        sizes
            .iter()
            .map(|&n| (n as f64, f(n as f64)))
            .collect::<Vec<_>>()
    };
    let series = vec![
        Series {
            label: "unbalanced BST, sorted keys (to 2·10^4)".into(),
            points: bst_heights(&sorted[..BST_SORTED_MAX_N], &sizes),
            color: PALETTE[3],
            dashed: false,
        },
        Series {
            label: "unbalanced BST, random keys".into(),
            points: bst_heights(&random, &sizes),
            color: PALETTE[1],
            dashed: false,
        },
        Series {
            label: "bound 1.4405·log2(n+2) − 0.3277".into(),
            points: curve(&|n| avl_height_bound(n as u64)),
            color: PALETTE[6],
            dashed: true,
        },
        Series {
            label: "AVL, random keys".into(),
            points: avl_heights(&random, &sizes),
            color: PALETTE[0],
            dashed: false,
        },
        Series {
            label: "AVL, sorted keys".into(),
            points: avl_heights(&sorted, &sizes),
            color: PALETTE[2],
            dashed: false,
        },
        Series {
            label: "minimum possible, log2(n+1)".into(),
            points: curve(&|n| (n + 1.0).log2()),
            color: PALETTE[4],
            dashed: true,
        },
    ];
    line_chart(
        "How tall does a search tree grow with n keys?",
        Axis {
            label: "n (keys inserted, log scale)",
            range: (1.0, MAX_N as f64),
            log: true,
        },
        Axis {
            label: "height (levels, log scale)",
            range: (1.0, 3e4),
            log: true,
        },
        &series,
        &footer("heights after each insertion"),
    )
}

/// Sizes for the per-operation rotation experiment.
const ROTATION_SIZES: [usize; 11] = [
    10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000,
];

fn rotations_per_op() -> Result<String> {
    let keys = random_keys(MAX_N);
    // Insertion: one run, cumulative rotations per insertion at each size.
    let mut map = AvlMap::new();
    let (mut insert_single, mut insert_double) = (Vec::new(), Vec::new());
    let mut next = ROTATION_SIZES.iter().peekable();
    for (i, &k) in keys.iter().enumerate() {
        map.insert(k, ());
        if next.peek() == Some(&&(i + 1)) {
            next.next();
            let n = (i + 1) as f64;
            let stats = map.rotation_stats().insert;
            insert_single.push((n, stats.single as f64 / n));
            insert_double.push((n, stats.double as f64 / n));
        }
    }
    // Deletion: for each size, build from the first n keys, then delete them
    // all in a seeded random order.
    let (mut remove_single, mut remove_double) = (Vec::new(), Vec::new());
    let mut rng = rng();
    for &n in &ROTATION_SIZES {
        let mut victims = keys[..n].to_vec();
        let mut map: AvlMap<u64, ()> = AvlMap::new();
        for &k in &victims {
            map.insert(k, ());
        }
        map.reset_rotation_stats();
        victims.shuffle(&mut rng);
        for k in &victims {
            map.remove(k);
        }
        let stats = map.rotation_stats().remove;
        remove_single.push((n as f64, stats.single as f64 / n as f64));
        remove_double.push((n as f64, stats.double as f64 / n as f64));
    }
    let series = [
        ("insertion: single rotations", insert_single, 0, false),
        ("insertion: double rotations", insert_double, 5, true),
        ("deletion: single rotations", remove_single, 1, false),
        ("deletion: double rotations", remove_double, 4, true),
    ]
    .into_iter()
    .map(|(label, points, color, dashed)| Series {
        label: label.into(),
        points,
        color: PALETTE[color],
        dashed,
    })
    .collect::<Vec<_>>();
    line_chart(
        "How many rotations does one insertion or deletion cost on average?",
        Axis {
            label: "n (keys, log scale)",
            range: (10.0, MAX_N as f64),
            log: true,
        },
        Axis {
            label: "rotations per operation",
            range: (0.0, 0.5),
            log: false,
        },
        &series,
        &footer(
            "random keys; insertion averaged over the first n, deletion of all n in random order",
        ),
    )
}

const BALANCE_N: usize = 100_000;

fn balance_factors() -> Result<String> {
    let keys = random_keys(BALANCE_N);
    let fractions = |map: &AvlMap<u64, ()>| -> Vec<f64> {
        let counts = map.shape().balance_factor_counts();
        let total = map.len() as f64;
        [-1, 0, 1]
            .iter()
            .map(|b| counts.get(b).copied().unwrap_or(0) as f64 / total)
            .collect()
    };
    let mut random = AvlMap::new();
    for &k in &keys {
        random.insert(k, ());
    }
    let mut sorted = AvlMap::new();
    for k in 0..BALANCE_N as u64 {
        sorted.insert(k, ());
    }
    let mut churned = random.clone();
    let mut victims = keys.clone();
    victims.shuffle(&mut rng());
    for k in &victims[..BALANCE_N / 2] {
        churned.remove(k);
    }
    let scenarios = [fractions(&random), fractions(&sorted), fractions(&churned)];
    let series: Vec<(&str, Vec<f64>)> = [
        "balance −1 (left taller)",
        "balance 0",
        "balance +1 (right taller)",
    ]
    .into_iter()
    .enumerate()
    .map(|(b, label)| (label, scenarios.iter().map(|s| s[b]).collect()))
    .collect();
    bar_chart(
        "How often is a node perfectly balanced?",
        &[
            "random insertion (10^5 keys)",
            "sorted insertion (10^5 keys)",
            "random insertion, then half deleted",
        ],
        &series,
        Axis {
            label: "fraction of nodes",
            range: (0.0, 1.0),
            log: false,
        },
        &footer("balance factor = height(right) − height(left), over all nodes"),
    )
}

fn rotation_case(name: &str, keys: [u32; 3]) -> Result<String> {
    let bst = Bst::from_keys(keys);
    let mut avl = AvlMap::new();
    for k in keys {
        avl.insert(k, ());
    }
    let stats = avl.rotation_stats().insert;
    let kind = if stats.double == 1 {
        "one double rotation"
    } else {
        "one single rotation"
    };
    let order = format!("{}, {}, {}", keys[0], keys[1], keys[2]);
    Ok(svg_row(
        &[
            (&format!("plain BST after inserting {order}"), &bst.shape()),
            (&format!("AVL tree: {kind}"), &avl.shape()),
        ],
        &format!("The {name} case (numbers: balance factors; red: |balance| > 1)"),
    ))
}

fn fibonacci_trees() -> Result<String> {
    let trees: Vec<(String, avl::Shape)> = (1..=6)
        .map(|h| {
            let keys = fibonacci_tree(h);
            let n = keys.len();
            (format!("h = {h}, n = {n}"), Bst::from_keys(keys).shape())
        })
        .collect();
    let panels: Vec<(&str, &avl::Shape)> = trees.iter().map(|(c, s)| (c.as_str(), s)).collect();
    Ok(svg_row(
        &panels,
        "Fibonacci trees: the fewest nodes for each AVL height",
    ))
}

fn cascading_delete() -> Result<String> {
    let keys = fibonacci_tree(6);
    let mut tree = AvlMap::new();
    for &k in &keys {
        tree.insert(k, ());
    }
    // The deletion that rotates most (smallest key on a tie), as in the test.
    let (victim, rotations) = keys
        .iter()
        .map(|&k| {
            let mut copy = tree.clone();
            copy.reset_rotation_stats();
            copy.remove(&k);
            (k, copy.rotation_stats().remove.total())
        })
        .fold((0, 0), |best, (k, r)| {
            if r > best.1 || (r == best.1 && k < best.0) {
                (k, r)
            } else {
                best
            }
        });
    let before = tree.shape();
    tree.remove(&victim);
    Ok(svg_row(
        &[
            ("Fibonacci tree of height 6", &before),
            (
                &format!("after removing {victim}: {rotations} rotations"),
                &tree.shape(),
            ),
        ],
        "One deletion, rotations at two levels",
    ))
}

fn degenerate_bst() -> Result<String> {
    let sorted: Vec<u32> = (1..=15).collect();
    let mut shuffled = sorted.clone();
    shuffled.shuffle(&mut rng());
    let mut avl = AvlMap::new();
    for &k in &sorted {
        avl.insert(k, ());
    }
    let shuffled_caption = format!(
        "plain BST, random order (height {})",
        Bst::from_keys(shuffled.iter().copied()).height()
    );
    Ok(svg_row(
        &[
            (
                "plain BST, keys 1..=15 in order (height 15)",
                &Bst::from_keys(sorted.iter().copied()).shape(),
            ),
            (
                &shuffled_caption,
                &Bst::from_keys(shuffled.iter().copied()).shape(),
            ),
            ("AVL tree, keys 1..=15 in order (height 4)", &avl.shape()),
        ],
        "The same 15 keys, three shapes",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_spacing_covers_the_range() {
        let sizes = log_spaced(1_000_000, 10);
        assert_eq!(sizes.first(), Some(&1));
        assert_eq!(sizes.last(), Some(&1_000_000));
        assert!(sizes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn small_figures_are_deterministic() {
        for figure in all()
            .into_iter()
            .filter(|f| f.name.contains("rotation-") || f.name.contains("fibonacci"))
        {
            assert_eq!(
                (figure.render)().unwrap(),
                (figure.render)().unwrap(),
                "{}",
                figure.name
            );
        }
    }
}
