//! The index's keys: short keys stored inline, long ones on the heap.
//!
//! A search in the index compares the probe with one key per tree level.
//! With `Vec<u8>` keys every comparison first loads the key's heap block:
//! a second cache miss per level on top of the node's. [`Key`] keeps keys
//! of up to [`INLINE`] bytes inside the node, in the same 24 bytes a `Vec`
//! takes, so those comparisons read nothing else; longer keys live in a
//! boxed slice. Ordering and equality are exactly those of `[u8]`, and
//! `Key: Borrow<[u8]>`, so the index is searched with plain byte slices.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

/// Longest key stored inline.
pub(crate) const INLINE: usize = 22;

// ANCHOR: key
/// A key in the index.
#[derive(Clone)]
pub(crate) enum Key {
    /// `bytes[..len]` is the key.
    Inline {
        /// Length of the key, at most [`INLINE`].
        len: u8,
        /// The key, padded with zeros.
        bytes: [u8; INLINE],
    },
    /// A key longer than [`INLINE`] bytes.
    Heap(Box<[u8]>),
}
// ANCHOR_END: key

impl Key {
    /// The key's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(bytes) => bytes,
        }
    }
}

impl From<&[u8]> for Key {
    fn from(key: &[u8]) -> Key {
        match u8::try_from(key.len()) {
            Ok(len) if key.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..key.len()].copy_from_slice(key);
                Key::Inline { len, bytes }
            }
            _ => Key::Heap(key.into()),
        }
    }
}

impl From<Vec<u8>> for Key {
    fn from(key: Vec<u8>) -> Key {
        if key.len() <= INLINE {
            Key::from(key.as_slice())
        } else {
            Key::Heap(key.into_boxed_slice())
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_takes_no_more_room_than_a_vec() {
        assert_eq!(size_of::<Key>(), size_of::<Vec<u8>>());
    }

    #[test]
    fn keys_order_and_compare_as_byte_slices() {
        let samples: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            vec![1],
            vec![255; 22],
            vec![255; 23],
            vec![7; 40],
            b"apple".to_vec(),
            b"apples".to_vec(),
        ];
        for a in &samples {
            let key = Key::from(a.clone());
            assert_eq!(key.as_bytes(), a.as_slice());
            assert_eq!(Key::from(a.as_slice()), key);
            assert_eq!(matches!(key, Key::Inline { .. }), a.len() <= INLINE);
            for b in &samples {
                assert_eq!(
                    key.cmp(&Key::from(b.as_slice())),
                    a.cmp(b),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }
}
