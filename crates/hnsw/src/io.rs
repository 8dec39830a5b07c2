//! Reading vector data sets from the formats ANN benchmarks use.
//!
//! - TEXMEX `.fvecs` / `.ivecs` / `.bvecs` (SIFT, GIST): each vector is a
//!   little-endian `i32` dimension followed by that many `f32`, `i32` or
//!   `u8` components.
//! - NumPy `.npy` (version 1–3), 2-D, C order, little-endian `float32`
//!   (`<f4`) or `float16` (`<f2`).
//! - IDX (MNIST, Fashion-MNIST), optionally gzipped (`.gz`): unsigned-byte
//!   tensors of any rank, one vector per item of the first dimension.
//!
//! [`read_vectors`] picks the reader by extension; [`read_ids`] reads
//! ground-truth id lists (`.ivecs`); [`write_fvecs`] and [`write_ivecs`]
//! write the two TEXMEX formats other tools read most easily. Every reader checks lengths before it
//! allocates and returns [`Error::Corrupt`] naming the file and the problem.

use std::io::Read;
use std::path::Path;

use crate::data::Dataset;
use crate::error::{Error, Result};

/// Most components a vector may have (a bound for damaged headers).
pub const DIMENSION_MAX: usize = 1 << 20;

fn corrupt(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{}: {what}", path.display()))
}

/// Reads the vectors of `path`, by its extension: `.fvecs`, `.bvecs`,
/// `.ivecs` (as floats), `.npy`, or IDX (`-ubyte`, `.idx`, optionally `.gz`).
///
/// # Errors
///
/// [`Error::Io`], or [`Error::Corrupt`] for an unknown extension or a
/// malformed file.
pub fn read_vectors(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let bytes = read_maybe_gzipped(path, name.ends_with(".gz"))?;
    if stem.ends_with(".fvecs") {
        texmex(path, &bytes, 4, |b| {
            f32::from_le_bytes(b.try_into().expect("4 bytes"))
        })
    } else if stem.ends_with(".ivecs") {
        texmex(path, &bytes, 4, |b| {
            i32::from_le_bytes(b.try_into().expect("4 bytes")) as f32
        })
    } else if stem.ends_with(".bvecs") {
        texmex(path, &bytes, 1, |b| f32::from(b[0]))
    } else if stem.ends_with(".npy") {
        npy(path, &bytes)
    } else if stem.ends_with("-ubyte") || stem.ends_with(".idx") {
        idx(path, &bytes)
    } else {
        Err(corrupt(
            path,
            "unknown format: use .fvecs, .ivecs, .bvecs, .npy, or IDX (-ubyte, .idx), optionally .gz",
        ))
    }
}

/// Reads ground truth: one list of ids per query, from `.ivecs`.
///
/// # Errors
///
/// As [`read_vectors`]; negative ids are [`Error::Corrupt`].
pub fn read_ids(path: impl AsRef<Path>) -> Result<Vec<Vec<u64>>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)?;
    let mut lists = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (dimension, body) = texmex_header(path, rest, 4)?;
        let ids = body[..dimension * 4]
            .chunks_exact(4)
            .map(|b| {
                let id = i32::from_le_bytes(b.try_into().expect("4 bytes"));
                u64::try_from(id).map_err(|_| corrupt(path, format!("negative id {id}")))
            })
            .collect::<Result<Vec<u64>>>()?;
        lists.push(ids);
        rest = &body[dimension * 4..];
    }
    Ok(lists)
}

/// Writes `data` as `.fvecs`: per vector, its dimension (`i32`) and its
/// components (`f32`), little-endian.
///
/// # Errors
///
/// [`Error::Io`]; [`Error::Corrupt`] if the dimension does not fit an `i32`.
pub fn write_fvecs(path: impl AsRef<Path>, data: &Dataset) -> Result<()> {
    let header = texmex_dimension(data.dimension)?;
    let mut bytes = Vec::with_capacity(data.len() * (4 + 4 * data.dimension));
    for vector in data.iter() {
        bytes.extend_from_slice(&header);
        for x in vector {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Writes id lists (ground truth) as `.ivecs`, the format [`read_ids`]
/// reads. Lists may differ in length.
///
/// # Errors
///
/// [`Error::Io`]; [`Error::Corrupt`] for an id above `i32::MAX` or an
/// empty list (TEXMEX has no empty vectors).
pub fn write_ivecs(path: impl AsRef<Path>, lists: &[Vec<u64>]) -> Result<()> {
    let mut bytes = Vec::new();
    for list in lists {
        bytes.extend_from_slice(&texmex_dimension(list.len())?);
        for &id in list {
            let id = i32::try_from(id)
                .map_err(|_| Error::Corrupt(format!("id {id} does not fit .ivecs (i32)")))?;
            bytes.extend_from_slice(&id.to_le_bytes());
        }
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

fn texmex_dimension(dimension: usize) -> Result<[u8; 4]> {
    i32::try_from(dimension)
        .ok()
        .filter(|&d| d >= 1 && d as usize <= DIMENSION_MAX)
        .map(i32::to_le_bytes)
        .ok_or_else(|| Error::Corrupt(format!("dimension {dimension} cannot be written")))
}

fn read_maybe_gzipped(path: &Path, gzipped: bool) -> Result<Vec<u8>> {
    let file = std::fs::read(path)?;
    if !gzipped {
        return Ok(file);
    }
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file.as_slice())
        .read_to_end(&mut bytes)
        .map_err(|error| corrupt(path, format!("gzip: {error}")))?;
    Ok(bytes)
}

/// The dimension at the front of `bytes` and the rest, checked to hold that
/// many components of `width` bytes.
fn texmex_header<'a>(path: &Path, bytes: &'a [u8], width: usize) -> Result<(usize, &'a [u8])> {
    let Some((head, body)) = bytes.split_first_chunk::<4>() else {
        return Err(corrupt(path, "truncated dimension field"));
    };
    let dimension = i32::from_le_bytes(*head);
    let dimension = usize::try_from(dimension)
        .ok()
        .filter(|&d| (1..=DIMENSION_MAX).contains(&d))
        .ok_or_else(|| corrupt(path, format!("dimension {dimension}")))?;
    if body.len() < dimension * width {
        return Err(corrupt(path, "truncated vector"));
    }
    Ok((dimension, body))
}

fn texmex(
    path: &Path,
    bytes: &[u8],
    width: usize,
    component: impl Fn(&[u8]) -> f32,
) -> Result<Dataset> {
    let mut data = Vec::new();
    let mut dimension = None;
    let mut rest = bytes;
    while !rest.is_empty() {
        let (d, body) = texmex_header(path, rest, width)?;
        if *dimension.get_or_insert(d) != d {
            return Err(corrupt(
                path,
                format!("vectors of {d} and {dimension:?} components"),
            ));
        }
        data.extend(body[..d * width].chunks_exact(width).map(&component));
        rest = &body[d * width..];
    }
    let dimension = dimension.ok_or_else(|| corrupt(path, "no vectors"))?;
    Ok(Dataset { dimension, data })
}

fn npy(path: &Path, bytes: &[u8]) -> Result<Dataset> {
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(corrupt(path, "not a .npy file (bad magic)"));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize,
            12,
        ),
        version => return Err(corrupt(path, format!("npy version {version}"))),
    };
    let header = bytes
        .get(header_start..header_start + header_len)
        .ok_or_else(|| corrupt(path, "truncated header"))?;
    let header = String::from_utf8_lossy(header);
    let field = |key: &str| -> Option<String> {
        let at = header.find(&format!("'{key}'"))?;
        let rest = header[at + key.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        let end = if rest.starts_with('(') {
            rest.find(')')? + 1
        } else {
            rest.find([',', '}'])?
        };
        Some(rest[..end].trim().to_string())
    };
    let descr = field("descr").ok_or_else(|| corrupt(path, "no descr in header"))?;
    if field("fortran_order").as_deref() != Some("False") {
        return Err(corrupt(path, "only C-ordered arrays are supported"));
    }
    let shape = field("shape").ok_or_else(|| corrupt(path, "no shape in header"))?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| corrupt(path, format!("shape {shape}")))?;
    let [rows, dimension] = dims[..] else {
        return Err(corrupt(
            path,
            format!("shape {shape}: expected 2 dimensions"),
        ));
    };
    if !(1..=DIMENSION_MAX).contains(&dimension) {
        return Err(corrupt(path, format!("dimension {dimension}")));
    }
    let width = match descr.trim_matches('\'') {
        "<f4" => 4,
        "<f2" => 2,
        other => {
            return Err(corrupt(
                path,
                format!("dtype {other}: use float32 or float16"),
            ));
        }
    };
    let body = &bytes[header_start + header_len..];
    let expected = rows
        .checked_mul(dimension)
        .and_then(|n| n.checked_mul(width))
        .ok_or_else(|| corrupt(path, "shape overflows"))?;
    if body.len() != expected {
        return Err(corrupt(
            path,
            format!("{} data bytes, shape says {expected}", body.len()),
        ));
    }
    let data = if width == 4 {
        body.chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect()
    } else {
        body.chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect()
    };
    Ok(Dataset { dimension, data })
}

/// IEEE 754 half precision to single precision (exact: every half is a
/// single).
pub fn f16_to_f32(half: u16) -> f32 {
    let sign = u32::from(half >> 15) << 31;
    let exponent = u32::from((half >> 10) & 0x1f);
    let mantissa = u32::from(half & 0x3ff);
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: shift the mantissa up until its leading 1 is implicit.
            let shift = mantissa.leading_zeros() - 21;
            let mantissa = (mantissa << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (mantissa << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (mantissa << 13),
        _ => sign | ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(bits)
}

fn idx(path: &Path, bytes: &[u8]) -> Result<Dataset> {
    let Some((magic, rest)) = bytes.split_first_chunk::<4>() else {
        return Err(corrupt(path, "truncated IDX header"));
    };
    if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 {
        return Err(corrupt(path, "not an unsigned-byte IDX file (bad magic)"));
    }
    let rank = usize::from(magic[3]);
    if !(1..=4).contains(&rank) || rest.len() < rank * 4 {
        return Err(corrupt(path, format!("rank {rank}")));
    }
    let dims: Vec<usize> = rest[..rank * 4]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
        .collect();
    let items = dims[0];
    let dimension: usize = dims[1..].iter().product::<usize>().max(1);
    if dimension > DIMENSION_MAX {
        return Err(corrupt(path, format!("dimension {dimension}")));
    }
    let body = &rest[rank * 4..];
    if items.checked_mul(dimension) != Some(body.len()) {
        return Err(corrupt(
            path,
            format!("{} data bytes for {items} × {dimension}", body.len()),
        ));
    }
    Ok(Dataset {
        dimension,
        data: body.iter().map(|&b| f32::from(b)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
