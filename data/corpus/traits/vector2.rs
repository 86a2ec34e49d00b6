//! A 2D vector type with operator overloading.
//!
//! Implements the arithmetic operator traits (`Add`, `Sub`, `Mul`, `Neg`,
//! and their `*Assign` forms), `Index`, `Display`, `Sum` and `From`, so the
//! type reads like a built-in number in calling code.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Index, IndexMut, Mul, Neg, Sub, SubAssign};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec2 {
    pub x: f64,
    pub y: f64,
}

impl Vec2 {
    pub const ZERO: Vec2 = Vec2 { x: 0.0, y: 0.0 };
    pub const UNIT_X: Vec2 = Vec2 { x: 1.0, y: 0.0 };
    pub const UNIT_Y: Vec2 = Vec2 { x: 0.0, y: 1.0 };

    pub const fn new(x: f64, y: f64) -> Self {
        Vec2 { x, y }
    }

    pub fn dot(self, other: Vec2) -> f64 {
        self.x * other.x + self.y * other.y
    }

    /// The z component of the 3D cross product; positive when `other` is
    /// counter-clockwise from `self`.
    pub fn cross(self, other: Vec2) -> f64 {
        self.x * other.y - self.y * other.x
    }

    pub fn length(self) -> f64 {
        self.x.hypot(self.y)
    }

    /// The vector scaled to length 1, or `None` for the zero vector.
    pub fn normalized(self) -> Option<Vec2> {
        let len = self.length();
        (len > 0.0).then(|| self * (1.0 / len))
    }

    /// Rotates counter-clockwise by `radians`.
    pub fn rotated(self, radians: f64) -> Vec2 {
        let (sin, cos) = radians.sin_cos();
        Vec2::new(self.x * cos - self.y * sin, self.x * sin + self.y * cos)
    }

    /// Linear interpolation: `t = 0` gives `self`, `t = 1` gives `other`.
    pub fn lerp(self, other: Vec2, t: f64) -> Vec2 {
        self + (other - self) * t
    }

    pub fn approx_eq(self, other: Vec2, eps: f64) -> bool {
        (self - other).length() <= eps
    }
}

impl Add for Vec2 {
    type Output = Vec2;
    fn add(self, rhs: Vec2) -> Vec2 {
        Vec2::new(self.x + rhs.x, self.y + rhs.y)
    }
}

impl Sub for Vec2 {
    type Output = Vec2;
    fn sub(self, rhs: Vec2) -> Vec2 {
        Vec2::new(self.x - rhs.x, self.y - rhs.y)
    }
}

/// Scalar multiplication, vector on the left.
impl Mul<f64> for Vec2 {
    type Output = Vec2;
    fn mul(self, k: f64) -> Vec2 {
        Vec2::new(self.x * k, self.y * k)
    }
}

/// Scalar multiplication, scalar on the left: `2.0 * v`.
impl Mul<Vec2> for f64 {
    type Output = Vec2;
    fn mul(self, v: Vec2) -> Vec2 {
        v * self
    }
}

impl Neg for Vec2 {
    type Output = Vec2;
    fn neg(self) -> Vec2 {
        Vec2::new(-self.x, -self.y)
    }
}

impl AddAssign for Vec2 {
    fn add_assign(&mut self, rhs: Vec2) {
        self.x += rhs.x;
        self.y += rhs.y;
    }
}

impl SubAssign for Vec2 {
    fn sub_assign(&mut self, rhs: Vec2) {
        self.x -= rhs.x;
        self.y -= rhs.y;
    }
}

/// `v[0]` is x and `v[1]` is y; any other index panics like a slice would.
impl Index<usize> for Vec2 {
    type Output = f64;
    fn index(&self, i: usize) -> &f64 {
        match i {
            0 => &self.x,
            1 => &self.y,
            _ => panic!("Vec2 index {} out of range", i),
        }
    }
}

impl IndexMut<usize> for Vec2 {
    fn index_mut(&mut self, i: usize) -> &mut f64 {
        match i {
            0 => &mut self.x,
            1 => &mut self.y,
            _ => panic!("Vec2 index {} out of range", i),
        }
    }
}

impl Sum for Vec2 {
    fn sum<I: Iterator<Item = Vec2>>(iter: I) -> Vec2 {
        iter.fold(Vec2::ZERO, Add::add)
    }
}

impl From<(f64, f64)> for Vec2 {
    fn from((x, y): (f64, f64)) -> Self {
        Vec2::new(x, y)
    }
}

impl fmt::Display for Vec2 {
    /// Honors the precision flag: `format!("{:.1}", v)` gives `(1.0, 2.0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match f.precision() {
            Some(p) => write!(f, "({:.*}, {:.*})", p, self.x, p, self.y),
            None => write!(f, "({}, {})", self.x, self.y),
        }
    }
}

/// The centroid (average position) of a set of points.
pub fn centroid(points: &[Vec2]) -> Option<Vec2> {
    if points.is_empty() {
        return None;
    }
    let sum: Vec2 = points.iter().copied().sum();
    Some(sum * (1.0 / points.len() as f64))
}

/// Signed area of a simple polygon (shoelace formula); positive when the
/// vertices run counter-clockwise.
pub fn polygon_area(vertices: &[Vec2]) -> f64 {
    let n = vertices.len();
    if n < 3 {
        return 0.0;
    }
    (0..n)
        .map(|i| vertices[i].cross(vertices[(i + 1) % n]))
        .sum::<f64>()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_PI_2;

    #[test]
    fn arithmetic() {
        let a = Vec2::new(1.0, 2.0);
        let b = Vec2::new(3.0, -1.0);
        assert_eq!(a + b, Vec2::new(4.0, 1.0));
        assert_eq!(a - b, Vec2::new(-2.0, 3.0));
        assert_eq!(a * 2.0, 2.0 * a);
        assert_eq!(-a, Vec2::new(-1.0, -2.0));
        let mut c = a;
        c += b;
        c -= Vec2::UNIT_X;
        assert_eq!(c, Vec2::new(3.0, 1.0));
    }

    #[test]
    fn products_and_lengths() {
        assert_eq!(Vec2::UNIT_X.dot(Vec2::UNIT_Y), 0.0);
        assert_eq!(Vec2::UNIT_X.cross(Vec2::UNIT_Y), 1.0);
        assert_eq!(Vec2::new(3.0, 4.0).length(), 5.0);
        assert_eq!(Vec2::ZERO.normalized(), None);
        assert!(Vec2::new(0.0, 5.0)
            .normalized()
            .unwrap()
            .approx_eq(Vec2::UNIT_Y, 1e-12));
    }

    #[test]
    fn rotation_and_interpolation() {
        assert!(Vec2::UNIT_X
            .rotated(FRAC_PI_2)
            .approx_eq(Vec2::UNIT_Y, 1e-12));
        let mid = Vec2::new(0.0, 0.0).lerp(Vec2::new(10.0, -4.0), 0.5);
        assert_eq!(mid, Vec2::new(5.0, -2.0));
    }

    #[test]
    fn indexing() {
        let mut v = Vec2::new(7.0, 8.0);
        assert_eq!((v[0], v[1]), (7.0, 8.0));
        v[1] = 0.5;
        assert_eq!(v.y, 0.5);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn bad_index_panics() {
        let v = Vec2::default();
        let _ = v[2];
    }

    #[test]
    fn display_and_conversions() {
        let v: Vec2 = (1.0, 2.5).into();
        assert_eq!(v.to_string(), "(1, 2.5)");
        assert_eq!(format!("{:.2}", v), "(1.00, 2.50)");
    }

    #[test]
    fn polygons() {
        let square = [
            Vec2::new(0.0, 0.0),
            Vec2::new(2.0, 0.0),
            Vec2::new(2.0, 2.0),
            Vec2::new(0.0, 2.0),
        ];
        assert_eq!(polygon_area(&square), 4.0);
        let clockwise: Vec<Vec2> = square.iter().rev().copied().collect();
        assert_eq!(polygon_area(&clockwise), -4.0);
        assert_eq!(centroid(&square), Some(Vec2::new(1.0, 1.0)));
        assert_eq!(centroid(&[]), None);
        assert_eq!(polygon_area(&square[..2]), 0.0);
    }
}
