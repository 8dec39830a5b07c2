//! The real Fashion-MNIST files (Debian's `dataset-fashion-mnist`, or the
//! directory in `STRATA_FASHION_MNIST`): they read as the ann-benchmarks set
//! (60,000 + 10,000 images of 784 pixels), and a graph over part of it
//! finds the true neighbours. Skipped when the files are absent, unless
//! `STRATA_REQUIRE_FASHION_MNIST` is set (CI sets it, after installing the
//! package).

use std::path::PathBuf;

use hnsw::{FlatIndex, Hnsw, Metric, Params, recall_at_k};

fn dir() -> Option<PathBuf> {
    let dir = std::env::var_os("STRATA_FASHION_MNIST").map_or_else(
        || PathBuf::from("/usr/share/datasets/fashion-mnist"),
        PathBuf::from,
    );
    if dir.join("train-images-idx3-ubyte.gz").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("STRATA_REQUIRE_FASHION_MNIST").is_none(),
        "Fashion-MNIST is required but {} has no train-images-idx3-ubyte.gz",
        dir.display()
    );
    eprintln!("skipping: no Fashion-MNIST in {}", dir.display());
    None
}

#[test]
fn fashion_mnist_reads_and_hnsw_finds_its_neighbours() {
    let Some(dir) = dir() else { return };
    let mut train = hnsw::io::read_vectors(dir.join("train-images-idx3-ubyte.gz")).unwrap();
    let mut test = hnsw::io::read_vectors(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    assert_eq!((train.len(), train.dimension), (60_000, 784));
    assert_eq!((test.len(), test.dimension), (10_000, 784));
    let labels = hnsw::io::read_vectors(dir.join("train-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!((labels.len(), labels.dimension), (60_000, 1));
    assert!(labels.data.iter().all(|&l| (0.0..10.0).contains(&l)));
    // Pixels are bytes.
    assert!(train.data.iter().all(|&p| (0.0..=255.0).contains(&p)));

    train.split_off(5_000);
    test.split_off(100);
    let mut index = Hnsw::new(Metric::L2, 784, Params::new(16)).unwrap();
    let mut exact = FlatIndex::new(Metric::L2, 784).unwrap();
    for (id, image) in train.iter().enumerate() {
        index.insert(id as u64, image).unwrap();
        exact.insert(id as u64, image).unwrap();
    }
    index.check_invariants().unwrap();
    let recall = test
        .iter()
        .map(|q| {
            recall_at_k(
                &index.search(q, 10, 64).unwrap(),
                &exact.search(q, 10).unwrap(),
                10,
            )
        })
        .sum::<f64>()
        / test.len() as f64;
    assert!(recall >= 0.95, "recall@10 at ef 64: {recall}");
}
