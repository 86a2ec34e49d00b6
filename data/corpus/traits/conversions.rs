//! Conversions between types: `From`/`Into`, `TryFrom`, `FromStr`, `AsRef`
//! and newtypes that make invalid values unrepresentable.

use std::convert::TryFrom;
use std::fmt;
use std::str::FromStr;

/// A temperature in degrees Celsius.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Celsius(pub f64);

/// A temperature in degrees Fahrenheit.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Fahrenheit(pub f64);

impl From<Celsius> for Fahrenheit {
    fn from(c: Celsius) -> Self {
        Fahrenheit(c.0 * 9.0 / 5.0 + 32.0)
    }
}

impl From<Fahrenheit> for Celsius {
    fn from(f: Fahrenheit) -> Self {
        Celsius((f.0 - 32.0) * 5.0 / 9.0)
    }
}

/// A percentage known to be within 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percent(u8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange(pub i64);

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not between 0 and 100", self.0)
    }
}

impl TryFrom<i64> for Percent {
    type Error = OutOfRange;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u8::try_from(value) {
            Ok(v) if v <= 100 => Ok(Percent(v)),
            _ => Err(OutOfRange(value)),
        }
    }
}

impl Percent {
    pub fn value(self) -> u8 {
        self.0
    }

    /// Applies the percentage to an amount, rounding down.
    pub fn of(self, amount: u64) -> u64 {
        amount / 100 * u64::from(self.0) + amount % 100 * u64::from(self.0) / 100
    }
}

/// An e-mail address that passed a basic syntax check and is stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    MissingAt,
    EmptyPart,
    Whitespace,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            EmailError::MissingAt => "an e-mail address needs exactly one '@'",
            EmailError::EmptyPart => "both sides of '@' must be non-empty",
            EmailError::Whitespace => "an e-mail address cannot contain spaces",
        };
        f.write_str(msg)
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.chars().any(char::is_whitespace) {
            return Err(EmailError::Whitespace);
        }
        let mut parts = s.split('@');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(user), Some(domain), None) => {
                if user.is_empty() || domain.is_empty() {
                    Err(EmailError::EmptyPart)
                } else {
                    Ok(Email(s.to_lowercase()))
                }
            }
            _ => Err(EmailError::MissingAt),
        }
    }
}

impl Email {
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Accepts anything that can be viewed as a string: `&str`, `String`, `Email`, ...
pub fn shout<S: AsRef<str>>(text: S) -> String {
    text.as_ref().to_uppercase()
}

/// Accepts anything convertible into a `String`, avoiding a copy for owned input.
pub fn greeting(name: impl Into<String>) -> String {
    let mut s: String = name.into();
    s.insert_str(0, "Hello, ");
    s.push('!');
    s
}

/// An RGB colour parsed from `#rrggbb` or `#rgb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl FromStr for Rgb {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let hex = s
            .strip_prefix('#')
            .ok_or_else(|| format!("{:?} must start with '#'", s))?;
        let digit = |c: char| {
            c.to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| format!("{:?} is not hex", c))
        };
        let chars: Vec<char> = hex.chars().collect();
        match chars.len() {
            3 => {
                let v: Result<Vec<u8>, String> =
                    chars.iter().map(|&c| digit(c).map(|d| d * 17)).collect();
                let v = v?;
                Ok(Rgb(v[0], v[1], v[2]))
            }
            6 => {
                let mut bytes = [0u8; 3];
                for (i, pair) in chars.chunks(2).enumerate() {
                    bytes[i] = digit(pair[0])? * 16 + digit(pair[1])?;
                }
                Ok(Rgb(bytes[0], bytes[1], bytes[2]))
            }
            n => Err(format!("expected 3 or 6 hex digits, found {}", n)),
        }
    }
}

impl From<Rgb> for u32 {
    fn from(c: Rgb) -> u32 {
        (u32::from(c.0) << 16) | (u32::from(c.1) << 8) | u32::from(c.2)
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures() {
        let f: Fahrenheit = Celsius(100.0).into();
        assert_eq!(f, Fahrenheit(212.0));
        let c = Celsius::from(Fahrenheit(-40.0));
        assert_eq!(c, Celsius(-40.0));
        assert!(Celsius(10.0) < Celsius(20.0));
    }

    #[test]
    fn percentages() {
        assert_eq!(Percent::try_from(42).map(Percent::value), Ok(42));
        assert_eq!(Percent::try_from(101), Err(OutOfRange(101)));
        assert_eq!(
            Percent::try_from(-1).unwrap_err().to_string(),
            "-1 is not between 0 and 100"
        );
        let p: Percent = 15i64.try_into().unwrap();
        assert_eq!(p.of(200), 30);
        assert_eq!(
            p.of(u64::MAX),
            u64::MAX / 100 * 15 + (u64::MAX % 100) * 15 / 100
        );
    }

    #[test]
    fn emails() {
        let e: Email = " Ada@Example.ORG ".parse().unwrap();
        assert_eq!(e.to_string(), "ada@example.org");
        assert_eq!(e.domain(), "example.org");
        assert_eq!("no-at".parse::<Email>(), Err(EmailError::MissingAt));
        assert_eq!("a@b@c".parse::<Email>(), Err(EmailError::MissingAt));
        assert_eq!("@b".parse::<Email>(), Err(EmailError::EmptyPart));
        assert_eq!("a b@c".parse::<Email>(), Err(EmailError::Whitespace));
    }

    #[test]
    fn as_ref_and_into() {
        let e: Email = "x@y.z".parse().unwrap();
        assert_eq!(shout(&e), "X@Y.Z");
        assert_eq!(shout("hi"), "HI");
        assert_eq!(shout(String::from("ok")), "OK");
        assert_eq!(greeting("Ferris"), "Hello, Ferris!");
        assert_eq!(greeting(String::from("you")), "Hello, you!");
    }

    #[test]
    fn colours() {
        assert_eq!("#ff8000".parse::<Rgb>(), Ok(Rgb(255, 128, 0)));
        assert_eq!("#fa0".parse::<Rgb>(), Ok(Rgb(255, 170, 0)));
        assert_eq!(u32::from(Rgb(1, 2, 3)), 0x010203);
        assert_eq!(Rgb(255, 0, 16).to_string(), "#ff0010");
        assert!("ff8000"
            .parse::<Rgb>()
            .unwrap_err()
            .contains("must start with '#'"));
        assert_eq!(
            "#12345".parse::<Rgb>(),
            Err("expected 3 or 6 hex digits, found 5".to_string())
        );
        assert_eq!("#gg0000".parse::<Rgb>(), Err("'g' is not hex".to_string()));
    }
}
