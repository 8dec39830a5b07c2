//! Bad input is a typed error, never a panic.

use hnsw::{Error, FlatIndex, Hnsw, Metric, Params};

#[test]
fn bad_parameters_are_refused() {
    for (params, what) in [
        (
            Params {
                m: 1,
                ..Params::new(2)
            },
            "m = 1",
        ),
        (
            Params {
                m0: 3,
                ..Params::new(4)
            },
            "m0 < m",
        ),
        (
            Params {
                ef_construction: 0,
                ..Params::new(4)
            },
            "ef_construction",
        ),
        (
            Params {
                level_multiplier: f64::NAN,
                ..Params::new(4)
            },
            "level multiplier",
        ),
        (
            Params {
                level_multiplier: -1.0,
                ..Params::new(4)
            },
            "level multiplier",
        ),
    ] {
        assert!(
            matches!(
                Hnsw::new(Metric::L2, 3, params),
                Err(Error::InvalidParameter(_))
            ),
            "{what}"
        );
    }
    assert!(matches!(
        Hnsw::new(Metric::L2, 0, Params::new(4)),
        Err(Error::InvalidParameter(_))
    ));
    assert!(matches!(
        FlatIndex::new(Metric::L2, 0),
        Err(Error::InvalidParameter(_))
    ));
}

#[test]
fn bad_vectors_are_refused_with_what_is_wrong() {
    let mut index = Hnsw::new(Metric::Cosine, 3, Params::new(4)).unwrap();
    assert!(matches!(
        index.insert(1, &[1.0, 2.0]),
        Err(Error::DimensionMismatch {
            expected: 3,
            got: 2
        })
    ));
    assert!(matches!(
        index.insert(1, &[1.0, f32::NAN, 0.0]),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        index.insert(1, &[f32::INFINITY, 0.0, 0.0]),
        Err(Error::NonFinite { index: 0, .. })
    ));
    assert!(matches!(index.insert(1, &[0.0; 3]), Err(Error::ZeroVector)));
    index.insert(1, &[1.0, 0.0, 0.0]).unwrap();
    assert!(matches!(
        index.insert(1, &[0.0, 1.0, 0.0]),
        Err(Error::DuplicateId(1))
    ));
    assert!(matches!(
        index.search(&[1.0; 4], 1, 10),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        index.search(&[0.0; 3], 1, 10),
        Err(Error::ZeroVector)
    ));
    assert!(matches!(index.remove(7), Err(Error::UnknownId(7))));
    assert_eq!(index.len(), 1, "failed inserts left nothing behind");
    index.check_invariants().unwrap();
}

#[test]
fn searching_an_empty_index_or_for_nothing_is_empty() {
    let index = Hnsw::new(Metric::L2, 2, Params::new(4)).unwrap();
    assert!(index.search(&[0.0, 0.0], 5, 10).unwrap().is_empty());
    let mut index = index;
    index.insert(3, &[1.0, 1.0]).unwrap();
    assert!(index.search(&[0.0, 0.0], 0, 10).unwrap().is_empty());
    index.remove(3).unwrap();
    assert!(index.search(&[0.0, 0.0], 5, 10).unwrap().is_empty());
}
