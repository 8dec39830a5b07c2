//! A set of visited nodes that clears in O(1): each node holds the number
//! of the search that last visited it, and a new search takes a new number.

// ANCHOR: visited
/// Visited marks for one search at a time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Visited {
    marks: Vec<u32>,
    generation: u32,
}

impl Visited {
    /// Starts a new search over `nodes` nodes: everything unvisited.
    pub(crate) fn reset(&mut self, nodes: usize) {
        if self.marks.len() < nodes {
            self.marks.resize(nodes, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // After 2^32 searches the marks could collide: clear them once.
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
    }

    /// Marks `node`; returns whether it was unvisited.
    #[inline]
    pub(crate) fn insert(&mut self, node: u32) -> bool {
        let mark = &mut self.marks[node as usize];
        let fresh = *mark != self.generation;
        *mark = self.generation;
        fresh
    }
}
// ANCHOR_END: visited
