//! Exact rational numbers.
//!
//! A `Fraction` is always stored in lowest terms with a positive
//! denominator, so structural equality (`#[derive(PartialEq)]`) is also
//! numeric equality. Arithmetic is checked: overflow gives `None` rather than
//! a wrong answer.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fraction {
    num: i64,
    den: i64,
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl Fraction {
    pub const ZERO: Fraction = Fraction { num: 0, den: 1 };
    pub const ONE: Fraction = Fraction { num: 1, den: 1 };

    /// Creates `num / den` in lowest terms; `None` if `den` is zero or the
    /// sign cannot be normalized (i64::MIN has no positive counterpart).
    pub fn new(num: i64, den: i64) -> Option<Fraction> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let (mut n, mut d) = (num / g, den / g);
        if d < 0 {
            n = n.checked_neg()?;
            d = d.checked_neg()?;
        }
        Some(Fraction { num: n, den: d })
    }

    pub fn from_integer(n: i64) -> Fraction {
        Fraction { num: n, den: 1 }
    }

    pub fn numerator(self) -> i64 {
        self.num
    }

    pub fn denominator(self) -> i64 {
        self.den
    }

    pub fn checked_add(self, other: Fraction) -> Option<Fraction> {
        // Use the lcm of the denominators to keep intermediates small.
        let g = gcd(self.den, other.den);
        let left = self.num.checked_mul(other.den / g)?;
        let right = other.num.checked_mul(self.den / g)?;
        Fraction::new(
            left.checked_add(right)?,
            self.den.checked_mul(other.den / g)?,
        )
    }

    pub fn checked_neg(self) -> Option<Fraction> {
        Some(Fraction {
            num: self.num.checked_neg()?,
            den: self.den,
        })
    }

    pub fn checked_sub(self, other: Fraction) -> Option<Fraction> {
        self.checked_add(other.checked_neg()?)
    }

    pub fn checked_mul(self, other: Fraction) -> Option<Fraction> {
        // Cross-cancel first: (a/b)(c/d) = (a/g1)(c/g2) / ((b/g2)(d/g1)).
        let g1 = gcd(self.num, other.den).max(1);
        let g2 = gcd(other.num, self.den).max(1);
        let num = (self.num / g1).checked_mul(other.num / g2)?;
        let den = (self.den / g2).checked_mul(other.den / g1)?;
        Fraction::new(num, den)
    }

    pub fn recip(self) -> Option<Fraction> {
        Fraction::new(self.den, self.num)
    }

    pub fn checked_div(self, other: Fraction) -> Option<Fraction> {
        self.checked_mul(other.recip()?)
    }

    /// Rounds towards negative infinity.
    pub fn floor(self) -> i64 {
        self.num.div_euclid(self.den)
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The continued fraction expansion `[a0; a1, a2, ...]`.
    pub fn continued_fraction(self) -> Vec<i64> {
        let mut terms = Vec::new();
        let (mut n, mut d) = (i128::from(self.num), i128::from(self.den));
        while d != 0 {
            let q = n.div_euclid(d);
            terms.push(q as i64);
            (n, d) = (d, n - q * d);
        }
        terms
    }
}

impl Ord for Fraction {
    fn cmp(&self, other: &Self) -> Ordering {
        // Denominators are positive, so cross-multiplying keeps the order; i128 avoids overflow.
        (i128::from(self.num) * i128::from(other.den))
            .cmp(&(i128::from(other.num) * i128::from(self.den)))
    }
}

impl PartialOrd for Fraction {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFractionError(String);

impl fmt::Display for ParseFractionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a fraction: {}", self.0)
    }
}

impl FromStr for Fraction {
    type Err = ParseFractionError;

    /// Accepts `"3"`, `"-3/4"` and `" 6 / 8 "`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseFractionError(s.to_string());
        let (n, d) = match s.split_once('/') {
            Some((n, d)) => (n.trim(), d.trim()),
            None => (s.trim(), "1"),
        };
        let n: i64 = n.parse().map_err(|_| err())?;
        let d: i64 = d.parse().map_err(|_| err())?;
        Fraction::new(n, d).ok_or_else(err)
    }
}

/// The n-th harmonic number 1 + 1/2 + ... + 1/n, exactly, while it fits.
pub fn harmonic(n: u32) -> Option<Fraction> {
    (1..=i64::from(n)).try_fold(Fraction::ZERO, |acc, k| {
        acc.checked_add(Fraction::new(1, k)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: i64, d: i64) -> Fraction {
        Fraction::new(n, d).unwrap()
    }

    #[test]
    fn normalization() {
        assert_eq!(f(6, 8), f(3, 4));
        assert_eq!(f(3, -4), f(-3, 4));
        assert_eq!(f(0, -5), Fraction::ZERO);
        assert_eq!((f(-6, -8).numerator(), f(-6, -8).denominator()), (3, 4));
        assert_eq!(Fraction::new(1, 0), None);
        assert_eq!(Fraction::new(1, i64::MIN), None);
    }

    #[test]
    fn arithmetic() {
        assert_eq!(f(1, 2).checked_add(f(1, 3)), Some(f(5, 6)));
        assert_eq!(f(1, 2).checked_sub(f(3, 4)), Some(f(-1, 4)));
        assert_eq!(f(2, 3).checked_mul(f(9, 4)), Some(f(3, 2)));
        assert_eq!(
            f(1, 2).checked_div(f(1, 4)),
            Some(Fraction::from_integer(2))
        );
        assert_eq!(f(1, 2).checked_div(Fraction::ZERO), None);
        assert_eq!(
            Fraction::from_integer(i64::MAX).checked_add(Fraction::ONE),
            None
        );
    }

    #[test]
    fn ordering_and_rounding() {
        let mut v = vec![f(1, 2), f(-1, 3), f(2, 3), f(1, 3)];
        v.sort();
        assert_eq!(v, vec![f(-1, 3), f(1, 3), f(1, 2), f(2, 3)]);
        assert!(f(i64::MAX, 2) > f(i64::MAX - 1, 2));
        assert_eq!(f(7, 2).floor(), 3);
        assert_eq!(f(-7, 2).floor(), -4);
        assert_eq!(f(1, 4).to_f64(), 0.25);
    }

    #[test]
    fn text_round_trip() {
        assert_eq!(f(-3, 4).to_string(), "-3/4");
        assert_eq!(f(10, 5).to_string(), "2");
        assert_eq!(" 6 / 8 ".parse(), Ok(f(3, 4)));
        assert_eq!("5".parse(), Ok(Fraction::from_integer(5)));
        assert_eq!(
            "1/0".parse::<Fraction>().unwrap_err().to_string(),
            "not a fraction: 1/0"
        );
        assert!("a/b".parse::<Fraction>().is_err());
    }

    #[test]
    fn continued_fractions() {
        assert_eq!(f(415, 93).continued_fraction(), vec![4, 2, 6, 7]);
        assert_eq!(f(-7, 2).continued_fraction(), vec![-4, 2]);
        assert_eq!(Fraction::from_integer(3).continued_fraction(), vec![3]);
    }

    #[test]
    fn harmonic_numbers() {
        assert_eq!(harmonic(1), Some(Fraction::ONE));
        assert_eq!(harmonic(4), Some(f(25, 12)));
        assert_eq!(harmonic(0), Some(Fraction::ZERO));
        assert_eq!(harmonic(100), None);
    }
}
