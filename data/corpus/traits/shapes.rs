//! Traits for geometry: static dispatch with generics, dynamic dispatch with
//! `dyn Trait`, default methods, supertraits and trait objects in collections.

use std::f64::consts::PI;
use std::fmt;

/// Anything with an area and a perimeter.
pub trait Shape: fmt::Debug {
    fn area(&self) -> f64;
    fn perimeter(&self) -> f64;

    /// A short name for reports. Defaults to "shape".
    fn name(&self) -> &'static str {
        "shape"
    }

    /// How close the shape is to a circle: 1.0 for a circle, smaller otherwise.
    fn compactness(&self) -> f64 {
        let p = self.perimeter();
        if p == 0.0 {
            0.0
        } else {
            4.0 * PI * self.area() / (p * p)
        }
    }
}

/// Shapes that can be scaled by a factor.
pub trait Scale: Shape {
    fn scaled(&self, factor: f64) -> Self
    where
        Self: Sized;
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    pub radius: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub width: f64,
    pub height: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Triangle {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

impl Triangle {
    /// Builds a triangle if the sides satisfy the triangle inequality.
    pub fn new(a: f64, b: f64, c: f64) -> Option<Triangle> {
        let valid = a > 0.0 && b > 0.0 && c > 0.0 && a + b > c && a + c > b && b + c > a;
        valid.then_some(Triangle { a, b, c })
    }
}

impl Shape for Circle {
    fn area(&self) -> f64 {
        PI * self.radius * self.radius
    }
    fn perimeter(&self) -> f64 {
        2.0 * PI * self.radius
    }
    fn name(&self) -> &'static str {
        "circle"
    }
}

impl Shape for Rect {
    fn area(&self) -> f64 {
        self.width * self.height
    }
    fn perimeter(&self) -> f64 {
        2.0 * (self.width + self.height)
    }
    fn name(&self) -> &'static str {
        if self.width == self.height {
            "square"
        } else {
            "rectangle"
        }
    }
}

impl Shape for Triangle {
    /// Heron's formula.
    fn area(&self) -> f64 {
        let s = self.perimeter() / 2.0;
        (s * (s - self.a) * (s - self.b) * (s - self.c)).sqrt()
    }
    fn perimeter(&self) -> f64 {
        self.a + self.b + self.c
    }
    fn name(&self) -> &'static str {
        "triangle"
    }
}

impl Scale for Circle {
    fn scaled(&self, factor: f64) -> Self {
        Circle {
            radius: self.radius * factor,
        }
    }
}

impl Scale for Rect {
    fn scaled(&self, factor: f64) -> Self {
        Rect {
            width: self.width * factor,
            height: self.height * factor,
        }
    }
}

/// Static dispatch: one copy of this function is compiled per shape type.
pub fn describe<S: Shape>(shape: &S) -> String {
    format!("{} with area {:.2}", shape.name(), shape.area())
}

/// Dynamic dispatch: works on a mixed collection of shapes.
pub fn total_area(shapes: &[Box<dyn Shape>]) -> f64 {
    shapes.iter().map(|s| s.area()).sum()
}

/// The shape with the largest area, borrowed from the collection.
pub fn largest(shapes: &[Box<dyn Shape>]) -> Option<&dyn Shape> {
    shapes
        .iter()
        .max_by(|a, b| a.area().total_cmp(&b.area()))
        .map(|b| b.as_ref())
}

/// Counts shapes per name, in order of first appearance.
pub fn census(shapes: &[Box<dyn Shape>]) -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for s in shapes {
        match counts.iter_mut().find(|(n, _)| *n == s.name()) {
            Some((_, c)) => *c += 1,
            None => counts.push((s.name(), 1)),
        }
    }
    counts
}

/// Generic over anything scalable: grows a shape until its area passes `target`.
pub fn grow_until<S: Scale + Clone>(shape: &S, target: f64, factor: f64) -> (S, u32) {
    let mut current = shape.clone();
    let mut steps = 0;
    while current.area() < target && steps < 1000 {
        current = current.scaled(factor);
        steps += 1;
    }
    (current, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn areas_and_perimeters() {
        assert!(close(Circle { radius: 1.0 }.area(), PI));
        assert!(close(
            Rect {
                width: 2.0,
                height: 3.0
            }
            .perimeter(),
            10.0
        ));
        let t = Triangle::new(3.0, 4.0, 5.0).unwrap();
        assert!(close(t.area(), 6.0));
        assert!(Triangle::new(1.0, 2.0, 3.0).is_none());
        assert!(Triangle::new(-1.0, 2.0, 2.0).is_none());
    }

    #[test]
    fn names_and_defaults() {
        assert_eq!(
            Rect {
                width: 2.0,
                height: 2.0
            }
            .name(),
            "square"
        );
        assert_eq!(describe(&Circle { radius: 2.0 }), "circle with area 12.57");
        assert!(close(Circle { radius: 3.0 }.compactness(), 1.0));
        let square = Rect {
            width: 1.0,
            height: 1.0,
        };
        assert!(close(square.compactness(), PI / 4.0));
        assert_eq!(
            Rect {
                width: 0.0,
                height: 0.0
            }
            .compactness(),
            0.0
        );
    }

    #[test]
    fn trait_objects() {
        let shapes: Vec<Box<dyn Shape>> = vec![
            Box::new(Circle { radius: 1.0 }),
            Box::new(Rect {
                width: 4.0,
                height: 1.0,
            }),
            Box::new(Triangle::new(3.0, 4.0, 5.0).unwrap()),
            Box::new(Rect {
                width: 1.0,
                height: 2.0,
            }),
        ];
        assert!(close(total_area(&shapes), PI + 4.0 + 6.0 + 2.0));
        assert_eq!(largest(&shapes).map(|s| s.name()), Some("triangle"));
        assert_eq!(
            census(&shapes),
            vec![("circle", 1), ("rectangle", 2), ("triangle", 1)]
        );
        assert!(largest(&[]).is_none());
    }

    #[test]
    fn scaling() {
        let (big, steps) = grow_until(
            &Rect {
                width: 1.0,
                height: 1.0,
            },
            100.0,
            2.0,
        );
        assert_eq!(steps, 4);
        assert!(close(big.width, 16.0));
        let (c, steps) = grow_until(&Circle { radius: 5.0 }, 1.0, 2.0);
        assert_eq!((c.radius, steps), (5.0, 0));
    }
}
