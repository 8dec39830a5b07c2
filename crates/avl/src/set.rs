//! [`AvlSet`]: an ordered set with the `BTreeSet` surface, an [`AvlMap`] with
//! `()` values.
//!
//! Set algebra comes in two forms:
//!
//! * **Lazy iterators** with `BTreeSet`'s signatures ([`union`](AvlSet::union),
//!   [`intersection`](AvlSet::intersection), [`difference`](AvlSet::difference),
//!   [`symmetric_difference`](AvlSet::symmetric_difference)) that borrow both
//!   sets and merge them in O(n + m), or look the smaller one up in the larger
//!   in O(m·log n) when it is much smaller.
//! * **Owned operators** `a | b`, `a & b`, `a - b`, `a ^ b` on sets taken by
//!   value, built on split and join (Blelloch, Ferizovic and Sun 2016): they
//!   move nodes instead of copying entries and take O(m·log(n/m + 1)) time for
//!   sizes m ≤ n, which is far below O(n + m) when one set is small. On
//!   references (`&a | &b`) they clone both sets and then join (`BTreeSet`
//!   instead merges the two and clones only the result's elements).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::iter::{FusedIterator, Peekable};
use std::ops::{BitAnd, BitOr, BitXor, RangeBounds, Sub};

use crate::check::InvariantViolation;
use crate::iter::Keys;
use crate::join;
use crate::map::{AvlMap, RotationStats};
use crate::render::Shape;

/// An ordered set based on an AVL tree, with the API of
/// [`std::collections::BTreeSet`].
///
/// # Example
///
/// ```
/// use avl::AvlSet;
///
/// let evens: AvlSet<u32> = (0..20).step_by(2).collect();
/// let threes: AvlSet<u32> = (0..20).step_by(3).collect();
///
/// // Lazy, borrowing, like BTreeSet:
/// let both: Vec<u32> = evens.intersection(&threes).copied().collect();
/// assert_eq!(both, [0, 6, 12, 18]);
///
/// // Owned and join-based: moves nodes, no copies.
/// let either = evens | threes;
/// assert_eq!(either.len(), 13); // 10 + 7 − 4 in both
/// either.check_invariants()?;
/// # Ok::<(), avl::InvariantViolation>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AvlSet<T> {
    map: AvlMap<T, ()>,
}

impl<T> AvlSet<T> {
    /// An empty set. Does not allocate.
    ///
    /// ```
    /// let set: avl::AvlSet<u8> = avl::AvlSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub const fn new() -> Self {
        AvlSet { map: AvlMap::new() }
    }

    /// Number of elements.
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([1, 2, 2]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    ///
    /// ```
    /// assert!(avl::AvlSet::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every element.
    ///
    /// ```
    /// let mut set = avl::AvlSet::from([1]);
    /// set.clear();
    /// assert!(set.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Height of the tree (0 when empty).
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([1, 2, 3]).height(), 2);
    /// ```
    pub fn height(&self) -> usize {
        self.map.height()
    }

    /// Rotations performed so far, by operation.
    ///
    /// ```
    /// let mut set = avl::AvlSet::new();
    /// set.insert(1);
    /// set.insert(2);
    /// set.insert(3); // RR case
    /// assert_eq!(set.rotation_stats().insert.single, 1);
    /// ```
    pub fn rotation_stats(&self) -> RotationStats {
        self.map.rotation_stats()
    }

    /// The smallest element.
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([2, 1]).first(), Some(&1));
    /// ```
    pub fn first(&self) -> Option<&T> {
        self.map.first_key_value().map(|(k, _)| k)
    }

    /// The largest element.
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([2, 1]).last(), Some(&2));
    /// ```
    pub fn last(&self) -> Option<&T> {
        self.map.last_key_value().map(|(k, _)| k)
    }

    /// Removes and returns the smallest element.
    ///
    /// ```
    /// let mut set = avl::AvlSet::from([2, 1]);
    /// assert_eq!(set.pop_first(), Some(1));
    /// ```
    pub fn pop_first(&mut self) -> Option<T> {
        self.map.pop_first().map(|(k, _)| k)
    }

    /// Removes and returns the largest element.
    ///
    /// ```
    /// let mut set = avl::AvlSet::from([2, 1]);
    /// assert_eq!(set.pop_last(), Some(2));
    /// ```
    pub fn pop_last(&mut self) -> Option<T> {
        self.map.pop_last().map(|(k, _)| k)
    }

    /// The element with exactly `index` smaller elements, in O(log n).
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([30, 10, 20]).select(1), Some(&20));
    /// ```
    pub fn select(&self, index: usize) -> Option<&T> {
        self.map.select(index).map(|(k, _)| k)
    }

    /// An iterator over the elements in order.
    ///
    /// ```
    /// let set = avl::AvlSet::from([3, 1, 2]);
    /// assert_eq!(set.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            inner: self.map.keys(),
        }
    }

    /// Keeps only the elements for which `keep` returns `true`. O(n).
    ///
    /// ```
    /// let mut set: avl::AvlSet<u32> = (0..10).collect();
    /// set.retain(|&x| x % 3 == 0);
    /// assert_eq!(set.into_iter().collect::<Vec<_>>(), [0, 3, 6, 9]);
    /// ```
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut keep: F) {
        self.map.retain(|k, _| keep(k));
    }

    /// The shape of the tree, labelled with the elements, for drawing.
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([1, 2, 3]).shape().len(), 3);
    /// ```
    pub fn shape(&self) -> Shape
    where
        T: fmt::Display,
    {
        self.map.shape()
    }

    /// The tree drawn in ASCII (see [`Shape::to_ascii`]).
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([1, 2, 3]).to_ascii(), " _2_\n/   \\\n1   3\n");
    /// ```
    pub fn to_ascii(&self) -> String
    where
        T: fmt::Display,
    {
        self.map.to_ascii()
    }

    /// The tree drawn as SVG (see [`Shape::to_svg`]).
    ///
    /// ```
    /// assert!(avl::AvlSet::from([1]).to_svg().contains("<circle"));
    /// ```
    pub fn to_svg(&self) -> String
    where
        T: fmt::Display,
    {
        self.map.to_svg()
    }
}

impl<T: Ord> AvlSet<T> {
    /// Adds `value`; returns whether it was new. An element already present is
    /// left as it was (as in `BTreeSet`).
    ///
    /// ```
    /// let mut set = avl::AvlSet::new();
    /// assert!(set.insert(1));
    /// assert!(!set.insert(1));
    /// ```
    pub fn insert(&mut self, value: T) -> bool {
        self.map.insert(value, ()).is_none()
    }

    /// Adds `value`, replacing and returning an equal element if present.
    ///
    /// ```
    /// let mut set = avl::AvlSet::from([1]);
    /// assert_eq!(set.replace(1), Some(1));
    /// assert_eq!(set.replace(2), None);
    /// ```
    pub fn replace(&mut self, value: T) -> Option<T> {
        let old = self.map.remove_entry(&value).map(|(k, _)| k);
        self.map.insert(value, ());
        old
    }

    /// Whether the set holds `value`.
    ///
    /// ```
    /// assert!(avl::AvlSet::from([1]).contains(&1));
    /// ```
    pub fn contains<Q>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.contains_key(value)
    }

    /// The stored element equal to `value`, if any.
    ///
    /// ```
    /// let set = avl::AvlSet::from([String::from("a")]);
    /// assert_eq!(set.get("a"), Some(&String::from("a")));
    /// ```
    pub fn get<Q>(&self, value: &Q) -> Option<&T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.get_key_value(value).map(|(k, _)| k)
    }

    /// Removes `value`; returns whether it was present.
    ///
    /// ```
    /// let mut set = avl::AvlSet::from([1]);
    /// assert!(set.remove(&1));
    /// assert!(!set.remove(&1));
    /// ```
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.remove(value).is_some()
    }

    /// Removes and returns the stored element equal to `value`, if any.
    ///
    /// ```
    /// let mut set = avl::AvlSet::from([1]);
    /// assert_eq!(set.take(&1), Some(1));
    /// ```
    pub fn take<Q>(&mut self, value: &Q) -> Option<T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.remove_entry(value).map(|(k, _)| k)
    }

    /// Number of elements less than `value`, in O(log n).
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([10, 20, 30]).rank(&25), 2);
    /// ```
    pub fn rank<Q>(&self, value: &Q) -> usize
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.rank(value)
    }

    /// The elements within `range`, in order.
    ///
    /// # Panics
    /// As [`AvlMap::range`].
    ///
    /// ```
    /// let set: avl::AvlSet<u32> = (0..10).collect();
    /// assert_eq!(set.range(3..6).copied().collect::<Vec<_>>(), [3, 4, 5]);
    /// ```
    pub fn range<Q, R>(&self, range: R) -> Range<'_, T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        Range {
            inner: self.map.range(range),
        }
    }

    /// Moves every element of `other` into `self` (join-based, see
    /// [`AvlMap::append`]).
    ///
    /// ```
    /// let mut a = avl::AvlSet::from([1, 2]);
    /// let mut b = avl::AvlSet::from([2, 3]);
    /// a.append(&mut b);
    /// assert_eq!(a.len(), 3);
    /// assert!(b.is_empty());
    /// ```
    pub fn append(&mut self, other: &mut Self) {
        self.map.append(&mut other.map);
    }

    /// Splits off the elements `>= value`, in O(log n).
    ///
    /// ```
    /// let mut a: avl::AvlSet<u32> = (0..10).collect();
    /// let b = a.split_off(&7);
    /// assert_eq!((a.len(), b.len()), (7, 3));
    /// ```
    pub fn split_off<Q>(&mut self, value: &Q) -> Self
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        AvlSet {
            map: self.map.split_off(value),
        }
    }

    /// Walks the tree and returns the first broken invariant, if any (see
    /// [`AvlMap::check_invariants`]).
    ///
    /// ```
    /// assert_eq!(avl::AvlSet::from([1, 2, 3]).check_invariants(), Ok(()));
    /// ```
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.map.check_invariants()
    }

    /// The elements in `self` or `other` (or both), in order, lazily.
    ///
    /// ```
    /// let a = avl::AvlSet::from([1, 2]);
    /// let b = avl::AvlSet::from([2, 3]);
    /// assert_eq!(a.union(&b).copied().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn union<'a>(&'a self, other: &'a Self) -> Union<'a, T> {
        Union {
            a: self.iter().peekable(),
            b: other.iter().peekable(),
        }
    }

    /// The elements in both `self` and `other`, in order, lazily.
    ///
    /// ```
    /// let a = avl::AvlSet::from([1, 2]);
    /// let b = avl::AvlSet::from([2, 3]);
    /// assert_eq!(a.intersection(&b).copied().collect::<Vec<_>>(), [2]);
    /// ```
    pub fn intersection<'a>(&'a self, other: &'a Self) -> Intersection<'a, T> {
        let (small, large) = if self.len() <= other.len() {
            (self, other)
        } else {
            (other, self)
        };
        let inner = if prefers_search(small.len(), large.len()) {
            IntersectionInner::Search {
                small: small.iter(),
                large,
            }
        } else {
            IntersectionInner::Merge {
                a: self.iter().peekable(),
                b: other.iter().peekable(),
            }
        };
        Intersection { inner }
    }

    /// The elements in `self` but not in `other`, in order, lazily.
    ///
    /// ```
    /// let a = avl::AvlSet::from([1, 2]);
    /// let b = avl::AvlSet::from([2, 3]);
    /// assert_eq!(a.difference(&b).copied().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn difference<'a>(&'a self, other: &'a Self) -> Difference<'a, T> {
        let inner = if prefers_search(self.len(), other.len()) {
            DifferenceInner::Search {
                a: self.iter(),
                b: other,
            }
        } else {
            DifferenceInner::Merge {
                a: self.iter().peekable(),
                b: other.iter().peekable(),
            }
        };
        Difference { inner }
    }

    /// The elements in exactly one of `self` and `other`, in order, lazily.
    ///
    /// ```
    /// let a = avl::AvlSet::from([1, 2]);
    /// let b = avl::AvlSet::from([2, 3]);
    /// assert_eq!(a.symmetric_difference(&b).copied().collect::<Vec<_>>(), [1, 3]);
    /// ```
    pub fn symmetric_difference<'a>(&'a self, other: &'a Self) -> SymmetricDifference<'a, T> {
        SymmetricDifference {
            a: self.iter().peekable(),
            b: other.iter().peekable(),
        }
    }

    /// Whether every element of `self` is in `other`.
    ///
    /// ```
    /// let a = avl::AvlSet::from([1, 2]);
    /// let b = avl::AvlSet::from([1, 2, 3]);
    /// assert!(a.is_subset(&b));
    /// assert!(!b.is_subset(&a));
    /// ```
    pub fn is_subset(&self, other: &Self) -> bool {
        self.len() <= other.len() && self.difference(other).next().is_none()
    }

    /// Whether every element of `other` is in `self`.
    ///
    /// ```
    /// assert!(avl::AvlSet::from([1, 2]).is_superset(&avl::AvlSet::from([2])));
    /// ```
    pub fn is_superset(&self, other: &Self) -> bool {
        other.is_subset(self)
    }

    /// Whether `self` and `other` have no element in common.
    ///
    /// ```
    /// assert!(avl::AvlSet::from([1]).is_disjoint(&avl::AvlSet::from([2])));
    /// ```
    pub fn is_disjoint(&self, other: &Self) -> bool {
        self.intersection(other).next().is_none()
    }
}

/// Looking each element of the smaller set up in the larger beats merging
/// when the larger is this many times bigger (`BTreeSet` uses the same idea).
const SEARCH_RATIO: usize = 16;

fn prefers_search(small: usize, large: usize) -> bool {
    small.saturating_mul(SEARCH_RATIO) < large
}

// ---------------------------------------------------------------------------
// Owned, join-based operators.

/// Implements an owned operator with a join-based tree function, and the
/// by-reference version by cloning.
macro_rules! join_operator {
    ($trait:ident, $method:ident, $doc:literal, |$a:ident, $b:ident, $rot:ident| $body:expr) => {
        impl<T: Ord> $trait for AvlSet<T> {
            type Output = AvlSet<T>;

            #[doc = $doc]
            fn $method(mut self, mut other: AvlSet<T>) -> AvlSet<T> {
                let $a = self.map.root.take();
                let $b = other.map.root.take();
                let $rot = &mut self.map.stats.join;
                self.map.root = $body;
                self
            }
        }

        impl<T: Ord + Clone> $trait<&AvlSet<T>> for &AvlSet<T> {
            type Output = AvlSet<T>;

            #[doc = $doc]
            ///
            /// Both sets are cloned first.
            fn $method(self, other: &AvlSet<T>) -> AvlSet<T> {
                self.clone().$method(other.clone())
            }
        }
    };
}

join_operator!(
    BitOr,
    bitor,
    "The union, by split and join.\n\n```\nlet u = avl::AvlSet::from([1, 2]) | avl::AvlSet::from([2, 3]);\nassert_eq!(u.into_iter().collect::<Vec<_>>(), [1, 2, 3]);\n```",
    |a, b, rotations| join::union(a, b, join::Keep::First, rotations)
);
join_operator!(
    BitAnd,
    bitand,
    "The intersection, by split and join.\n\n```\nlet i = avl::AvlSet::from([1, 2]) & avl::AvlSet::from([2, 3]);\nassert_eq!(i.into_iter().collect::<Vec<_>>(), [2]);\n```",
    |a, b, rotations| join::intersection(a, b, rotations)
);
join_operator!(
    Sub,
    sub,
    "The difference, by split and join.\n\n```\nlet d = avl::AvlSet::from([1, 2]) - avl::AvlSet::from([2, 3]);\nassert_eq!(d.into_iter().collect::<Vec<_>>(), [1]);\n```",
    |a, b, rotations| join::difference(a, b, rotations)
);
join_operator!(
    BitXor,
    bitxor,
    "The symmetric difference, by split and join.\n\n```\nlet x = avl::AvlSet::from([1, 2]) ^ avl::AvlSet::from([2, 3]);\nassert_eq!(x.into_iter().collect::<Vec<_>>(), [1, 3]);\n```",
    |a, b, rotations| join::symmetric_difference(a, b, rotations)
);

// ---------------------------------------------------------------------------
// Conversions and standard traits.

impl<T: fmt::Debug> fmt::Debug for AvlSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Ord> FromIterator<T> for AvlSet<T> {
    /// Sorts and deduplicates, then builds a perfectly balanced tree in O(n).
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        AvlSet {
            map: iter.into_iter().map(|k| (k, ())).collect(),
        }
    }
}

impl<T: Ord, const N: usize> From<[T; N]> for AvlSet<T> {
    /// ```
    /// assert_eq!(avl::AvlSet::from([3, 1, 2]).first(), Some(&1));
    /// ```
    fn from(values: [T; N]) -> Self {
        values.into_iter().collect()
    }
}

impl<T: Ord> Extend<T> for AvlSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.map.extend(iter.into_iter().map(|k| (k, ())));
    }
}

impl<'a, T: Ord + Copy + 'a> Extend<&'a T> for AvlSet<T> {
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, iter: I) {
        self.extend(iter.into_iter().copied());
    }
}

impl<T> IntoIterator for AvlSet<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter {
            inner: self.map.into_iter(),
        }
    }
}

impl<'a, T> IntoIterator for &'a AvlSet<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

// ---------------------------------------------------------------------------
// Iterators.

macro_rules! forward_iterator {
    ($name:ident <$($lt:lifetime,)? $t:ident>, $item:ty, $doc:literal) => {
        #[doc = $doc]
        pub struct $name<$($lt,)? $t> {
            inner: forward_iterator!(@inner $name $($lt,)? $t),
        }

        impl<$($lt,)? $t> Iterator for $name<$($lt,)? $t> {
            type Item = $item;

            fn next(&mut self) -> Option<$item> {
                self.inner.next().map(|(k, _)| k)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.inner.size_hint()
            }

            fn nth(&mut self, n: usize) -> Option<$item> {
                self.inner.nth(n).map(|(k, _)| k)
            }

            fn last(mut self) -> Option<$item> {
                self.next_back()
            }
        }

        impl<$($lt,)? $t> DoubleEndedIterator for $name<$($lt,)? $t> {
            fn next_back(&mut self) -> Option<$item> {
                self.inner.next_back().map(|(k, _)| k)
            }
        }

        impl<$($lt,)? $t> ExactSizeIterator for $name<$($lt,)? $t> {}
        impl<$($lt,)? $t> FusedIterator for $name<$($lt,)? $t> {}
    };
    (@inner Iter $lt:lifetime, $t:ident) => { crate::iter::Range<$lt, $t, ()> };
    (@inner Range $lt:lifetime, $t:ident) => { crate::iter::Range<$lt, $t, ()> };
    (@inner IntoIter $t:ident) => { crate::iter::IntoIter<$t, ()> };
}

/// An iterator over the elements of an [`AvlSet`], in order.
pub struct Iter<'a, T> {
    inner: Keys<'a, T, ()>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    fn nth(&mut self, n: usize) -> Option<&'a T> {
        self.inner.nth(n)
    }

    fn last(mut self) -> Option<&'a T> {
        self.next_back()
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }

    fn nth_back(&mut self, n: usize) -> Option<Self::Item> {
        self.inner.nth_back(n)
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}
impl<T> FusedIterator for Iter<'_, T> {}

impl<T> Clone for Iter<'_, T> {
    fn clone(&self) -> Self {
        Iter {
            inner: self.inner.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

forward_iterator!(
    Range<'a, T>,
    &'a T,
    "An iterator over a range of the elements of an [`AvlSet`], in order."
);
forward_iterator!(
    IntoIter<T>,
    T,
    "An owning iterator over the elements of an [`AvlSet`], in order."
);

impl<T> Clone for Range<'_, T> {
    fn clone(&self) -> Self {
        Range {
            inner: self.inner.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Range<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("remaining", &self.inner.len())
            .finish_non_exhaustive()
    }
}

type Sorted<'a, T> = Peekable<Iter<'a, T>>;

/// Compares the heads of two sorted iterators; `None` when either is done.
fn heads<T: Ord>(a: &mut Sorted<'_, T>, b: &mut Sorted<'_, T>) -> (Option<Ordering>, bool, bool) {
    match (a.peek(), b.peek()) {
        (Some(x), Some(y)) => (Some(x.cmp(y)), false, false),
        (x, y) => (None, x.is_none(), y.is_none()),
    }
}

/// The union of two [`AvlSet`]s, lazily. Created by [`AvlSet::union`].
pub struct Union<'a, T> {
    a: Sorted<'a, T>,
    b: Sorted<'a, T>,
}

impl<'a, T: Ord> Iterator for Union<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match heads(&mut self.a, &mut self.b) {
            (Some(Ordering::Less), ..) => self.a.next(),
            (Some(Ordering::Greater), ..) => self.b.next(),
            (Some(Ordering::Equal), ..) => {
                self.b.next();
                self.a.next()
            }
            (None, _, true) => self.a.next(),
            (None, true, false) => self.b.next(),
            (None, false, false) => unreachable!("heads returns None only when one side is done"),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (a, b) = (self.a.len(), self.b.len());
        (a.max(b), Some(a + b))
    }
}

impl<T: Ord> FusedIterator for Union<'_, T> {}

/// The symmetric difference of two [`AvlSet`]s, lazily. Created by
/// [`AvlSet::symmetric_difference`].
pub struct SymmetricDifference<'a, T> {
    a: Sorted<'a, T>,
    b: Sorted<'a, T>,
}

impl<'a, T: Ord> Iterator for SymmetricDifference<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            match heads(&mut self.a, &mut self.b) {
                (Some(Ordering::Less), ..) => return self.a.next(),
                (Some(Ordering::Greater), ..) => return self.b.next(),
                (Some(Ordering::Equal), ..) => {
                    self.a.next();
                    self.b.next();
                }
                (None, _, true) => return self.a.next(),
                (None, true, false) => return self.b.next(),
                (None, false, false) => {
                    unreachable!("heads returns None only when one side is done")
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.a.len() + self.b.len()))
    }
}

impl<T: Ord> FusedIterator for SymmetricDifference<'_, T> {}

enum IntersectionInner<'a, T> {
    Merge {
        a: Sorted<'a, T>,
        b: Sorted<'a, T>,
    },
    Search {
        small: Iter<'a, T>,
        large: &'a AvlSet<T>,
    },
}

/// The intersection of two [`AvlSet`]s, lazily. Created by
/// [`AvlSet::intersection`].
pub struct Intersection<'a, T> {
    inner: IntersectionInner<'a, T>,
}

impl<'a, T: Ord> Iterator for Intersection<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match &mut self.inner {
            IntersectionInner::Search { small, large } => small.find(|x| large.contains(*x)),
            IntersectionInner::Merge { a, b } => loop {
                match heads(a, b) {
                    (Some(Ordering::Less), ..) => {
                        a.next();
                    }
                    (Some(Ordering::Greater), ..) => {
                        b.next();
                    }
                    (Some(Ordering::Equal), ..) => {
                        b.next();
                        return a.next();
                    }
                    (None, ..) => return None,
                }
            },
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IntersectionInner::Search { small, .. } => (0, Some(small.len())),
            IntersectionInner::Merge { a, b } => (0, Some(a.len().min(b.len()))),
        }
    }
}

impl<T: Ord> FusedIterator for Intersection<'_, T> {}

enum DifferenceInner<'a, T> {
    Merge { a: Sorted<'a, T>, b: Sorted<'a, T> },
    Search { a: Iter<'a, T>, b: &'a AvlSet<T> },
}

/// The difference of two [`AvlSet`]s, lazily. Created by
/// [`AvlSet::difference`].
pub struct Difference<'a, T> {
    inner: DifferenceInner<'a, T>,
}

impl<'a, T: Ord> Iterator for Difference<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match &mut self.inner {
            DifferenceInner::Search { a, b } => a.find(|x| !b.contains(*x)),
            DifferenceInner::Merge { a, b } => loop {
                match heads(a, b) {
                    (Some(Ordering::Less), ..) | (None, _, true) => return a.next(),
                    (Some(Ordering::Greater), ..) => {
                        b.next();
                    }
                    (Some(Ordering::Equal), ..) => {
                        a.next();
                        b.next();
                    }
                    (None, true, false) => return None,
                    (None, false, false) => {
                        unreachable!("heads returns None only when one side is done")
                    }
                }
            },
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            DifferenceInner::Search { a, .. } => (0, Some(a.len())),
            DifferenceInner::Merge { a, .. } => (0, Some(a.len())),
        }
    }
}

impl<T: Ord> FusedIterator for Difference<'_, T> {}

macro_rules! debug_opaque {
    ($($name:ident),*) => {$(
        impl<T> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    )*};
}
debug_opaque!(Union, Intersection, Difference, SymmetricDifference);
