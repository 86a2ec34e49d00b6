//! Iterator chains over records: a small sales report.
//!
//! Each function is a single pipeline of `filter`, `map`, `fold`, `zip`,
//! `scan`, `flat_map` and friends, the way data-shaped Rust code is usually
//! written. No loop variables, no index arithmetic.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Sale {
    pub region: &'static str,
    pub product: &'static str,
    pub month: u8,
    pub units: u32,
    pub unit_price: f64,
}

impl Sale {
    pub fn revenue(&self) -> f64 {
        f64::from(self.units) * self.unit_price
    }
}

/// Total revenue across all sales.
pub fn total_revenue(sales: &[Sale]) -> f64 {
    sales.iter().map(Sale::revenue).sum()
}

/// Revenue per region, in region order.
pub fn revenue_by_region(sales: &[Sale]) -> BTreeMap<&'static str, f64> {
    sales.iter().fold(BTreeMap::new(), |mut acc, s| {
        *acc.entry(s.region).or_insert(0.0) += s.revenue();
        acc
    })
}

/// The product with the most units sold, if any sales exist.
pub fn best_seller(sales: &[Sale]) -> Option<(&'static str, u32)> {
    let mut units: BTreeMap<&'static str, u32> = BTreeMap::new();
    sales
        .iter()
        .for_each(|s| *units.entry(s.product).or_insert(0) += s.units);
    units
        .into_iter()
        .max_by_key(|&(name, n)| (n, std::cmp::Reverse(name)))
}

/// Units per month for months 1..=12 (zero when nothing sold).
pub fn monthly_units(sales: &[Sale]) -> [u32; 12] {
    let mut months = [0u32; 12];
    sales
        .iter()
        .filter(|s| (1..=12).contains(&s.month))
        .for_each(|s| months[usize::from(s.month - 1)] += s.units);
    months
}

/// Month-over-month change in units, starting from the second month.
pub fn month_over_month(months: &[u32]) -> Vec<i64> {
    months
        .iter()
        .zip(months.iter().skip(1))
        .map(|(&prev, &next)| i64::from(next) - i64::from(prev))
        .collect()
}

/// Running total of units per month, using `scan`.
pub fn running_units(months: &[u32]) -> Vec<u64> {
    months
        .iter()
        .scan(0u64, |total, &m| {
            *total += u64::from(m);
            Some(*total)
        })
        .collect()
}

/// Distinct (region, product) pairs that had any sale, sorted.
pub fn catalogue(sales: &[Sale]) -> Vec<(&'static str, &'static str)> {
    let mut pairs: Vec<_> = sales.iter().map(|s| (s.region, s.product)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The first month (1-based) in which cumulative units reach `target`.
pub fn month_reaching(months: &[u32], target: u64) -> Option<usize> {
    running_units(months)
        .into_iter()
        .position(|total| total >= target)
        .map(|i| i + 1)
}

/// Expands every sale into one line per unit batch of ten, e.g. for labels.
pub fn label_lines(sales: &[Sale]) -> Vec<String> {
    sales
        .iter()
        .flat_map(|s| {
            let batches = s.units.div_ceil(10);
            (1..=batches).map(move |b| format!("{}-{}-{}", s.region, s.product, b))
        })
        .collect()
}

/// Average price per unit over the sales matching `product`, weighted by units.
pub fn average_price(sales: &[Sale], product: &str) -> Option<f64> {
    let (units, revenue) = sales
        .iter()
        .filter(|s| s.product == product)
        .fold((0u64, 0.0), |(u, r), s| {
            (u + u64::from(s.units), r + s.revenue())
        });
    (units > 0).then(|| revenue / units as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<Sale> {
        let s = |region, product, month, units, unit_price| Sale {
            region,
            product,
            month,
            units,
            unit_price,
        };
        vec![
            s("north", "widget", 1, 10, 2.5),
            s("south", "widget", 1, 4, 2.5),
            s("north", "gadget", 2, 3, 10.0),
            s("south", "gizmo", 3, 25, 1.0),
            s("north", "widget", 3, 6, 3.0),
        ]
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn totals() {
        let d = data();
        assert!(close(total_revenue(&d), 25.0 + 10.0 + 30.0 + 25.0 + 18.0));
        let by_region = revenue_by_region(&d);
        assert!(close(by_region["north"], 73.0));
        assert!(close(by_region["south"], 35.0));
        assert_eq!(by_region.len(), 2);
        assert_eq!(total_revenue(&[]), 0.0);
    }

    #[test]
    fn best_selling_product() {
        assert_eq!(best_seller(&data()), Some(("gizmo", 25)));
        assert_eq!(best_seller(&[]), None);
    }

    #[test]
    fn month_series() {
        let months = monthly_units(&data());
        assert_eq!(&months[..4], &[14, 3, 31, 0]);
        assert_eq!(month_over_month(&months[..4]), vec![-11, 28, -31]);
        assert_eq!(running_units(&months[..4]), vec![14, 17, 48, 48]);
        assert_eq!(month_reaching(&months, 17), Some(2));
        assert_eq!(month_reaching(&months, 1000), None);
        assert!(month_over_month(&[]).is_empty());
    }

    #[test]
    fn distinct_pairs() {
        let cat = catalogue(&data());
        assert_eq!(
            cat,
            vec![
                ("north", "gadget"),
                ("north", "widget"),
                ("south", "gizmo"),
                ("south", "widget")
            ]
        );
    }

    #[test]
    fn labels_per_batch() {
        let labels = label_lines(&data()[3..]);
        assert_eq!(
            labels,
            vec![
                "south-gizmo-1",
                "south-gizmo-2",
                "south-gizmo-3",
                "north-widget-1"
            ]
        );
    }

    #[test]
    fn weighted_average() {
        let avg = average_price(&data(), "widget").unwrap();
        assert!(close(avg, (25.0 + 10.0 + 18.0) / 20.0));
        assert_eq!(average_price(&data(), "none"), None);
    }
}
