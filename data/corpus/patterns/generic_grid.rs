//! A generic two-dimensional grid stored in one flat `Vec<T>`.
//!
//! Shows generic structs with trait bounds on individual `impl` blocks:
//! every grid can be indexed, grids of `Clone` values can be filled, grids
//! of `Display` values can be printed, and grids of numbers can be summed.
//! Coordinates are `(row, col)` and out-of-range access returns `None`.

use std::fmt;
use std::ops::{Add, Index, IndexMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid<T> {
    rows: usize,
    cols: usize,
    cells: Vec<T>,
}

impl<T> Grid<T> {
    /// Builds a grid by calling `f(row, col)` for every cell.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut cells = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                cells.push(f(r, c));
            }
        }
        Grid { rows, cols, cells }
    }

    /// Builds a grid from rows of equal length; `None` if they differ.
    pub fn from_rows(rows: Vec<Vec<T>>) -> Option<Self> {
        let cols = rows.first().map_or(0, Vec::len);
        if rows.iter().any(|r| r.len() != cols) {
            return None;
        }
        let n = rows.len();
        Some(Grid {
            rows: n,
            cols,
            cells: rows.into_iter().flatten().collect(),
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    fn offset(&self, row: usize, col: usize) -> Option<usize> {
        (row < self.rows && col < self.cols).then_some(row * self.cols + col)
    }

    pub fn get(&self, row: usize, col: usize) -> Option<&T> {
        self.offset(row, col).map(|i| &self.cells[i])
    }

    pub fn get_mut(&mut self, row: usize, col: usize) -> Option<&mut T> {
        self.offset(row, col).map(move |i| &mut self.cells[i])
    }

    /// One row as a slice.
    pub fn row(&self, row: usize) -> Option<&[T]> {
        (row < self.rows).then(|| &self.cells[row * self.cols..(row + 1) * self.cols])
    }

    /// One column, borrowed cell by cell.
    pub fn column(&self, col: usize) -> impl Iterator<Item = &T> + '_ {
        let valid = col < self.cols;
        (0..self.rows)
            .filter(move |_| valid)
            .map(move |r| &self.cells[r * self.cols + col])
    }

    /// The up-to-four orthogonal neighbours of a cell that lie inside the grid.
    pub fn neighbours(&self, row: usize, col: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(4);
        if row > 0 {
            out.push((row - 1, col));
        }
        if col > 0 {
            out.push((row, col - 1));
        }
        if row + 1 < self.rows {
            out.push((row + 1, col));
        }
        if col + 1 < self.cols {
            out.push((row, col + 1));
        }
        out
    }

    /// Applies `f` to every cell, producing a grid of another type.
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> Grid<U> {
        Grid {
            rows: self.rows,
            cols: self.cols,
            cells: self.cells.iter().map(f).collect(),
        }
    }

    /// Positions of cells matching a predicate, in row-major order.
    pub fn positions(&self, pred: impl Fn(&T) -> bool) -> Vec<(usize, usize)> {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, v)| pred(v))
            .map(|(i, _)| (i / self.cols, i % self.cols))
            .collect()
    }

    /// The grid turned 90 degrees clockwise.
    pub fn rotate_clockwise(&self) -> Grid<T>
    where
        T: Clone,
    {
        Grid::from_fn(self.cols, self.rows, |r, c| {
            self.cells[(self.rows - 1 - c) * self.cols + r].clone()
        })
    }
}

impl<T: Clone> Grid<T> {
    pub fn filled(rows: usize, cols: usize, value: T) -> Self {
        Grid {
            rows,
            cols,
            cells: vec![value; rows * cols],
        }
    }

    /// Sets every cell of a rectangle (clipped to the grid) to `value`.
    pub fn fill_rect(&mut self, top: usize, left: usize, height: usize, width: usize, value: T) {
        for r in top..(top + height).min(self.rows) {
            for c in left..(left + width).min(self.cols) {
                self.cells[r * self.cols + c] = value.clone();
            }
        }
    }
}

impl<T: Copy + Default + Add<Output = T>> Grid<T> {
    /// Sum of every row.
    pub fn row_sums(&self) -> Vec<T> {
        self.cells
            .chunks(self.cols.max(1))
            .take(self.rows)
            .map(|row| row.iter().fold(T::default(), |acc, &x| acc + x))
            .collect()
    }
}

impl<T> Index<(usize, usize)> for Grid<T> {
    type Output = T;
    fn index(&self, (row, col): (usize, usize)) -> &T {
        self.get(row, col).unwrap_or_else(|| {
            panic!(
                "cell ({}, {}) outside {}x{} grid",
                row, col, self.rows, self.cols
            )
        })
    }
}

impl<T> IndexMut<(usize, usize)> for Grid<T> {
    fn index_mut(&mut self, (row, col): (usize, usize)) -> &mut T {
        let (rows, cols) = (self.rows, self.cols);
        self.get_mut(row, col)
            .unwrap_or_else(|| panic!("cell ({}, {}) outside {}x{} grid", row, col, rows, cols))
    }
}

impl<T: fmt::Display> fmt::Display for Grid<T> {
    /// Rows on separate lines, cells separated by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in 0..self.rows {
            if r > 0 {
                writeln!(f)?;
            }
            for c in 0..self.cols {
                if c > 0 {
                    write!(f, " ")?;
                }
                write!(f, "{}", self.cells[r * self.cols + c])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_and_access() {
        let g = Grid::from_fn(2, 3, |r, c| r * 10 + c);
        assert_eq!((g.rows(), g.cols()), (2, 3));
        assert_eq!(g.get(1, 2), Some(&12));
        assert_eq!(g.get(2, 0), None);
        assert_eq!(g[(0, 1)], 1);
        assert_eq!(g.row(1), Some(&[10, 11, 12][..]));
        assert_eq!(g.row(5), None);
        assert_eq!(g.column(2).copied().collect::<Vec<_>>(), vec![2, 12]);
        assert_eq!(g.column(3).count(), 0);
    }

    #[test]
    fn from_rows_checks_shape() {
        assert!(Grid::from_rows(vec![vec![1, 2], vec![3]]).is_none());
        let g = Grid::from_rows(vec![vec!['a', 'b'], vec!['c', 'd']]).unwrap();
        assert_eq!(g.to_string(), "a b\nc d");
        let empty: Grid<u8> = Grid::from_rows(vec![]).unwrap();
        assert_eq!(empty.to_string(), "");
    }

    #[test]
    fn mutation() {
        let mut g = Grid::filled(3, 4, '.');
        g.fill_rect(1, 2, 5, 5, '#');
        g[(0, 0)] = '@';
        assert_eq!(g.to_string(), "@ . . .\n. . # #\n. . # #");
        if let Some(cell) = g.get_mut(2, 0) {
            *cell = '*';
        }
        assert_eq!(g.positions(|&c| c == '#').len(), 4);
        assert_eq!(g.positions(|&c| c == '*'), vec![(2, 0)]);
    }

    #[test]
    #[should_panic(expected = "outside 3x4 grid")]
    fn index_out_of_range_panics() {
        let g = Grid::filled(3, 4, 0u8);
        let _ = g[(3, 0)];
    }

    #[test]
    fn neighbours_stay_inside() {
        let g = Grid::filled(3, 3, ());
        assert_eq!(g.neighbours(0, 0), vec![(1, 0), (0, 1)]);
        assert_eq!(g.neighbours(1, 1).len(), 4);
        assert_eq!(g.neighbours(2, 2), vec![(1, 2), (2, 1)]);
    }

    #[test]
    fn mapping_rotating_and_sums() {
        let g = Grid::from_fn(2, 3, |r, c| (r * 3 + c) as i64);
        assert_eq!(g.row_sums(), vec![3, 12]);
        let rotated = g.rotate_clockwise();
        assert_eq!(rotated.to_string(), "3 0\n4 1\n5 2");
        assert_eq!(
            rotated
                .rotate_clockwise()
                .rotate_clockwise()
                .rotate_clockwise(),
            g
        );
        let labels = g.map(|v| if v % 2 == 0 { "even" } else { "odd" });
        assert_eq!(labels[(1, 1)], "even");
        let floats = Grid::filled(2, 2, 0.5f64);
        assert_eq!(floats.row_sums(), vec![1.0, 1.0]);
    }
}
