//! Declarative macros (`macro_rules!`) for removing boilerplate.
//!
//! Each macro below shows one technique: repetition with `$(...)*`,
//! several match arms, recursion, generating items (an enum with string
//! conversions), and building collections from literal syntax.

use std::collections::{BTreeMap, BTreeSet};

/// Builds a `BTreeMap` from `key => value` pairs, allowing a trailing comma.
macro_rules! btree_map {
    () => { BTreeMap::new() };
    ($($key:expr => $value:expr),+ $(,)?) => {{
        let mut map = BTreeMap::new();
        $( map.insert($key, $value); )+
        map
    }};
}

/// Builds a `BTreeSet` from a list of expressions.
macro_rules! btree_set {
    ($($item:expr),* $(,)?) => {{
        let mut set = BTreeSet::new();
        $( set.insert($item); )*
        set
    }};
}

/// The largest of one or more expressions, by recursion on the argument list.
macro_rules! max_of {
    ($x:expr) => { $x };
    ($x:expr, $($rest:expr),+) => {{
        let head = $x;
        let tail = max_of!($($rest),+);
        if head > tail { head } else { tail }
    }};
}

/// Counts the token trees passed to it, at compile time.
macro_rules! count {
    () => { 0usize };
    ($head:tt $($tail:tt)*) => { 1usize + count!($($tail)*) };
}

/// Defines a fieldless enum with `ALL`, `as_str` and `parse` generated from
/// one list of `Variant = "text"` pairs, so the three can never disagree.
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name { $($variant),+ }

        impl $name {
            pub const ALL: [$name; count!($($variant)+)] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// HTTP-like status classes.
    pub enum Status {
        Ok = "ok",
        NotFound = "not-found",
        Failed = "failed",
    }
}

string_enum! {
    pub enum Weekday {
        Mon = "monday",
        Tue = "tuesday",
        Wed = "wednesday",
        Thu = "thursday",
        Fri = "friday",
        Sat = "saturday",
        Sun = "sunday",
    }
}

impl Weekday {
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Sat | Weekday::Sun)
    }

    /// The following day, wrapping from Sunday to Monday.
    pub fn next(self) -> Weekday {
        let i = Weekday::ALL.iter().position(|&d| d == self).unwrap_or(0);
        Weekday::ALL[(i + 1) % Weekday::ALL.len()]
    }
}

/// Asserts that two floats are within a tolerance, with a readable message.
macro_rules! assert_close {
    ($left:expr, $right:expr) => {
        assert_close!($left, $right, 1e-9)
    };
    ($left:expr, $right:expr, $eps:expr) => {{
        let (l, r): (f64, f64) = ($left, $right);
        assert!(
            (l - r).abs() <= $eps,
            "{} = {} is not within {} of {} = {}",
            stringify!($left),
            l,
            $eps,
            stringify!($right),
            r
        );
    }};
}

/// Generates a newtype with `new`, `get` and `Display` for each given name.
macro_rules! newtypes {
    ($($name:ident($inner:ty)),+ $(,)?) => {
        $(
            #[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
            pub struct $name($inner);

            impl $name {
                pub fn new(value: $inner) -> Self { $name(value) }
                pub fn get(self) -> $inner { self.0 }
            }

            impl std::fmt::Display for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    write!(f, "{}({})", stringify!($name), self.0)
                }
            }
        )+
    };
}

newtypes!(Meters(f64), Seconds(f64));

/// Speed from typed distance and time: the types prevent swapping arguments.
pub fn speed(distance: Meters, time: Seconds) -> Option<f64> {
    (time.get() > 0.0).then(|| distance.get() / time.get())
}

/// A lookup table built with the map macro.
pub fn http_reasons() -> BTreeMap<u16, &'static str> {
    btree_map! {
        200 => "OK",
        301 => "Moved Permanently",
        404 => "Not Found",
        500 => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_macros() {
        let empty: BTreeMap<u8, u8> = btree_map!();
        assert!(empty.is_empty());
        let m = btree_map! { "b" => 2, "a" => 1 };
        assert_eq!(m.into_iter().collect::<Vec<_>>(), vec![("a", 1), ("b", 2)]);
        let s = btree_set![3, 1, 3, 2];
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(http_reasons()[&404], "Not Found");
    }

    #[test]
    fn recursive_macros() {
        assert_eq!(max_of!(3), 3);
        assert_eq!(max_of!(3, 9, 2, 7), 9);
        assert_eq!(max_of!("pear", "apple"), "pear");
        assert_eq!(count!(a b c d), 4);
        assert_eq!(count!(), 0);
    }

    #[test]
    fn generated_enums() {
        assert_eq!(Status::ALL.len(), 3);
        assert_eq!(Status::NotFound.as_str(), "not-found");
        assert_eq!(Status::parse("failed"), Some(Status::Failed));
        assert_eq!(Status::parse("FAILED"), None);
        assert_eq!(Status::Ok.to_string(), "ok");
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn weekdays() {
        assert_eq!(Weekday::ALL.len(), 7);
        assert_eq!(Weekday::Sun.next(), Weekday::Mon);
        assert_eq!(
            Weekday::parse("friday").map(Weekday::next),
            Some(Weekday::Sat)
        );
        assert_eq!(Weekday::ALL.iter().filter(|d| d.is_weekend()).count(), 2);
    }

    #[test]
    fn newtypes_and_float_asserts() {
        assert_close!(
            speed(Meters::new(100.0), Seconds::new(9.58)).unwrap(),
            10.438413361169102
        );
        assert_close!(0.1 + 0.2, 0.3);
        assert_close!(1.0, 1.05, 0.1);
        assert_eq!(speed(Meters::new(1.0), Seconds::new(0.0)), None);
        assert_eq!(Meters::new(2.5).to_string(), "Meters(2.5)");
    }

    #[test]
    #[should_panic(expected = "is not within")]
    fn assert_close_fails_loudly() {
        assert_close!(1.0, 2.0);
    }
}
