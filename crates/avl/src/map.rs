//! [`AvlMap`]: an ordered map with the `BTreeMap` surface, and its entry and
//! iterator types (as in `std::collections::btree_map`).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Bound, Index, RangeBounds};

pub use crate::entry::{Entry, OccupiedEntry, VacantEntry};
use crate::iter::Pieces;
pub use crate::iter::{
    IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Range, RangeMut, Values, ValuesMut,
};
use crate::join::{self, Keep};
use crate::node::{Link, MAX_LEN, Node, Rotations, build_sorted, height, size};
use crate::ops;

/// An ordered map based on an AVL tree, with the API of
/// [`std::collections::BTreeMap`].
///
/// Each entry lives in its own heap node holding the key, the value, two child
/// pointers, the size of its subtree and its height (40 bytes for `u64` keys
/// and values). Sizes make rank queries ([`rank`](Self::rank),
/// [`select`](Self::select), `iter().nth(i)`) O(log n).
///
/// Capacity: at most `u32::MAX` entries (sizes are stored as `u32`).
///
/// # Example
///
/// ```
/// use avl::AvlMap;
///
/// let mut ages = AvlMap::new();
/// ages.insert("Grace", 85);
/// ages.insert("Alan", 41);
/// ages.insert("Ada", 36);
///
/// assert_eq!(ages.get("Alan"), Some(&41));
/// // Iteration is in key order.
/// assert_eq!(ages.keys().copied().collect::<Vec<_>>(), ["Ada", "Alan", "Grace"]);
/// // Order statistics: "Alan" has one key before it.
/// assert_eq!(ages.rank("Alan"), 1);
/// assert_eq!(ages.select(2), Some((&"Grace", &85)));
/// ages.check_invariants()?;
/// # Ok::<(), avl::InvariantViolation>(())
/// ```
pub struct AvlMap<K, V> {
    pub(crate) root: Link<K, V>,
    pub(crate) stats: RotationStats,
}

/// Rotations performed since the map was created (or the counters reset), by
/// operation.
///
/// Instrumentation for teaching and for the tests: an insertion performs at
/// most one rotation (single or double), a deletion may cascade up to the
/// root, and join-based bulk operations rotate along one spine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RotationStats {
    /// Rotations during insertions (`insert`, `entry(..).or_insert`, `extend`).
    pub insert: Rotations,
    /// Rotations during removals (`remove`, `pop_first`, entry `remove`).
    pub remove: Rotations,
    /// Rotations during join-based operations (`append`, `split_off`,
    /// `retain` and the set operations).
    pub join: Rotations,
}

impl<K, V> AvlMap<K, V> {
    /// Bytes of one heap node, which holds one entry: key, value, two child
    /// pointers, a `u32` size and a `u8` height, padded to alignment. The
    /// allocator may round each allocation up further.
    ///
    /// ```
    /// assert_eq!(avl::AvlMap::<u64, u64>::NODE_BYTES, 40);
    /// ```
    pub const NODE_BYTES: usize = std::mem::size_of::<Node<K, V>>();

    /// Makes a new, empty map. Does not allocate.
    ///
    /// ```
    /// let map: avl::AvlMap<u32, &str> = avl::AvlMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub const fn new() -> Self {
        AvlMap {
            root: None,
            stats: RotationStats {
                insert: Rotations {
                    single: 0,
                    double: 0,
                },
                remove: Rotations {
                    single: 0,
                    double: 0,
                },
                join: Rotations {
                    single: 0,
                    double: 0,
                },
            },
        }
    }

    /// The number of entries. O(1): it is the root's stored subtree size.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(1, 'a'), (2, 'b')]);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        size(&self.root)
    }

    /// Whether the map has no entries.
    ///
    /// ```
    /// let mut map = avl::AvlMap::new();
    /// assert!(map.is_empty());
    /// map.insert(1, "a");
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// Removes every entry.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(1, "a")]);
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.root = None;
    }

    /// The number of levels of the tree: 0 when empty, 1 for a single entry.
    ///
    /// An AVL tree with n entries has height below 1.4405·log₂(n + 2) − 0.3277.
    ///
    /// ```
    /// let map: avl::AvlMap<u32, ()> = (0..1000).map(|k| (k, ())).collect();
    /// assert_eq!(map.height(), 10); // built perfectly balanced from sorted input
    /// let bound = 1.4405 * ((map.len() + 2) as f64).log2() - 0.3277;
    /// assert!((map.height() as f64) < bound);
    /// ```
    pub fn height(&self) -> usize {
        usize::from(height(&self.root))
    }

    /// Rotations performed so far, by operation.
    ///
    /// ```
    /// let mut map = avl::AvlMap::new();
    /// for k in [3, 2, 1] {
    ///     map.insert(k, ());
    /// }
    /// // Inserting 1 under 2 under 3 is the LL case: one single rotation.
    /// assert_eq!(map.rotation_stats().insert.single, 1);
    /// ```
    pub fn rotation_stats(&self) -> RotationStats {
        self.stats
    }

    /// Sets the rotation counters back to zero.
    ///
    /// ```
    /// let mut map: avl::AvlMap<u32, ()> = avl::AvlMap::new();
    /// map.extend((0..100).map(|k| (k, ())));
    /// map.reset_rotation_stats();
    /// assert_eq!(map.rotation_stats(), avl::RotationStats::default());
    /// ```
    pub fn reset_rotation_stats(&mut self) {
        self.stats = RotationStats::default();
    }

    /// The entry with the smallest key.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.first_key_value(), Some((&1, &'a')));
    /// ```
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        join::first(&self.root).map(|node| (&node.key, &node.value))
    }

    /// The entry with the largest key.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.last_key_value(), Some((&2, &'b')));
    /// ```
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        join::last(&self.root).map(|node| (&node.key, &node.value))
    }

    /// Removes and returns the entry with the smallest key. Never compares keys.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.pop_first(), Some((1, 'a')));
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        Some(self.remove_index(0))
    }

    /// Removes and returns the entry with the largest key. Never compares keys.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.pop_last(), Some((2, 'b')));
    /// ```
    pub fn pop_last(&mut self) -> Option<(K, V)> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        Some(self.remove_index(len - 1))
    }

    /// The entry with exactly `index` smaller keys (the `index`-th smallest,
    /// counting from 0), in O(log n). `None` if `index >= len()`.
    ///
    /// ```
    /// let map: avl::AvlMap<u32, char> = [(10, 'a'), (20, 'b'), (30, 'c')].into();
    /// assert_eq!(map.select(1), Some((&20, &'b')));
    /// assert_eq!(map.select(3), None);
    /// ```
    pub fn select(&self, index: usize) -> Option<(&K, &V)> {
        if index >= self.len() {
            return None;
        }
        let node = ops::select(&self.root, index);
        Some((&node.key, &node.value))
    }

    /// Like [`select`](Self::select), with a mutable value.
    ///
    /// ```
    /// let mut map: avl::AvlMap<u32, char> = [(10, 'a'), (20, 'b')].into();
    /// if let Some((_, v)) = map.select_mut(0) {
    ///     *v = 'z';
    /// }
    /// assert_eq!(map[&10], 'z');
    /// ```
    pub fn select_mut(&mut self, index: usize) -> Option<(&K, &mut V)> {
        if index >= self.len() {
            return None;
        }
        let node = ops::select_mut(&mut self.root, index);
        Some((&node.key, &mut node.value))
    }

    /// An iterator over the entries in key order.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(3, 'c'), (1, 'a'), (2, 'b')]);
    /// let entries: Vec<_> = map.iter().collect();
    /// assert_eq!(entries, [(&1, &'a'), (&2, &'b'), (&3, &'c')]);
    /// // Skipping ahead is O(log n): the sizes say where the 2nd entry is.
    /// assert_eq!(map.iter().nth(2), Some((&3, &'c')));
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(&self.root, 0, self.len())
    }

    /// A mutable iterator over the entries in key order.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(1, 10), (2, 20)]);
    /// for (_, v) in map.iter_mut() {
    ///     *v += 1;
    /// }
    /// assert_eq!(map[&2], 21);
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut {
            inner: Pieces::all(self.root.as_deref_mut()),
        }
    }

    /// An iterator over the keys, in order.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.keys().collect::<Vec<_>>(), [&1, &2]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// An iterator over the values, in key order.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.values().collect::<String>(), "ab");
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// A mutable iterator over the values, in key order.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(1, String::from("a"))]);
    /// for v in map.values_mut() {
    ///     v.push('!');
    /// }
    /// assert_eq!(map[&1], "a!");
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut {
            inner: Pieces::all(self.root.as_deref_mut()),
        }
    }

    /// Consumes the map into an iterator over its keys, in order.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.into_keys().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn into_keys(self) -> IntoKeys<K, V> {
        IntoKeys {
            inner: Pieces::all(self.root),
        }
    }

    /// Consumes the map into an iterator over its values, in key order.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(2, 'b'), (1, 'a')]);
    /// assert_eq!(map.into_values().collect::<String>(), "ab");
    /// ```
    pub fn into_values(self) -> IntoValues<K, V> {
        IntoValues {
            inner: Pieces::all(self.root),
        }
    }

    /// Removes the entry of rank `index` without comparing keys.
    pub(crate) fn remove_index(&mut self, index: usize) -> (K, V) {
        let node = ops::remove_at(&mut self.root, index, &mut self.stats.remove);
        let Node { key, value, .. } = *node;
        (key, value)
    }

    // ANCHOR: retain
    /// Keeps only the entries for which `keep` returns `true`, visiting them
    /// in key order. O(n), using join to rebuild.
    ///
    /// If `keep` panics, every entry stays in the map (values it already
    /// changed through `&mut V` stay changed): the predicate runs over every
    /// entry first, and only then is the tree rebuilt.
    ///
    /// ```
    /// let mut map: avl::AvlMap<u32, u32> = (0..8).map(|k| (k, k * 10)).collect();
    /// map.retain(|&k, _| k % 2 == 0);
    /// assert_eq!(map.keys().copied().collect::<Vec<_>>(), [0, 2, 4, 6]);
    /// map.check_invariants()?;
    /// # Ok::<(), avl::InvariantViolation>(())
    /// ```
    pub fn retain<F>(&mut self, mut keep: F)
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        let flags: Vec<bool> = self.iter_mut().map(|(k, v)| keep(k, v)).collect();
        if flags.iter().all(|&kept| kept) {
            return;
        }
        let root = self.root.take();
        self.root = join::filter(root, &mut flags.into_iter(), &mut self.stats.join);
    }
    // ANCHOR_END: retain
}

impl<K: Ord, V> AvlMap<K, V> {
    /// The value for `key`, if present.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(1, "a")]);
    /// assert_eq!(map.get(&1), Some(&"a"));
    /// assert_eq!(map.get(&2), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        ops::find(&self.root, key).map(|node| &node.value)
    }

    /// The stored key and the value for `key`, if present.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(String::from("k"), 1)]);
    /// assert_eq!(map.get_key_value("k"), Some((&String::from("k"), &1)));
    /// ```
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        ops::find(&self.root, key).map(|node| (&node.key, &node.value))
    }

    /// A mutable reference to the value for `key`, if present.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(1, "a")]);
    /// if let Some(v) = map.get_mut(&1) {
    ///     *v = "b";
    /// }
    /// assert_eq!(map[&1], "b");
    /// ```
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        ops::find_mut(&mut self.root, key).map(|node| &mut node.value)
    }

    /// Whether the map holds `key`.
    ///
    /// ```
    /// let map = avl::AvlMap::from([(1, "a")]);
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        ops::find(&self.root, key).is_some()
    }

    /// Inserts `key → value`. Returns the old value if the key was present
    /// (the stored key is then kept, as in `BTreeMap`), else `None`.
    ///
    /// An insertion rotates at most once (single or double).
    ///
    /// # Panics
    /// If the map already holds `u32::MAX` entries and `key` is new.
    ///
    /// ```
    /// let mut map = avl::AvlMap::new();
    /// assert_eq!(map.insert(37, "a"), None);
    /// assert_eq!(map.insert(37, "b"), Some("a"));
    /// assert_eq!(map[&37], "b");
    /// ```
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.len() == MAX_LEN && !self.contains_key(&key) {
            panic!("an AvlMap holds at most u32::MAX entries");
        }
        ops::insert(&mut self.root, key, value, &mut self.stats.insert)
    }

    /// Removes `key` and returns its value, if present.
    ///
    /// A removal may rotate at every level on the way back to the root.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(1, "a")]);
    /// assert_eq!(map.remove(&1), Some("a"));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.remove_entry(key).map(|(_, value)| value)
    }

    /// Removes `key` and returns the stored key and its value, if present.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([(1, "a")]);
    /// assert_eq!(map.remove_entry(&1), Some((1, "a")));
    /// ```
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let node = ops::remove(&mut self.root, key, &mut self.stats.remove)?;
        let Node { key, value, .. } = *node;
        Some((key, value))
    }

    /// The entry for `key`, for in-place manipulation.
    ///
    /// The entry remembers the key's *rank*, so its methods find the place
    /// again through subtree sizes without comparing keys.
    ///
    /// ```
    /// let mut counts = avl::AvlMap::new();
    /// for word in "the cat saw the dog".split(' ') {
    ///     *counts.entry(word).or_insert(0) += 1;
    /// }
    /// assert_eq!(counts["the"], 2);
    /// ```
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let (index, found) = ops::rank(&self.root, &key);
        if found {
            Entry::Occupied(OccupiedEntry { map: self, index })
        } else {
            Entry::Vacant(VacantEntry {
                map: self,
                key,
                index,
            })
        }
    }

    /// The number of keys less than `key`, in O(log n). Whether `key` is
    /// present or not does not matter: this is where it is or would be.
    ///
    /// ```
    /// let map: avl::AvlMap<u32, ()> = [10, 20, 30].map(|k| (k, ())).into();
    /// assert_eq!(map.rank(&20), 1);
    /// assert_eq!(map.rank(&25), 2);
    /// assert_eq!(map.select(map.rank(&20)).map(|(k, _)| *k), Some(20));
    /// ```
    pub fn rank<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        ops::rank(&self.root, key).0
    }

    /// Translates a range of keys into a range of ranks, with `BTreeMap`'s
    /// panics.
    fn rank_range<Q, R>(&self, range: &R) -> (usize, usize)
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        use Bound::{Excluded, Included, Unbounded};
        match (range.start_bound(), range.end_bound()) {
            (Excluded(start), Excluded(end)) if start == end => {
                panic!("range start and end are equal and excluded in AvlMap")
            }
            (Included(start) | Excluded(start), Included(end) | Excluded(end)) if start > end => {
                panic!("range start is greater than range end in AvlMap")
            }
            _ => {}
        }
        let at_or_after = |key: &Q, inclusive: bool| {
            let (less, found) = ops::rank(&self.root, key);
            if found && !inclusive { less + 1 } else { less }
        };
        let start = match range.start_bound() {
            Unbounded => 0,
            Included(key) => at_or_after(key, true),
            Excluded(key) => at_or_after(key, false),
        };
        let end = match range.end_bound() {
            Unbounded => self.len(),
            Included(key) => at_or_after(key, false),
            Excluded(key) => at_or_after(key, true),
        };
        (start, end.max(start))
    }

    /// An iterator over the entries whose keys lie in `range`, in key order.
    /// Positioning costs O(log n); each step O(1) amortized.
    ///
    /// # Panics
    /// If the range's start is greater than its end, or if both are equal and
    /// excluded, as documented for `BTreeMap::range`. (`BTreeMap` skips the
    /// check when it has never allocated a node; this map always checks.)
    ///
    /// ```
    /// use std::ops::Bound::{Excluded, Included};
    ///
    /// let map: avl::AvlMap<u32, char> = [(1, 'a'), (3, 'c'), (5, 'e'), (7, 'g')].into();
    /// let keys: Vec<_> = map.range(2..=5).map(|(k, _)| *k).collect();
    /// assert_eq!(keys, [3, 5]);
    /// assert_eq!(map.range((Excluded(1), Included(3))).count(), 1);
    /// ```
    pub fn range<Q, R>(&self, range: R) -> Range<'_, K, V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        let (start, end) = self.rank_range(&range);
        Range {
            inner: Iter::new(&self.root, start, end),
        }
    }

    /// A mutable iterator over the entries whose keys lie in `range`.
    ///
    /// # Panics
    /// As [`range`](Self::range).
    ///
    /// ```
    /// let mut map: avl::AvlMap<u32, u32> = (0..10).map(|k| (k, 0)).collect();
    /// for (_, v) in map.range_mut(4..6) {
    ///     *v = 1;
    /// }
    /// assert_eq!(map.values().sum::<u32>(), 2);
    /// ```
    pub fn range_mut<Q, R>(&mut self, range: R) -> RangeMut<'_, K, V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        let (start, end) = self.rank_range(&range);
        RangeMut {
            inner: Pieces::range(self.root.as_deref_mut(), start, end),
        }
    }

    /// Moves every entry of `other` into `self`, leaving `other` empty. For a
    /// key in both, the entry from `other` wins (as in `BTreeMap::append`).
    ///
    /// When all keys of one map precede all keys of the other this is a
    /// single join, O(log n); otherwise a join-based union,
    /// O(m·log(n/m + 1)) for sizes m ≤ n.
    ///
    /// # Panics
    /// If the two maps together hold more than `u32::MAX` entries. If `K`'s
    /// `Ord` panics during an overlapping union, both maps are left empty but
    /// valid (the entries in flight are dropped).
    ///
    /// ```
    /// let mut a = avl::AvlMap::from([(1, 'a'), (2, 'b')]);
    /// let mut b = avl::AvlMap::from([(2, 'B'), (3, 'C')]);
    /// a.append(&mut b);
    /// assert!(b.is_empty());
    /// assert_eq!(a.into_iter().collect::<Vec<_>>(), [(1, 'a'), (2, 'B'), (3, 'C')]);
    /// ```
    pub fn append(&mut self, other: &mut Self) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            std::mem::swap(&mut self.root, &mut other.root);
            return;
        }
        assert!(
            self.len() + other.len() <= MAX_LEN,
            "an AvlMap holds at most u32::MAX entries"
        );
        // Comparisons before anything moves.
        let self_first = join::precedes(&self.root, &other.root);
        let other_first = !self_first && join::precedes(&other.root, &self.root);
        // From here on, the entries are out of both maps: a panic leaves both
        // empty and valid.
        let (a, b) = (self.root.take(), other.root.take());
        let rotations = &mut self.stats.join;
        self.root = if self_first {
            join::join2(a, b, rotations)
        } else if other_first {
            join::join2(b, a, rotations)
        } else {
            join::union(a, b, Keep::Second, rotations)
        };
    }

    /// Splits the map in two at `key`: returns everything from `key` on
    /// (including `key`), keeping the smaller keys in `self`. O(log n).
    ///
    /// The only key comparisons are those of one [`rank`](Self::rank); the
    /// split itself goes by rank, so a panicking `Ord` cannot interrupt it.
    ///
    /// ```
    /// let mut a: avl::AvlMap<u32, ()> = (0..10).map(|k| (k, ())).collect();
    /// let b = a.split_off(&6);
    /// assert_eq!(a.len(), 6);
    /// assert_eq!(b.keys().copied().collect::<Vec<_>>(), [6, 7, 8, 9]);
    /// ```
    pub fn split_off<Q>(&mut self, key: &Q) -> Self
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (index, _) = ops::rank(&self.root, key);
        let (left, right) = join::split_at(self.root.take(), index, &mut self.stats.join);
        self.root = left;
        AvlMap {
            root: right,
            stats: RotationStats::default(),
        }
    }

    /// Builds a map from entries sorted by key, without duplicates, in O(n).
    fn from_sorted_vec(entries: Vec<(K, V)>) -> Self {
        assert!(
            entries.len() <= MAX_LEN,
            "an AvlMap holds at most u32::MAX entries"
        );
        let len = entries.len();
        AvlMap {
            root: build_sorted(&mut entries.into_iter(), len),
            stats: RotationStats::default(),
        }
    }
}

impl<K, V> Default for AvlMap<K, V> {
    /// An empty map.
    fn default() -> Self {
        AvlMap::new()
    }
}

impl<K: Clone, V: Clone> Clone for AvlMap<K, V> {
    /// Copies the tree node for node: same shape, same counters.
    fn clone(&self) -> Self {
        AvlMap {
            root: self.root.clone(),
            stats: self.stats,
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for AvlMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Maps are equal when they hold the same entries; shape and rotation
/// counters do not matter.
impl<K: PartialEq, V: PartialEq> PartialEq for AvlMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: Eq, V: Eq> Eq for AvlMap<K, V> {}

impl<K: PartialOrd, V: PartialOrd> PartialOrd for AvlMap<K, V> {
    /// Lexicographic order of the entry sequences, as for `BTreeMap`.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.iter().partial_cmp(other.iter())
    }
}

impl<K: Ord, V: Ord> Ord for AvlMap<K, V> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl<K: Hash, V: Hash> Hash for AvlMap<K, V> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for entry in self {
            entry.hash(state);
        }
    }
}

impl<K, Q, V> Index<&Q> for AvlMap<K, V>
where
    K: Borrow<Q> + Ord,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// The value for `key`.
    ///
    /// # Panics
    /// If the key is not present.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for AvlMap<K, V> {
    /// Collects, sorts (stably) and deduplicates the entries, keeping the
    /// last entry for a repeated key (as `BTreeMap` does), then builds a
    /// perfectly balanced tree in O(n) without rotations.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(K, V)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            match unique.last_mut() {
                Some(last) if last.0 == key => *last = (key, value),
                _ => unique.push((key, value)),
            }
        }
        AvlMap::from_sorted_vec(unique)
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for AvlMap<K, V> {
    /// ```
    /// let map = avl::AvlMap::from([(1, 2), (3, 4)]);
    /// assert_eq!(map.len(), 2);
    /// ```
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Ord, V> Extend<(K, V)> for AvlMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<'a, K: Ord + Copy + 'a, V: Copy + 'a> Extend<(&'a K, &'a V)> for AvlMap<K, V> {
    fn extend<I: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: I) {
        self.extend(iter.into_iter().map(|(&key, &value)| (key, value)));
    }
}

impl<K, V> IntoIterator for AvlMap<K, V> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    fn into_iter(self) -> IntoIter<K, V> {
        IntoIter {
            inner: Pieces::all(self.root),
        }
    }
}

impl<'a, K, V> IntoIterator for &'a AvlMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut AvlMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}
