//! The HNSW indexes compared in `benches/benches/hnsw.rs`, behind one
//! trait, and the data sets they all run on.
//!
//! | | this crate | hnsw_rs 0.3.5 | instant-distance 0.6.1 |
//! |---|---|---|---|
//! | links per node | `m`, `2m` on layer 0 (`strata-m32`: 32, 64, keeping pruned candidates as instant-distance does) | `max_nb_connection`, `2×` on layer 0 | fixed: 32, 64 on layer 0 |
//! | distance | AVX2 kernels of `hnsw::simd` | anndists with its `simdeez_f` SIMD feature | our kernel (its `Point` trait asks the user for one) |
//! | cosine | vectors normalised, `1 − a·b` | vectors normalised here, `DistDot` (`1 − a·b`) | vectors normalised here, `1 − a·b` |
//! | L2 | squared | Euclidean (the root: same order) | squared |
//! | search `ef` | per call | per call | fixed when built: changed by rebuilding the map from its serde form (feature `with-serde`) |
//! | one-thread build | `insert` | `insert_slice` | rayon pool of one thread |
//!
//! So instant-distance runs with `m = 32` whatever is asked: it is compared
//! at equal recall, never at equal parameters.

use std::path::PathBuf;

use hnsw::data::{self, Dataset};
use hnsw::{FlatIndex, Hnsw, Metric, Params, Selection};

/// Seed of the synthetic sets and of every index's level draws.
pub const SEED: u64 = 0x484E_5357;

/// A named data set: base vectors, queries, metric, and exact answers.
pub struct Bench {
    /// Short name, part of criterion's group names.
    pub name: &'static str,
    /// The vectors indexed.
    pub base: Dataset,
    /// The queries searched.
    pub queries: Dataset,
    /// Distance.
    pub metric: Metric,
    /// For each query, its exact `k` nearest base ids (nearest first).
    pub truth: Vec<Vec<u64>>,
}

/// Where Fashion-MNIST's IDX files are: `$STRATA_FASHION_MNIST`, or
/// Debian's `dataset-fashion-mnist` package's directory.
pub fn fashion_mnist_dir() -> PathBuf {
    std::env::var_os("STRATA_FASHION_MNIST").map_or_else(
        || PathBuf::from("/usr/share/datasets/fashion-mnist"),
        PathBuf::from,
    )
}

/// Fashion-MNIST (60,000 training images as the base, the first `queries`
/// test images as queries, 784 components, L2), or `None` if its files
/// are not installed.
///
/// # Panics
///
/// If the files are there but cannot be read.
pub fn fashion_mnist(queries: usize, k: usize) -> Option<Bench> {
    let dir = fashion_mnist_dir();
    let train = dir.join("train-images-idx3-ubyte.gz");
    if !train.exists() {
        return None;
    }
    let base = hnsw::io::read_vectors(&train).expect("reading Fashion-MNIST training images");
    let mut test = hnsw::io::read_vectors(dir.join("t10k-images-idx3-ubyte.gz"))
        .expect("reading Fashion-MNIST test images");
    test.split_off(queries.min(test.len()));
    Some(Bench::new("fashion-mnist", base, test, Metric::L2, k))
}

/// 20,000 base vectors and `queries` queries of 384 components around 100
/// Gaussian clusters (spread 0.3), cosine: the shape of a small set of
/// sentence embeddings, from one seed.
pub fn clustered_384(queries: usize, k: usize) -> Bench {
    let mut base = data::clustered(20_000 + queries, 384, 100, 0.3, SEED);
    let queries = base.split_off(20_000);
    Bench::new("clustered-384", base, queries, Metric::Cosine, k)
}

impl Bench {
    /// A set with its exact `k` nearest neighbours computed by [`FlatIndex`].
    ///
    /// # Panics
    ///
    /// On a vector the metric refuses (a zero vector under cosine).
    pub fn new(
        name: &'static str,
        base: Dataset,
        queries: Dataset,
        metric: Metric,
        k: usize,
    ) -> Bench {
        let exact = flat(&base, metric);
        let truth = queries
            .iter()
            .map(|q| {
                exact
                    .search(q, k)
                    .expect("valid query")
                    .iter()
                    .map(|n| n.id)
                    .collect()
            })
            .collect();
        Bench {
            name,
            base,
            queries,
            metric,
            truth,
        }
    }

    /// Mean recall@k of `index` at its current `ef` over all queries.
    pub fn recall(&self, index: &mut dyn Ann, k: usize) -> f64 {
        let mut found = Vec::new();
        let mut hits = 0usize;
        let mut wanted = 0usize;
        for (query, truth) in self.queries.iter().zip(&self.truth) {
            index.search(query, k, &mut found);
            let truth = &truth[..k.min(truth.len())];
            wanted += truth.len();
            hits += found.iter().filter(|id| truth.contains(id)).count();
        }
        if wanted == 0 {
            1.0
        } else {
            hits as f64 / wanted as f64
        }
    }
}

/// The exact index over `base`.
///
/// # Panics
///
/// On a vector the metric refuses.
pub fn flat(base: &Dataset, metric: Metric) -> FlatIndex {
    let mut exact = FlatIndex::new(metric, base.dimension).expect("valid dimension");
    for (id, v) in base.iter().enumerate() {
        exact.insert(id as u64, v).expect("valid vector");
    }
    exact
}

/// One approximate index under test. Errors panic: a benchmark that hits
/// one is broken.
pub trait Ann: Send + Sync {
    /// Short name, criterion's function id.
    fn name(&self) -> &'static str;
    /// Sets the search's candidate list size (instant-distance rebuilds its
    /// map from its serde form, so this can take a while).
    fn set_ef(&mut self, ef: usize);
    /// The ids of the `k` nearest base vectors found, into `out`.
    fn search(&self, query: &[f32], k: usize, out: &mut Vec<u64>);
}

/// The engines, by name, for `STRATA_BENCH_ENGINES`-style selection.
/// `strata-m32` is this crate with instant-distance's parameters (`m = 32`
/// and its default heuristic, which keeps pruned candidates), so that peer
/// can be compared at equal parameters too.
pub const ENGINES: [&str; 4] = ["strata", "strata-m32", "hnsw_rs", "instant-distance"];

/// Builds engine `name` over `base` with `m` and `ef_construction` on one
/// thread.
///
/// # Panics
///
/// On an unknown name, or data the engine refuses.
pub fn build(
    name: &str,
    base: &Dataset,
    metric: Metric,
    m: usize,
    ef_construction: usize,
) -> Box<dyn Ann> {
    match name {
        "strata" => Box::new(Strata::build(base, metric, m, ef_construction)),
        "strata-m32" => {
            let params = Params {
                selection: Selection::Heuristic {
                    extend_candidates: false,
                    keep_pruned: true,
                },
                ..Params::new(32)
            };
            Box::new(Strata {
                name: "strata-m32",
                ..Strata::build_with(base, metric, params, ef_construction)
            })
        }
        "hnsw_rs" => Box::new(HnswRs::build(base, metric, m, ef_construction)),
        "instant-distance" => Box::new(InstantDistance::build(base, metric, ef_construction)),
        other => panic!("no engine {other:?}; engines: {ENGINES:?}"),
    }
}

/// This crate's index.
pub struct Strata {
    name: &'static str,
    index: Hnsw,
    ef: usize,
}

impl Strata {
    /// Inserts `base` one at a time (ids are positions).
    ///
    /// # Panics
    ///
    /// On data the index refuses.
    pub fn build(base: &Dataset, metric: Metric, m: usize, ef_construction: usize) -> Strata {
        Strata::build_with(base, metric, Params::new(m), ef_construction)
    }

    /// As [`Strata::build`] with other parameters (the seed and
    /// `ef_construction` are set here).
    ///
    /// # Panics
    ///
    /// On invalid parameters or data the index refuses.
    pub fn build_with(
        base: &Dataset,
        metric: Metric,
        params: Params,
        ef_construction: usize,
    ) -> Strata {
        let params = Params {
            ef_construction,
            seed: SEED,
            ..params
        };
        let mut index = Hnsw::new(metric, base.dimension, params).expect("valid parameters");
        for (id, v) in base.iter().enumerate() {
            index.insert(id as u64, v).expect("valid vector");
        }
        Strata {
            name: "strata",
            index,
            ef: 10,
        }
    }
}

impl Ann for Strata {
    fn name(&self) -> &'static str {
        self.name
    }

    fn set_ef(&mut self, ef: usize) {
        self.ef = ef;
    }

    fn search(&self, query: &[f32], k: usize, out: &mut Vec<u64>) {
        out.clear();
        let found = self.index.search(query, k, self.ef).expect("valid query");
        out.extend(found.iter().map(|n| n.id));
    }
}

/// The metric's vectors as the peers get them: normalised for cosine.
fn prepared(base: &Dataset, metric: Metric) -> Vec<Vec<f32>> {
    base.iter().map(|v| prepare(v, metric)).collect()
}

fn prepare(v: &[f32], metric: Metric) -> Vec<f32> {
    match metric {
        Metric::Cosine => {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(|x| x / norm).collect()
        }
        _ => v.to_vec(),
    }
}

/// hnsw_rs's index, with L2 (`DistL2`) or, on normalised vectors, `DistDot`.
pub enum HnswRs {
    /// Under L2.
    L2(
        hnsw_rs::hnsw::Hnsw<'static, f32, anndists::dist::DistL2>,
        usize,
    ),
    /// Under cosine (normalised vectors, dot-product distance).
    Dot(
        hnsw_rs::hnsw::Hnsw<'static, f32, anndists::dist::DistDot>,
        usize,
    ),
}

impl HnswRs {
    /// Inserts `base` one at a time with `insert_slice` (ids are positions).
    ///
    /// # Panics
    ///
    /// For inner product, which the comparison does not use.
    pub fn build(base: &Dataset, metric: Metric, m: usize, ef_construction: usize) -> HnswRs {
        let vectors = prepared(base, metric);
        let layers = 16;
        match metric {
            Metric::L2 => {
                let index = hnsw_rs::hnsw::Hnsw::new(
                    m,
                    vectors.len(),
                    layers,
                    ef_construction,
                    anndists::dist::DistL2 {},
                );
                for (id, v) in vectors.iter().enumerate() {
                    index.insert_slice((v, id));
                }
                HnswRs::L2(index, 10)
            }
            Metric::Cosine => {
                let index = hnsw_rs::hnsw::Hnsw::new(
                    m,
                    vectors.len(),
                    layers,
                    ef_construction,
                    anndists::dist::DistDot {},
                );
                for (id, v) in vectors.iter().enumerate() {
                    index.insert_slice((v, id));
                }
                HnswRs::Dot(index, 10)
            }
            Metric::InnerProduct => panic!("the hnsw_rs adapter covers l2 and cosine"),
        }
    }
}

impl Ann for HnswRs {
    fn name(&self) -> &'static str {
        "hnsw_rs"
    }

    fn set_ef(&mut self, new: usize) {
        match self {
            HnswRs::L2(_, ef) | HnswRs::Dot(_, ef) => *ef = new,
        }
    }

    fn search(&self, query: &[f32], k: usize, out: &mut Vec<u64>) {
        out.clear();
        let found = match self {
            HnswRs::L2(index, ef) => index.search(query, k, *ef),
            HnswRs::Dot(index, ef) => index.search(&prepare(query, Metric::Cosine), k, *ef),
        };
        out.extend(found.iter().map(|n| n.d_id as u64));
    }
}

/// A vector as instant-distance stores it, with this crate's kernels.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Point {
    v: Vec<f32>,
    l2: bool,
}

impl instant_distance::Point for Point {
    fn distance(&self, other: &Self) -> f32 {
        if self.l2 {
            hnsw::metric::l2_squared(&self.v, &other.v)
        } else {
            1.0 - hnsw::metric::dot(&self.v, &other.v)
        }
    }
}

/// instant-distance's map (m fixed at 32 by the crate).
pub struct InstantDistance {
    map: instant_distance::HnswMap<Point, u64>,
    l2: bool,
}

impl InstantDistance {
    /// Builds the map in a rayon pool of one thread (ids are positions).
    ///
    /// # Panics
    ///
    /// If the pool cannot be made, or for inner product.
    pub fn build(base: &Dataset, metric: Metric, ef_construction: usize) -> InstantDistance {
        let l2 = match metric {
            Metric::L2 => true,
            Metric::Cosine => false,
            Metric::InnerProduct => panic!("the instant-distance adapter covers l2 and cosine"),
        };
        let points: Vec<Point> = prepared(base, metric)
            .into_iter()
            .map(|v| Point { v, l2 })
            .collect();
        let values: Vec<u64> = (0..points.len() as u64).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a one-thread pool");
        let map = pool.install(|| {
            instant_distance::Builder::default()
                .ef_construction(ef_construction)
                .ef_search(10)
                .seed(SEED)
                .build(points, values)
        });
        InstantDistance { map, l2 }
    }
}

impl Ann for InstantDistance {
    fn name(&self) -> &'static str {
        "instant-distance"
    }

    /// instant-distance fixes `ef_search` when it builds and offers no
    /// setter; its serde form holds the field, so the map is rebuilt from
    /// that form with the field changed (the graph is the same).
    fn set_ef(&mut self, ef: usize) {
        let mut form = serde_json::to_value(&self.map).expect("the map serialises");
        form["hnsw"]["ef_search"] = ef.into();
        self.map = serde_json::from_value(form).expect("the changed form deserialises");
    }

    fn search(&self, query: &[f32], k: usize, out: &mut Vec<u64>) {
        out.clear();
        let point = Point {
            v: prepare(query, if self.l2 { Metric::L2 } else { Metric::Cosine }),
            l2: self.l2,
        };
        let mut search = instant_distance::Search::default();
        out.extend(
            self.map
                .search(&point, &mut search)
                .take(k)
                .map(|item| *item.value),
        );
    }
}
