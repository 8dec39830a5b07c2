//! The file readers on small files written here, and on damaged ones.

use std::io::Write;

use hnsw::io::{read_ids, read_vectors};

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn texmex<T: Copy>(rows: &[Vec<T>], encode: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for row in rows {
        out.extend_from_slice(&(row.len() as i32).to_le_bytes());
        for &x in row {
            out.extend(encode(x));
        }
    }
    out
}

#[test]
fn texmex_formats_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![vec![1.5f32, -2.0, 3.25], vec![0.0, 4.0, -1.0]];
    let path = write(
        dir.path(),
        "a.fvecs",
        &texmex(&rows, |x: f32| x.to_le_bytes().to_vec()),
    );
    let data = read_vectors(&path).unwrap();
    assert_eq!((data.dimension, data.len()), (3, 2));
    assert_eq!(data.vector(1), &[0.0, 4.0, -1.0]);

    let bytes = texmex(&[vec![1u8, 255], vec![7, 0]], |x: u8| vec![x]);
    let data = read_vectors(write(dir.path(), "b.bvecs", &bytes)).unwrap();
    assert_eq!(data.data, vec![1.0, 255.0, 7.0, 0.0]);

    let ids = texmex(&[vec![3i32, 1, 4], vec![1, 5, 9]], |x: i32| {
        x.to_le_bytes().to_vec()
    });
    let path = write(dir.path(), "gt.ivecs", &ids);
    assert_eq!(read_ids(&path).unwrap(), vec![vec![3, 1, 4], vec![1, 5, 9]]);
    assert_eq!(read_vectors(&path).unwrap().data[..3], [3.0, 1.0, 4.0]);
}

#[test]
fn damaged_texmex_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = texmex(&[vec![1.0f32, 2.0], vec![3.0, 4.0]], |x: f32| {
        x.to_le_bytes().to_vec()
    });
    for len in 1..good.len() {
        let path = write(dir.path(), "t.fvecs", &good[..len]);
        match read_vectors(&path) {
            // A cut between two vectors leaves a shorter, valid file.
            Ok(data) => assert_eq!((len, data.len()), (12, 1)),
            Err(error) => assert!(matches!(error, hnsw::Error::Corrupt(_)), "{len} bytes"),
        }
    }
    let mixed = [
        texmex(&[vec![1.0f32, 2.0]], |x: f32| x.to_le_bytes().to_vec()),
        texmex(&[vec![1.0f32]], |x: f32| x.to_le_bytes().to_vec()),
    ]
    .concat();
    assert!(read_vectors(write(dir.path(), "m.fvecs", &mixed)).is_err());
    let negative = (-5i32).to_le_bytes();
    assert!(read_vectors(write(dir.path(), "n.fvecs", &negative)).is_err());
    assert!(read_vectors(write(dir.path(), "x.csv", b"1,2")).is_err());
}

fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn npy_float32_and_float16_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let data = read_vectors(write(dir.path(), "a.npy", &npy("<f4", "(2, 3)", &body))).unwrap();
    assert_eq!((data.dimension, data.len()), (3, 2));
    assert_eq!(data.vector(1), &[4.0, 5.0, 6.0]);
    // 1.0, -2.0, 0.5, 65504 in half precision.
    let half: Vec<u8> = [0x3c00u16, 0xc000, 0x3800, 0x7bff]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let data = read_vectors(write(dir.path(), "h.npy", &npy("<f2", "(2, 2)", &half))).unwrap();
    assert_eq!(data.data, vec![1.0, -2.0, 0.5, 65504.0]);
    // Wrong dtype, rank, or length.
    for (descr, shape, body) in [
        ("<f8", "(2, 3)", &body[..]),
        ("<f4", "(6,)", &body[..]),
        ("<f4", "(2, 4)", &body[..]),
    ] {
        let path = write(dir.path(), "bad.npy", &npy(descr, shape, body));
        assert!(
            matches!(read_vectors(&path), Err(hnsw::Error::Corrupt(_))),
            "{descr} {shape}"
        );
    }
}

#[test]
fn gzipped_idx_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    // Three 2×2 images.
    let mut idx = vec![0, 0, 0x08, 3];
    for d in [3u32, 2, 2] {
        idx.extend_from_slice(&d.to_be_bytes());
    }
    idx.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&idx).unwrap();
    let path = write(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        &gz.finish().unwrap(),
    );
    let data = read_vectors(&path).unwrap();
    assert_eq!((data.dimension, data.len()), (4, 3));
    assert_eq!(data.vector(2), &[8.0, 9.0, 10.0, 255.0]);
    let path = write(dir.path(), "short-idx3-ubyte", &idx[..idx.len() - 1]);
    assert!(matches!(read_vectors(&path), Err(hnsw::Error::Corrupt(_))));
    let path = write(dir.path(), "fake-idx3-ubyte.gz", b"not gzip");
    assert!(matches!(read_vectors(&path), Err(hnsw::Error::Corrupt(_))));
}

#[test]
fn written_texmex_files_read_back_and_bad_lists_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = hnsw::data::clustered(50, 7, 3, 0.2, 9);
    let path = dir.path().join("x.fvecs");
    hnsw::io::write_fvecs(&path, &data).unwrap();
    assert_eq!(read_vectors(&path).unwrap(), data);

    let lists = vec![vec![3, 1, 4], vec![1, 5], vec![i32::MAX as u64]];
    let path = dir.path().join("gt.ivecs");
    hnsw::io::write_ivecs(&path, &lists).unwrap();
    assert_eq!(read_ids(&path).unwrap(), lists);

    let too_big = dir.path().join("big.ivecs");
    assert!(hnsw::io::write_ivecs(&too_big, &[vec![1 << 31]]).is_err());
    assert!(hnsw::io::write_ivecs(&too_big, &[vec![]]).is_err());
}
