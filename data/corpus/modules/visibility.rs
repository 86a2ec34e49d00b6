//! Organizing code with nested modules, visibility and re-exports, plus
//! `Cow` for APIs that usually borrow but sometimes must allocate.
//!
//! The `shop` module exposes a small public surface (`Cart`, `Sku`,
//! `prices::format_cents`) while its helpers stay private or
//! `pub(crate)`. Callers use the re-exported names at the module root.

use std::borrow::Cow;

pub mod shop {
    pub use self::cart::Cart;
    pub use self::catalog::Sku;

    pub mod prices {
        /// Formats cents as a decimal amount, e.g. 1999 as "19.99".
        pub fn format_cents(cents: u64) -> String {
            format!("{}.{:02}", cents / 100, cents % 100)
        }

        /// Applies a discount in whole percent; only the crate may call it.
        pub(crate) fn discounted(cents: u64, percent: u8) -> u64 {
            cents - cents * u64::from(percent.min(100)) / 100
        }
    }

    mod catalog {
        /// A product code; construction is checked, the field is private.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct Sku(String);

        impl Sku {
            /// Accepts codes like "AB-123": letters, a dash, digits.
            pub fn parse(code: &str) -> Option<Sku> {
                let (letters, digits) = code.split_once('-')?;
                let ok = !letters.is_empty()
                    && letters.chars().all(|c| c.is_ascii_uppercase())
                    && !digits.is_empty()
                    && digits.chars().all(|c| c.is_ascii_digit());
                ok.then(|| Sku(code.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Unit price lookup, visible to the parent module only.
        pub(super) fn price_of(sku: &Sku) -> Option<u64> {
            match sku.as_str().split_once('-')?.0 {
                "BK" => Some(1999),
                "PEN" => Some(250),
                "MUG" => Some(899),
                _ => None,
            }
        }
    }

    mod cart {
        use super::catalog::{price_of, Sku};
        use super::prices;

        #[derive(Debug, Default)]
        pub struct Cart {
            lines: Vec<(Sku, u32)>,
            discount_percent: u8,
        }

        impl Cart {
            pub fn new() -> Self {
                Self::default()
            }

            /// Adds units of a product; unknown products are refused.
            pub fn add(&mut self, sku: Sku, quantity: u32) -> Result<(), String> {
                if price_of(&sku).is_none() {
                    return Err(format!("{} is not in the catalog", sku.as_str()));
                }
                match self.lines.iter_mut().find(|(s, _)| *s == sku) {
                    Some((_, q)) => *q += quantity,
                    None => self.lines.push((sku, quantity)),
                }
                Ok(())
            }

            pub fn set_discount(&mut self, percent: u8) {
                self.discount_percent = percent;
            }

            pub fn total_cents(&self) -> u64 {
                let gross: u64 = self
                    .lines
                    .iter()
                    .filter_map(|(sku, q)| price_of(sku).map(|p| p * u64::from(*q)))
                    .sum();
                prices::discounted(gross, self.discount_percent)
            }

            /// One line per product plus the total.
            pub fn receipt(&self) -> String {
                let mut out: Vec<String> = self
                    .lines
                    .iter()
                    .map(|(sku, q)| format!("{} x{}", sku.as_str(), q))
                    .collect();
                out.push(format!(
                    "total {}",
                    prices::format_cents(self.total_cents())
                ));
                out.join("\n")
            }
        }
    }
}

/// Replaces tabs with spaces only when there are any: the common case
/// borrows the input and allocates nothing.
pub fn expand_tabs(line: &str, width: usize) -> Cow<'_, str> {
    if !line.contains('\t') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + width);
    for c in line.chars() {
        if c == '\t' {
            let spaces = width - out.chars().count() % width.max(1);
            out.extend(std::iter::repeat_n(' ', spaces));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Lower-cases a name only if needed.
pub fn normalized_name(name: &str) -> Cow<'_, str> {
    if name.chars().any(char::is_uppercase) {
        Cow::Owned(name.to_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// Counts how many inputs needed an allocation.
pub fn allocations_needed(names: &[&str]) -> usize {
    names
        .iter()
        .filter(|n| matches!(normalized_name(n), Cow::Owned(_)))
        .count()
}

#[cfg(test)]
mod tests {
    use super::shop::{prices, Cart, Sku};
    use super::*;

    #[test]
    fn sku_parsing() {
        assert!(Sku::parse("BK-1").is_some());
        assert!(Sku::parse("bk-1").is_none());
        assert!(Sku::parse("BK1").is_none());
        assert!(Sku::parse("-12").is_none());
        assert!(Sku::parse("BK-").is_none());
        assert_eq!(Sku::parse("PEN-42").unwrap().as_str(), "PEN-42");
    }

    #[test]
    fn cart_totals_and_receipt() {
        let mut cart = Cart::new();
        cart.add(Sku::parse("BK-1").unwrap(), 2).unwrap();
        cart.add(Sku::parse("PEN-7").unwrap(), 4).unwrap();
        cart.add(Sku::parse("BK-1").unwrap(), 1).unwrap();
        assert_eq!(cart.total_cents(), 3 * 1999 + 4 * 250);
        cart.set_discount(10);
        // The discount is rounded down, so the price is rounded up: 6997 - 699.
        assert_eq!(cart.total_cents(), 6298);
        assert_eq!(cart.receipt(), "BK-1 x3\nPEN-7 x4\ntotal 62.98");
        let err = cart.add(Sku::parse("TOY-1").unwrap(), 1).unwrap_err();
        assert_eq!(err, "TOY-1 is not in the catalog");
    }

    #[test]
    fn crate_visible_helpers() {
        assert_eq!(prices::format_cents(5), "0.05");
        assert_eq!(prices::discounted(1000, 150), 0);
        assert_eq!(prices::discounted(999, 50), 500);
    }

    #[test]
    fn cow_borrows_when_it_can() {
        assert!(matches!(expand_tabs("no tabs", 4), Cow::Borrowed(_)));
        assert_eq!(expand_tabs("a\tb", 4), "a   b");
        assert_eq!(expand_tabs("\tx", 2), "  x");
        assert_eq!(expand_tabs("abcd\te", 4), "abcd    e");
        assert_eq!(normalized_name("Ferris"), "ferris");
        assert!(matches!(normalized_name("ferris"), Cow::Borrowed("ferris")));
        assert_eq!(allocations_needed(&["a", "B", "c", "Dd"]), 2);
    }
}
