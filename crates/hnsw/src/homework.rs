//! Generated homework on HNSW search, in the style of OSTEP's homework
//! simulators: a seed gives twelve points in the plane, the graph an
//! [`Hnsw`] builds over them, and a query; the student walks the greedy
//! search by hand. The answer is computed here by a plain greedy walk over
//! the printed links, independent of the index's search code (a test
//! checks that the index's traced search descends the same path; on layer
//! 0 the index does more than the walk, as the chapter "Search and ef"
//! explains, and never finds a worse point).
//!
//! `hnsw-data homework --seed S` prints the problem; `--answer` adds the
//! solution.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::{Hnsw, Metric, Params};

/// Points in a generated problem.
pub const POINTS: u64 = 12;

/// One generated problem.
#[derive(Debug)]
pub struct Homework {
    /// The seed it came from.
    pub seed: u64,
    /// Point `i` has id `i`; coordinates are small integers.
    pub points: Vec<[f32; 2]>,
    /// The query.
    pub query: [f32; 2],
    /// The index over the points (`m = 2`, `m0 = 4`, squared Euclidean).
    pub index: Hnsw,
}

/// The greedy walk: on each layer from the top, the ids stood on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// `(layer, ids)` from the top layer down to layer 0.
    pub layers: Vec<(usize, Vec<u64>)>,
    /// Where the walk ends on layer 0.
    pub found: u64,
    /// The true nearest point (smallest id on ties).
    pub nearest: u64,
}

impl Homework {
    /// The problem for `seed`.
    ///
    /// # Panics
    ///
    /// Never for valid parameters; the constants here are valid.
    pub fn generate(seed: u64) -> Homework {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut coordinate = || rng.random_range(0..10u8) as f32;
        let points: Vec<[f32; 2]> = (0..POINTS).map(|_| [coordinate(), coordinate()]).collect();
        let query = [coordinate(), coordinate()];
        let params = Params {
            seed,
            level_multiplier: 0.6,
            ..Params::new(2)
        };
        let mut index = Hnsw::new(Metric::L2, 2, params).expect("valid parameters");
        for (id, p) in points.iter().enumerate() {
            index.insert(id as u64, p).expect("finite 2-d points");
        }
        Homework {
            seed,
            points,
            query,
            index,
        }
    }

    fn distance(&self, id: u64) -> f32 {
        let p = self.points[id as usize];
        (p[0] - self.query[0]).powi(2) + (p[1] - self.query[1]).powi(2)
    }

    /// The greedy walk with `ef = 1`: on each layer, move to the neighbour
    /// closest to the query (smallest id on ties) while it is closer than
    /// where the walk stands (or as close, with a smaller id: the index
    /// orders by distance, then id), then go down a layer from there.
    pub fn solve(&self) -> Walk {
        let entry = self.index.entry_point().expect("twelve points");
        let top = self.index.level(entry).expect("the entry point is live");
        let mut at = entry;
        let mut layers = Vec::new();
        for layer in (0..=top).rev() {
            let mut path = vec![at];
            loop {
                let links = self
                    .index
                    .links(at, layer)
                    .expect("the walk stays on the layer");
                let best = links.iter().copied().min_by(|&a, &b| {
                    self.distance(a)
                        .total_cmp(&self.distance(b))
                        .then(a.cmp(&b))
                });
                match best {
                    Some(next) if (self.distance(next), next) < (self.distance(at), at) => {
                        at = next;
                        path.push(at);
                    }
                    _ => break,
                }
            }
            layers.push((layer, path));
        }
        let nearest = (0..POINTS)
            .min_by(|&a, &b| {
                self.distance(a)
                    .total_cmp(&self.distance(b))
                    .then(a.cmp(&b))
            })
            .expect("twelve points");
        Walk {
            layers,
            found: at,
            nearest,
        }
    }

    /// The problem, as printed by `hnsw-data homework`.
    pub fn problem(&self) -> String {
        let mut out = format!(
            "HNSW search homework, seed {}\n\nTwelve points (id: x, y) and their levels:\n",
            self.seed
        );
        for (id, p) in self.points.iter().enumerate() {
            let level = self.index.level(id as u64).expect("live");
            out.push_str(&format!("  {id:>2}: ({}, {})  level {level}\n", p[0], p[1]));
        }
        let entry = self.index.entry_point().expect("twelve points");
        let top = self.index.level(entry).expect("live");
        out.push_str(&format!(
            "\nThe links an index with m = 2, m0 = 4 built (entry point {entry}):\n"
        ));
        for layer in (0..=top).rev() {
            out.push_str(&format!("  layer {layer}:\n"));
            for id in 0..POINTS {
                if let Some(links) = self.index.links(id, layer) {
                    let links: Vec<String> = links.iter().map(u64::to_string).collect();
                    out.push_str(&format!("    {id:>2} → {}\n", links.join(", ")));
                }
            }
        }
        out.push_str(&format!(
            "\nQuery: ({}, {}). Distance is squared Euclidean.\n\n\
             1. Search with ef = 1, starting at the entry point. On each layer, move to the linked\n\
             \x20  point closest to the query while it is closer than where you stand (distance ties go\n\
             \x20  to the smaller id), then go down a layer. Which points do you stand on, layer by layer?\n\
             2. Where does the walk stop on layer 0? Is that the true nearest point?\n\n\
             Check your work: the same command with --answer.\n",
            self.query[0], self.query[1]
        ));
        out
    }

    /// The solution, in words.
    pub fn answer(&self) -> String {
        let walk = self.solve();
        let mut out = String::from("Answer:\n");
        for (layer, path) in &walk.layers {
            let path: Vec<String> = path.iter().map(u64::to_string).collect();
            out.push_str(&format!("  layer {layer}: {}\n", path.join(" → ")));
        }
        out.push_str(&format!(
            "  The walk stops at {} (distance {}). The true nearest is {} (distance {}){}.\n",
            walk.found,
            self.distance(walk.found),
            walk.nearest,
            self.distance(walk.nearest),
            if walk.found == walk.nearest {
                ": the greedy walk found it"
            } else if self.distance(walk.found) == self.distance(walk.nearest) {
                ": the walk found a point just as near"
            } else {
                ": the greedy walk stopped at a local minimum, which a larger ef would escape"
            }
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_problem() {
        assert_eq!(
            Homework::generate(3).problem(),
            Homework::generate(3).problem()
        );
        assert_ne!(
            Homework::generate(3).problem(),
            Homework::generate(4).problem()
        );
    }

    #[test]
    fn the_hand_walk_is_the_walk_the_index_takes() {
        let mut misses = 0;
        for seed in 0..100 {
            let homework = Homework::generate(seed);
            let walk = homework.solve();
            let (found, trace) = homework.index.search_traced(&homework.query, 1, 1).unwrap();
            let upper: Vec<(usize, Vec<u64>)> = walk
                .layers
                .iter()
                .filter(|(l, _)| *l > 0)
                .cloned()
                .collect();
            assert_eq!(trace.descent, upper, "seed {seed}");
            // On layer 0 the index also restarts from the entry point and
            // keeps a candidate queue, so it does at least as well as the walk.
            assert!(
                homework.distance(found[0].id) <= homework.distance(walk.found),
                "seed {seed}"
            );
            if homework.distance(walk.found) > homework.distance(walk.nearest) {
                misses += 1;
            }
        }
        // Some problems must show the local minimum, or question 2 is dull.
        assert!(misses > 0);
    }
}
