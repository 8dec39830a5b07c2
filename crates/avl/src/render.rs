//! Drawing trees: ASCII for tests and terminals, SVG for the book.
//!
//! Both drawings come from a [`Shape`]: the tree's structure with one label
//! per node, copied out of an [`AvlMap`](crate::AvlMap), an
//! [`AvlSet`](crate::AvlSet) or a [`Bst`](crate::Bst). Layout is by in-order
//! position, so a node's column says where its key sits in sorted order, and
//! nothing is measured from fonts: the same tree gives the same bytes on
//! every machine.
//!
//! Building a shape and laying it out use explicit stacks, not recursion, so a
//! degenerate tree of any depth draws without overflowing the call stack.

use std::fmt::Write as _;

/// Horizontal distance between in-order neighbours in SVG drawings, in pixels.
const SVG_DX: i64 = 36;
/// Vertical distance between levels in SVG drawings, in pixels.
const SVG_DY: i64 = 56;
/// Radius of a node's circle in SVG drawings, in pixels.
const SVG_R: i64 = 15;

/// The structure of a binary tree with a text label per node.
///
/// ```
/// let map: avl::AvlMap<u32, ()> = (1..=3).map(|k| (k, ())).collect();
/// let shape = map.shape();
/// assert_eq!(shape.len(), 3);
/// assert_eq!(shape.height(), 2);
/// print!("{}", shape.to_ascii());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    nodes: Vec<ShapeNode>,
    root: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ShapeNode {
    label: String,
    children: [Option<usize>; 2],
}

/// Where a node was placed: column (in characters or grid units) and depth.
struct Placed {
    start: usize,
    width: usize,
    depth: usize,
}

impl Placed {
    fn center(&self) -> usize {
        self.start + (self.width - 1) / 2
    }
}

impl Shape {
    /// Copies the shape of a tree given its root, a way to reach a node's
    /// children and a way to label a node.
    pub(crate) fn from_tree<'a, N: 'a>(
        root: Option<&'a N>,
        children: impl Fn(&'a N) -> [Option<&'a N>; 2],
        label: impl Fn(&'a N) -> String,
    ) -> Shape {
        let mut shape = Shape {
            nodes: Vec::new(),
            root: None,
        };
        // (node, parent index and side)
        let mut stack: Vec<(&'a N, Option<(usize, usize)>)> =
            root.into_iter().map(|r| (r, None)).collect();
        while let Some((node, parent)) = stack.pop() {
            let index = shape.nodes.len();
            shape.nodes.push(ShapeNode {
                label: label(node),
                children: [None, None],
            });
            match parent {
                None => shape.root = Some(index),
                Some((parent, side)) => shape.nodes[parent].children[side] = Some(index),
            }
            for (side, child) in children(node).into_iter().enumerate().rev() {
                if let Some(child) = child {
                    stack.push((child, Some((index, side))));
                }
            }
        }
        shape
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of levels: 0 for an empty tree.
    pub fn height(&self) -> usize {
        self.in_order()
            .iter()
            .map(|&(_, depth)| depth + 1)
            .max()
            .unwrap_or(0)
    }

    /// Node indices with their depths, in order (explicit stack).
    fn in_order(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = Vec::new();
        let mut current = self.root.map(|r| (r, 0));
        loop {
            while let Some((index, depth)) = current {
                stack.push((index, depth));
                current = self.nodes[index].children[0].map(|c| (c, depth + 1));
            }
            let Some((index, depth)) = stack.pop() else {
                break;
            };
            out.push((index, depth));
            current = self.nodes[index].children[1].map(|c| (c, depth + 1));
        }
        out
    }

    /// Heights of every node's subtree, by node index (children before
    /// parents: reverse pre-order, which is how nodes were numbered).
    fn subtree_heights(&self) -> Vec<usize> {
        let mut heights = vec![0; self.nodes.len()];
        for index in (0..self.nodes.len()).rev() {
            let child_height = |c: Option<usize>| c.map_or(0, |c| heights[c]);
            let [left, right] = self.nodes[index].children;
            heights[index] = 1 + child_height(left).max(child_height(right));
        }
        heights
    }

    /// `height(right) − height(left)` of every node, by node index.
    fn balance_factors(&self) -> Vec<i64> {
        let heights = self.subtree_heights();
        self.nodes
            .iter()
            .map(|node| {
                let h = |c: Option<usize>| c.map_or(0, |c| heights[c] as i64);
                h(node.children[1]) - h(node.children[0])
            })
            .collect()
    }

    /// How many nodes have each balance factor (height of the right subtree
    /// minus height of the left).
    ///
    /// ```
    /// let chain = avl::Bst::from_keys([1, 2, 3]).shape();
    /// let counts = chain.balance_factor_counts();
    /// assert_eq!(counts[&2], 1); // the root
    /// assert_eq!(counts[&1], 1);
    /// assert_eq!(counts[&0], 1); // the leaf
    /// ```
    pub fn balance_factor_counts(&self) -> std::collections::BTreeMap<i64, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for balance in self.balance_factors() {
            *counts.entry(balance).or_insert(0) += 1;
        }
        counts
    }

    /// How many nodes have 0, 1 and 2 children.
    ///
    /// ```
    /// let counts = avl::Bst::from_keys([2, 1]).shape().child_counts();
    /// assert_eq!((counts[&0], counts[&1]), (1, 1));
    /// ```
    pub fn child_counts(&self) -> std::collections::BTreeMap<usize, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for node in &self.nodes {
            *counts
                .entry(node.children.iter().flatten().count())
                .or_insert(0) += 1;
        }
        counts
    }

    /// Checks the AVL balance rule (invariant 4) on this shape, whatever tree
    /// it came from, and names the first node (in key order) that breaks it.
    /// This is how the book tests trees that an [`AvlMap`](crate::AvlMap)
    /// could never hold.
    ///
    /// ```
    /// use avl::{Bst, InvariantViolation};
    ///
    /// assert!(Bst::from_keys([2, 1, 3]).shape().check_avl_balance().is_ok());
    /// let err = Bst::from_keys([1, 2, 3]).shape().check_avl_balance().unwrap_err();
    /// assert!(matches!(err, InvariantViolation::Balance { left_height: 0, right_height: 2, .. }));
    /// ```
    pub fn check_avl_balance(&self) -> Result<(), crate::InvariantViolation> {
        let heights = self.subtree_heights();
        let height_of = |c: Option<usize>| c.map_or(0, |c| heights[c]);
        let paths = self.paths();
        for (rank, (index, _)) in self.in_order().into_iter().enumerate() {
            let [left, right] = self.nodes[index].children;
            let (left_height, right_height) = (height_of(left), height_of(right));
            if left_height.abs_diff(right_height) > 1 {
                return Err(crate::InvariantViolation::Balance {
                    node: crate::NodeId {
                        rank,
                        path: paths[index].clone(),
                    },
                    left_height,
                    right_height,
                });
            }
        }
        Ok(())
    }

    /// The `L`/`R` path from the root to every node, by node index (parents
    /// are numbered before their children).
    fn paths(&self) -> Vec<String> {
        let mut paths = vec![String::new(); self.nodes.len()];
        for index in 0..self.nodes.len() {
            for (side, child) in self.nodes[index].children.into_iter().enumerate() {
                if let Some(child) = child {
                    paths[child] = format!("{}{}", paths[index], if side == 0 { 'L' } else { 'R' });
                }
            }
        }
        paths
    }

    /// Places every node: in-order columns, `gap` apart, `width_of` wide.
    fn place(&self, width_of: impl Fn(&ShapeNode) -> usize, gap: usize) -> Vec<Placed> {
        let mut placed: Vec<Placed> = (0..self.nodes.len())
            .map(|_| Placed {
                start: 0,
                width: 1,
                depth: 0,
            })
            .collect();
        let mut column = 0;
        for (index, depth) in self.in_order() {
            let width = width_of(&self.nodes[index]).max(1);
            placed[index] = Placed {
                start: column,
                width,
                depth,
            };
            column += width + gap;
        }
        placed
    }

    // ANCHOR: to_ascii
    /// Draws the tree top-down with `_`, `/` and `\` connectors, one label per
    /// node, each in its own column in key order.
    ///
    /// ```
    /// let mut map = avl::AvlMap::new();
    /// for k in [3, 2, 1] {
    ///     map.insert(k, ());
    /// }
    /// assert_eq!(map.to_ascii(), " _2_\n/   \\\n1   3\n");
    /// ```
    pub fn to_ascii(&self) -> String {
        let placed = self.place(|node| node.label.chars().count(), 1);
        let depth = self.height();
        let width = placed.iter().map(|p| p.start + p.width).max().unwrap_or(0);
        // Two text rows per level: labels, then connectors.
        let mut rows = vec![vec![' '; width]; 2 * depth];
        for (index, node) in self.nodes.iter().enumerate() {
            let p = &placed[index];
            let row = 2 * p.depth;
            for (offset, ch) in node.label.chars().enumerate() {
                rows[row][p.start + offset] = ch;
            }
            if let Some(left) = node.children[0] {
                let child = placed[left].center();
                rows[row][child + 1..p.start].fill('_');
                rows[row + 1][child] = '/';
            }
            if let Some(right) = node.children[1] {
                let child = placed[right].center();
                rows[row][p.start + p.width..child].fill('_');
                rows[row + 1][child] = '\\';
            }
        }
        let mut out = String::new();
        for row in rows {
            let line: String = row.into_iter().collect();
            let line = line.trim_end();
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
    // ANCHOR_END: to_ascii

    /// Draws the tree as a standalone SVG image: circles labelled with the
    /// keys, each annotated with its balance factor (height of the right
    /// subtree minus height of the left). Nodes whose balance factor breaks
    /// the AVL rule are drawn in red.
    ///
    /// ```
    /// let map: avl::AvlMap<u32, ()> = (1..=3).map(|k| (k, ())).collect();
    /// let svg = map.shape().to_svg();
    /// assert!(svg.starts_with("<svg"));
    /// assert_eq!(svg.matches("<circle").count(), 3);
    /// ```
    pub fn to_svg(&self) -> String {
        svg_row(&[("", self)], "")
    }

    /// Width and height of this tree's drawing, in pixels.
    fn svg_size(&self) -> (i64, i64) {
        let columns = self.len() as i64;
        let levels = self.height() as i64;
        (
            2 * (SVG_R + 6) + SVG_DX * (columns - 1).max(0),
            2 * (SVG_R + 6) + SVG_DY * (levels - 1).max(0),
        )
    }

    /// Appends this tree's SVG elements at offset (`x0`, `y0`).
    fn svg_elements(&self, out: &mut String, x0: i64, y0: i64) {
        const DX: i64 = SVG_DX;
        const DY: i64 = SVG_DY;
        const R: i64 = SVG_R;
        let placed = self.place(|_| 1, 0);
        let balance = self.balance_factors();
        let center = |index: usize| {
            let p = &placed[index];
            (
                x0 + R + 6 + DX * p.start as i64,
                y0 + R + 6 + DY * p.depth as i64,
            )
        };
        for (index, node) in self.nodes.iter().enumerate() {
            let (x1, y1) = center(index);
            for child in node.children.into_iter().flatten() {
                let (x2, y2) = center(child);
                let _ = writeln!(
                    out,
                    r##"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#444" stroke-width="1.5"/>"##
                );
            }
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let (x, y) = center(index);
            let (fill, stroke) = if balance[index].abs() > 1 {
                ("#fde2e1", "#c0392b")
            } else {
                ("#e8f1fb", "#2c5d8f")
            };
            let label = escape(&node.label);
            let bf = match balance[index] {
                b if b > 0 => format!("+{b}"),
                b => b.to_string(),
            };
            let _ = writeln!(
                out,
                r##"<circle cx="{x}" cy="{y}" r="{R}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"##
            );
            let _ = writeln!(
                out,
                r##"<text x="{x}" y="{}" font-family="sans-serif" font-size="13" text-anchor="middle">{label}</text>"##,
                y + 4
            );
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}" font-family="sans-serif" font-size="10" fill="{stroke}">{bf}</text>"##,
                x + R - 2,
                y - R + 2
            );
        }
    }
}

impl<K: std::fmt::Display, V> crate::AvlMap<K, V> {
    /// The shape of the tree, labelled with the keys, for drawing.
    ///
    /// ```
    /// let map: avl::AvlMap<u32, ()> = (0..7).map(|k| (k, ())).collect();
    /// assert_eq!(map.shape().height(), 3);
    /// ```
    pub fn shape(&self) -> Shape {
        Shape::from_tree(
            self.root.as_deref(),
            |node| [node.children[0].as_deref(), node.children[1].as_deref()],
            |node| node.key.to_string(),
        )
    }

    /// The tree drawn in ASCII, top-down (see [`Shape::to_ascii`]).
    ///
    /// ```
    /// let map: avl::AvlMap<u32, ()> = (1..=3).map(|k| (k, ())).collect();
    /// assert_eq!(map.to_ascii(), " _2_\n/   \\\n1   3\n");
    /// ```
    pub fn to_ascii(&self) -> String {
        self.shape().to_ascii()
    }

    /// The tree drawn as an SVG image (see [`Shape::to_svg`]).
    ///
    /// ```
    /// let map = avl::AvlMap::from([(1, ())]);
    /// assert!(map.to_svg().contains("<circle"));
    /// ```
    pub fn to_svg(&self) -> String {
        self.shape().to_svg()
    }
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Draws several trees side by side in one SVG image, each with a caption
/// under it, and an optional title on top. Used for the book's diagrams
/// (a tree before and after a rotation, Fibonacci trees of growing height).
///
/// ```
/// let before = avl::Bst::from_keys([3, 2, 1]);
/// let after: avl::AvlSet<u32> = [3, 2, 1].into_iter().collect();
/// let svg = avl::render::svg_row(&[("before", &before.shape()), ("after", &after.shape())], "LL case");
/// assert!(svg.contains("before") && svg.contains("LL case"));
/// ```
pub fn svg_row(panels: &[(&str, &Shape)], title: &str) -> String {
    const GAP: i64 = 40;
    const CAPTION: i64 = 30;
    // Text is never measured from a font (the same bytes on every machine):
    // widths are estimated at a fixed 7.5 px per character of 13 px text.
    let text_width = |text: &str, size: i64| text.chars().count() as i64 * size * 58 / 100;
    let top = if title.is_empty() { 8 } else { 34 };
    // Lay the panels out first: each is as wide as its tree or its caption.
    let mut body = String::new();
    let mut x = GAP / 2;
    let mut tallest = 0;
    let mut captions = Vec::new();
    for (caption, shape) in panels {
        let (tree_width, tree_height) = shape.svg_size();
        let width = tree_width.max(text_width(caption, 13));
        shape.svg_elements(&mut body, x + (width - tree_width) / 2, top);
        captions.push((x + width / 2, *caption));
        x += width + GAP;
        tallest = tallest.max(tree_height);
    }
    let width = (x - GAP / 2).max(text_width(title, 15) + GAP);
    let caption_y = top + tallest + 18;
    for (center, caption) in captions {
        if !caption.is_empty() {
            let _ = writeln!(
                body,
                r##"<text x="{center}" y="{caption_y}" font-family="sans-serif" font-size="13" text-anchor="middle" fill="#222">{}</text>"##,
                escape(caption)
            );
        }
    }
    let total_height = top + tallest + CAPTION;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{total_height}\" viewBox=\"0 0 {width} {total_height}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    if !title.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="22" font-family="sans-serif" font-size="15" font-weight="bold" text-anchor="middle" fill="#222">{}</text>"##,
            width / 2,
            escape(title)
        );
    }
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use crate::Bst;

    #[test]
    fn ascii_of_a_degenerate_tree_of_any_depth_does_not_recurse() {
        let bst = Bst::from_keys(0..5_000u32);
        let shape = bst.shape();
        assert_eq!(shape.height(), 5_000);
        // Only the first few rows: the drawing itself is wide.
        let ascii = Bst::from_keys(0..4u32).shape().to_ascii();
        assert_eq!(ascii, "0_\n  \\\n  1_\n    \\\n    2_\n      \\\n      3\n");
    }

    #[test]
    fn svg_marks_unbalanced_nodes() {
        let svg = Bst::from_keys([1u32, 2, 3]).shape().to_svg();
        assert_eq!(
            svg.matches("#c0392b").count(),
            2,
            "only the root (+2) is red:\n{svg}"
        );
    }
}
