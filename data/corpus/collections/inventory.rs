//! A small warehouse inventory built on `HashMap` and the entry API.
//!
//! The inventory tracks stock per SKU, refuses to go negative, keeps a log of
//! movements and can answer questions such as "what needs reordering?".

use std::collections::HashMap;
use std::fmt;

/// Identifies a product. A newtype keeps SKUs from being mixed up with other strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    /// Creates a SKU; codes are stored upper-case so "ab-1" and "AB-1" match.
    pub fn new(code: &str) -> Self {
        Sku(code.trim().to_ascii_uppercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One recorded change of stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Movement {
    Received { sku: Sku, units: u32 },
    Shipped { sku: Sku, units: u32 },
    Adjusted { sku: Sku, new_level: u32 },
}

/// Errors returned by inventory operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockError {
    UnknownSku(Sku),
    Insufficient {
        sku: Sku,
        available: u32,
        requested: u32,
    },
}

impl fmt::Display for StockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StockError::UnknownSku(sku) => write!(f, "no product with SKU {}", sku),
            StockError::Insufficient {
                sku,
                available,
                requested,
            } => write!(
                f,
                "cannot ship {} of {}: only {} in stock",
                requested, sku, available
            ),
        }
    }
}

impl std::error::Error for StockError {}

/// Stock level and reorder threshold for one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    pub on_hand: u32,
    pub reorder_at: u32,
}

/// The inventory itself.
#[derive(Debug, Default)]
pub struct Inventory {
    levels: HashMap<Sku, Level>,
    log: Vec<Movement>,
}

impl Inventory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a product (or updates its threshold) without changing stock.
    pub fn register(&mut self, sku: Sku, reorder_at: u32) {
        self.levels.entry(sku).or_default().reorder_at = reorder_at;
    }

    /// Adds received units. Unknown SKUs are registered on the fly with a
    /// threshold of zero; the count saturates instead of overflowing.
    pub fn receive(&mut self, sku: Sku, units: u32) {
        let level = self.levels.entry(sku.clone()).or_default();
        level.on_hand = level.on_hand.saturating_add(units);
        self.log.push(Movement::Received { sku, units });
    }

    /// Removes units for an order, or explains why it cannot.
    pub fn ship(&mut self, sku: &Sku, units: u32) -> Result<u32, StockError> {
        let level = self
            .levels
            .get_mut(sku)
            .ok_or_else(|| StockError::UnknownSku(sku.clone()))?;
        if level.on_hand < units {
            return Err(StockError::Insufficient {
                sku: sku.clone(),
                available: level.on_hand,
                requested: units,
            });
        }
        level.on_hand -= units;
        self.log.push(Movement::Shipped {
            sku: sku.clone(),
            units,
        });
        Ok(level.on_hand)
    }

    /// Sets the level after a physical count.
    pub fn adjust(&mut self, sku: &Sku, new_level: u32) -> Result<(), StockError> {
        match self.levels.get_mut(sku) {
            Some(level) => {
                level.on_hand = new_level;
                self.log.push(Movement::Adjusted {
                    sku: sku.clone(),
                    new_level,
                });
                Ok(())
            }
            None => Err(StockError::UnknownSku(sku.clone())),
        }
    }

    /// Units on hand, or zero for an unknown SKU.
    pub fn on_hand(&self, sku: &Sku) -> u32 {
        self.levels.get(sku).map_or(0, |l| l.on_hand)
    }

    /// SKUs at or below their reorder threshold, sorted for stable output.
    pub fn needs_reorder(&self) -> Vec<&Sku> {
        let mut low: Vec<&Sku> = self
            .levels
            .iter()
            .filter(|(_, level)| level.on_hand <= level.reorder_at)
            .map(|(sku, _)| sku)
            .collect();
        low.sort();
        low
    }

    /// Total units shipped per SKU, computed from the movement log.
    pub fn shipped_totals(&self) -> HashMap<&Sku, u64> {
        let mut totals: HashMap<&Sku, u64> = HashMap::new();
        for movement in &self.log {
            if let Movement::Shipped { sku, units } = movement {
                *totals.entry(sku).or_insert(0) += u64::from(*units);
            }
        }
        totals
    }

    /// Every recorded movement in order.
    pub fn history(&self) -> &[Movement] {
        &self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(code: &str) -> Sku {
        Sku::new(code)
    }

    #[test]
    fn skus_are_normalized() {
        assert_eq!(sku(" ab-1 "), sku("AB-1"));
        assert_eq!(sku("x9").to_string(), "X9");
        assert_eq!(sku("q").as_str(), "Q");
    }

    #[test]
    fn receive_and_ship() {
        let mut inv = Inventory::new();
        inv.receive(sku("bolt"), 10);
        assert_eq!(inv.ship(&sku("bolt"), 4), Ok(6));
        assert_eq!(inv.on_hand(&sku("bolt")), 6);
        assert_eq!(inv.on_hand(&sku("nut")), 0);
    }

    #[test]
    fn shipping_errors() {
        let mut inv = Inventory::new();
        inv.receive(sku("bolt"), 2);
        assert_eq!(
            inv.ship(&sku("bolt"), 3),
            Err(StockError::Insufficient {
                sku: sku("bolt"),
                available: 2,
                requested: 3
            })
        );
        assert_eq!(
            inv.ship(&sku("gear"), 1),
            Err(StockError::UnknownSku(sku("gear")))
        );
        // A failed shipment changes nothing.
        assert_eq!(inv.on_hand(&sku("bolt")), 2);
        assert_eq!(inv.history().len(), 1);
    }

    #[test]
    fn error_messages() {
        let err = StockError::Insufficient {
            sku: sku("b"),
            available: 1,
            requested: 5,
        };
        assert_eq!(err.to_string(), "cannot ship 5 of B: only 1 in stock");
        assert_eq!(
            StockError::UnknownSku(sku("z")).to_string(),
            "no product with SKU Z"
        );
    }

    #[test]
    fn reorder_list() {
        let mut inv = Inventory::new();
        inv.register(sku("a"), 5);
        inv.register(sku("b"), 1);
        inv.register(sku("c"), 0);
        inv.receive(sku("a"), 5);
        inv.receive(sku("b"), 3);
        let low: Vec<&str> = inv.needs_reorder().iter().map(|s| s.as_str()).collect();
        assert_eq!(low, vec!["A", "C"]);
    }

    #[test]
    fn adjustments_and_totals() {
        let mut inv = Inventory::new();
        inv.receive(sku("a"), 100);
        inv.ship(&sku("a"), 30).unwrap();
        inv.ship(&sku("a"), 20).unwrap();
        inv.adjust(&sku("a"), 48).unwrap();
        assert_eq!(inv.on_hand(&sku("a")), 48);
        assert_eq!(inv.shipped_totals()[&sku("a")], 50);
        assert!(inv.adjust(&sku("missing"), 1).is_err());
        assert!(matches!(
            inv.history().last(),
            Some(Movement::Adjusted { new_level: 48, .. })
        ));
    }

    #[test]
    fn receiving_saturates() {
        let mut inv = Inventory::new();
        inv.receive(sku("a"), u32::MAX);
        inv.receive(sku("a"), 10);
        assert_eq!(inv.on_hand(&sku("a")), u32::MAX);
    }
}
