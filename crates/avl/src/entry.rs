//! The entry API: look a key up once, then read, insert or remove in place.
//!
//! `BTreeMap`'s entries hold a handle into a node. A handle into a tree of
//! `Box`es would pin a mutable borrow of every ancestor, which safe Rust
//! cannot express; an entry here holds the key's **rank** instead. Subtree
//! sizes lead back to the same place in O(log n) without comparing a single
//! key, so no entry method can run user code or see a different answer.

use std::fmt;

use crate::map::AvlMap;
use crate::ops;

/// A view into a single entry of an [`AvlMap`], vacant or occupied.
///
/// Created by [`AvlMap::entry`].
pub enum Entry<'a, K, V> {
    /// The key is absent.
    Vacant(VacantEntry<'a, K, V>),
    /// The key is present.
    Occupied(OccupiedEntry<'a, K, V>),
}

/// A vacant entry: the key is absent and its place is known.
pub struct VacantEntry<'a, K, V> {
    pub(crate) map: &'a mut AvlMap<K, V>,
    pub(crate) key: K,
    /// The rank the key will have once inserted.
    pub(crate) index: usize,
}

/// An occupied entry: the key is present.
pub struct OccupiedEntry<'a, K, V> {
    pub(crate) map: &'a mut AvlMap<K, V>,
    /// The rank of the key.
    pub(crate) index: usize,
}

impl<'a, K: Ord, V> Entry<'a, K, V> {
    /// The value, inserting `default` first if the key is absent.
    ///
    /// ```
    /// let mut map = avl::AvlMap::new();
    /// *map.entry("a").or_insert(1) += 10;
    /// assert_eq!(map["a"], 11);
    /// ```
    pub fn or_insert(self, default: V) -> &'a mut V {
        match self {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(default),
        }
    }

    /// The value, inserting the result of `default()` first if the key is
    /// absent; `default` runs only then.
    ///
    /// ```
    /// let mut map: avl::AvlMap<&str, Vec<u32>> = avl::AvlMap::new();
    /// map.entry("a").or_insert_with(Vec::new).push(1);
    /// assert_eq!(map["a"], [1]);
    /// ```
    pub fn or_insert_with<F: FnOnce() -> V>(self, default: F) -> &'a mut V {
        match self {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(default()),
        }
    }

    /// Like [`or_insert_with`](Self::or_insert_with), passing the key.
    ///
    /// ```
    /// let mut map = avl::AvlMap::new();
    /// assert_eq!(*map.entry("four").or_insert_with_key(|k| k.len()), 4);
    /// ```
    pub fn or_insert_with_key<F: FnOnce(&K) -> V>(self, default: F) -> &'a mut V {
        match self {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let value = default(&entry.key);
                entry.insert(value)
            }
        }
    }

    /// The key of this entry.
    ///
    /// ```
    /// let mut map: avl::AvlMap<&str, u32> = avl::AvlMap::new();
    /// assert_eq!(map.entry("k").key(), &"k");
    /// ```
    pub fn key(&self) -> &K {
        match self {
            Entry::Occupied(entry) => entry.key(),
            Entry::Vacant(entry) => entry.key(),
        }
    }

    /// Runs `f` on the value if the key is present; returns the entry.
    ///
    /// ```
    /// let mut map = avl::AvlMap::from([("a", 1)]);
    /// map.entry("a").and_modify(|v| *v += 1).or_insert(0);
    /// map.entry("b").and_modify(|v| *v += 1).or_insert(0);
    /// assert_eq!((map["a"], map["b"]), (2, 0));
    /// ```
    pub fn and_modify<F: FnOnce(&mut V)>(self, f: F) -> Self {
        match self {
            Entry::Occupied(mut entry) => {
                f(entry.get_mut());
                Entry::Occupied(entry)
            }
            vacant => vacant,
        }
    }
}

impl<'a, K: Ord, V: Default> Entry<'a, K, V> {
    /// The value, inserting `V::default()` first if the key is absent.
    ///
    /// ```
    /// let mut map: avl::AvlMap<&str, u32> = avl::AvlMap::new();
    /// *map.entry("a").or_default() += 1;
    /// assert_eq!(map["a"], 1);
    /// ```
    pub fn or_default(self) -> &'a mut V {
        self.or_insert_with(V::default)
    }
}

impl<'a, K: Ord, V> VacantEntry<'a, K, V> {
    /// The key that would be inserted.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map: avl::AvlMap<u32, ()> = avl::AvlMap::new();
    /// if let Entry::Vacant(entry) = map.entry(7) {
    ///     assert_eq!(entry.key(), &7);
    /// }
    /// ```
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Takes the key back without inserting.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map: avl::AvlMap<String, ()> = avl::AvlMap::new();
    /// if let Entry::Vacant(entry) = map.entry("k".to_string()) {
    ///     assert_eq!(entry.into_key(), "k");
    /// }
    /// assert!(map.is_empty());
    /// ```
    pub fn into_key(self) -> K {
        self.key
    }

    // ANCHOR: vacant_insert
    /// Inserts `value` under the entry's key, at the remembered rank, and
    /// returns a reference to it. Two descents by size; no key comparisons.
    ///
    /// # Panics
    /// If the map already holds `u32::MAX` entries.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 'a'), (3, 'c')]);
    /// if let Entry::Vacant(entry) = map.entry(2) {
    ///     *entry.insert('x') = 'b';
    /// }
    /// assert_eq!(map.values().collect::<String>(), "abc");
    /// ```
    pub fn insert(self, value: V) -> &'a mut V {
        let VacantEntry { map, key, index } = self;
        assert!(
            map.len() < crate::node::MAX_LEN,
            "an AvlMap holds at most u32::MAX entries"
        );
        ops::insert_at(&mut map.root, index, key, value, &mut map.stats.insert);
        &mut ops::select_mut(&mut map.root, index).value
    }
    // ANCHOR_END: vacant_insert
}

impl<'a, K: Ord, V> OccupiedEntry<'a, K, V> {
    /// The key as stored in the map.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 'a')]);
    /// if let Entry::Occupied(entry) = map.entry(1) {
    ///     assert_eq!(entry.key(), &1);
    /// }
    /// ```
    pub fn key(&self) -> &K {
        &ops::select(&self.map.root, self.index).key
    }

    /// The value.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 'a')]);
    /// if let Entry::Occupied(entry) = map.entry(1) {
    ///     assert_eq!(entry.get(), &'a');
    /// }
    /// ```
    pub fn get(&self) -> &V {
        &ops::select(&self.map.root, self.index).value
    }

    /// The value, mutably, for as long as the entry lives.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 10)]);
    /// if let Entry::Occupied(mut entry) = map.entry(1) {
    ///     *entry.get_mut() += 1;
    /// }
    /// assert_eq!(map[&1], 11);
    /// ```
    pub fn get_mut(&mut self) -> &mut V {
        &mut ops::select_mut(&mut self.map.root, self.index).value
    }

    /// The value, mutably, for as long as the map is borrowed.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 10)]);
    /// let value = match map.entry(1) {
    ///     Entry::Occupied(entry) => entry.into_mut(),
    ///     Entry::Vacant(_) => unreachable!(),
    /// };
    /// *value = 0;
    /// assert_eq!(map[&1], 0);
    /// ```
    pub fn into_mut(self) -> &'a mut V {
        &mut ops::select_mut(&mut self.map.root, self.index).value
    }

    /// Replaces the value and returns the old one.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 'a')]);
    /// if let Entry::Occupied(mut entry) = map.entry(1) {
    ///     assert_eq!(entry.insert('b'), 'a');
    /// }
    /// assert_eq!(map[&1], 'b');
    /// ```
    pub fn insert(&mut self, value: V) -> V {
        std::mem::replace(self.get_mut(), value)
    }

    /// Removes the entry and returns its value.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 'a')]);
    /// if let Entry::Occupied(entry) = map.entry(1) {
    ///     assert_eq!(entry.remove(), 'a');
    /// }
    /// assert!(map.is_empty());
    /// ```
    pub fn remove(self) -> V {
        self.remove_entry().1
    }

    /// Removes the entry and returns the stored key and its value.
    ///
    /// ```
    /// use avl::map::Entry;
    /// let mut map = avl::AvlMap::from([(1, 'a')]);
    /// if let Entry::Occupied(entry) = map.entry(1) {
    ///     assert_eq!(entry.remove_entry(), (1, 'a'));
    /// }
    /// ```
    pub fn remove_entry(self) -> (K, V) {
        self.map.remove_index(self.index)
    }
}

impl<K: fmt::Debug + Ord, V: fmt::Debug> fmt::Debug for Entry<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Vacant(entry) => f.debug_tuple("Entry").field(entry).finish(),
            Entry::Occupied(entry) => f.debug_tuple("Entry").field(entry).finish(),
        }
    }
}

impl<K: fmt::Debug + Ord, V> fmt::Debug for VacantEntry<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VacantEntry").field(self.key()).finish()
    }
}

impl<K: fmt::Debug + Ord, V: fmt::Debug> fmt::Debug for OccupiedEntry<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OccupiedEntry")
            .field("key", self.key())
            .field("value", self.get())
            .finish()
    }
}
