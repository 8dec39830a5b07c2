//! Errors of the index, each saying what was wrong and how to fix it.

use thiserror::Error;

// ANCHOR: error
/// What can go wrong with an index.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A vector (to insert or to search for) has the wrong length.
    #[error("vector has {got} components but the index holds {expected}-dimensional vectors")]
    DimensionMismatch {
        /// The index's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A component is NaN or infinite: distances to it are meaningless.
    #[error("component {index} of the vector is {value}, not a finite number")]
    NonFinite {
        /// Position of the first bad component.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// The cosine metric cannot normalise a vector of length zero.
    #[error("the zero vector has no direction, so its cosine distance is undefined")]
    ZeroVector,
    /// An id that the index does not hold (or holds only as removed).
    #[error("no live item with id {0}")]
    UnknownId(u64),
    /// An id that is already live in the index.
    #[error("id {0} is already in the index: remove it first to replace its vector")]
    DuplicateId(u64),
    /// The index holds as many items as its internal 32-bit node numbers allow.
    #[error("the index is full ({0} nodes, counting removed ones): compact it")]
    Full(usize),
    /// Reading or writing an index file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A saved index is damaged, truncated or not an index at all.
    #[error("corrupt index file: {0}")]
    Corrupt(String),
}
// ANCHOR_END: error

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
