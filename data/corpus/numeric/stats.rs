//! Descriptive statistics on `f64` samples.
//!
//! Floating point needs care: NaN is not ordered, so sorting uses
//! `total_cmp`; variance uses Welford's online algorithm, which stays
//! accurate when values are large and close together.

/// Summary of a sample, computed in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    m2: f64,
}

impl Summary {
    /// Sample variance (divides by n - 1); `None` with fewer than two values.
    pub fn variance(&self) -> Option<f64> {
        (self.count > 1).then(|| self.m2 / (self.count - 1) as f64)
    }

    pub fn std_dev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }
}

/// Accumulates statistics one value at a time (Welford's algorithm).
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    count: usize,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Accumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value; NaN values are ignored.
    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.count += 1;
        if self.count == 1 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    pub fn summary(&self) -> Option<Summary> {
        (self.count > 0).then_some(Summary {
            count: self.count,
            mean: self.mean,
            min: self.min,
            max: self.max,
            m2: self.m2,
        })
    }
}

impl Extend<f64> for Accumulator {
    fn extend<I: IntoIterator<Item = f64>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

/// Summarizes a slice.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mut acc = Accumulator::new();
    acc.extend(values.iter().copied());
    acc.summary()
}

/// The median; the mean of the two middle values for an even count.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// The p-th percentile (0..=100) with linear interpolation between ranks.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if !(0.0..=100.0).contains(&p) {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - lo as f64;
    Some(sorted[lo] * (1.0 - weight) + sorted[hi] * weight)
}

/// Pearson correlation coefficient of two equally long samples.
pub fn correlation(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// Least-squares line `y = slope * x + intercept`.
pub fn linear_fit(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    if xs.len() != ys.len() || xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// Counts values into `bins` equal-width buckets spanning [min, max].
pub fn bucket_counts(values: &[f64], bins: usize) -> Vec<usize> {
    let Some(s) = summarize(values) else {
        return vec![0; bins];
    };
    let mut counts = vec![0; bins];
    if bins == 0 {
        return counts;
    }
    let width = (s.max - s.min) / bins as f64;
    for &v in values.iter().filter(|v| !v.is_nan()) {
        let i = if width == 0.0 {
            0
        } else {
            ((v - s.min) / width) as usize
        };
        counts[i.min(bins - 1)] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn summary_basics() {
        let s = summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.count, 8);
        assert!(close(s.mean, 5.0));
        assert_eq!((s.min, s.max), (2.0, 9.0));
        assert!(close(s.variance().unwrap(), 32.0 / 7.0));
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0]).unwrap().variance(), None);
    }

    #[test]
    fn welford_is_stable() {
        let base = 1e9;
        let values: Vec<f64> = [4.0, 7.0, 13.0, 16.0].iter().map(|x| base + x).collect();
        let s = summarize(&values).unwrap();
        assert!(close(s.variance().unwrap(), 30.0));
    }

    #[test]
    fn nan_is_ignored() {
        let s = summarize(&[1.0, f64::NAN, 3.0]).unwrap();
        assert_eq!(s.count, 2);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let v = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(percentile(&v, 0.0), Some(15.0));
        assert_eq!(percentile(&v, 100.0), Some(50.0));
        assert!(close(percentile(&v, 40.0).unwrap(), 29.0));
        assert_eq!(percentile(&v, 101.0), None);
    }

    #[test]
    fn correlation_and_fit() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        let ys = [3.0, 5.0, 7.0, 9.0];
        assert!(close(correlation(&xs, &ys).unwrap(), 1.0));
        let (slope, intercept) = linear_fit(&xs, &ys).unwrap();
        assert!(close(slope, 2.0) && close(intercept, 1.0));
        let down = [4.0, 3.0, 2.0, 1.0];
        assert!(close(correlation(&xs, &down).unwrap(), -1.0));
        assert_eq!(correlation(&xs, &[1.0, 1.0, 1.0, 1.0]), None);
        assert_eq!(linear_fit(&[1.0], &[1.0]), None);
    }

    #[test]
    fn histogram_buckets() {
        assert_eq!(bucket_counts(&[0.0, 1.0, 2.0, 3.0, 4.0], 2), vec![2, 3]);
        assert_eq!(bucket_counts(&[5.0, 5.0], 3), vec![2, 0, 0]);
        assert_eq!(bucket_counts(&[], 2), vec![0, 0]);
        assert!(bucket_counts(&[1.0], 0).is_empty());
    }
}
