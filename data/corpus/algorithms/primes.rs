//! Number theory helpers: sieves, factorization, greatest common divisors
//! and modular arithmetic, all on unsigned integers with overflow in mind.

/// All primes below `limit`, using the sieve of Eratosthenes.
pub fn primes_below(limit: usize) -> Vec<usize> {
    if limit < 3 {
        return Vec::new();
    }
    let mut composite = vec![false; limit];
    let mut primes = Vec::new();
    for n in 2..limit {
        if composite[n] {
            continue;
        }
        primes.push(n);
        // Start at n*n: smaller multiples were crossed out by smaller primes.
        let mut multiple = n.saturating_mul(n);
        while multiple < limit {
            composite[multiple] = true;
            multiple += n;
        }
    }
    primes
}

/// Prime factors with multiplicity as `(prime, exponent)` pairs, ascending.
/// Trial division is plenty fast for numbers up to about 10^12.
pub fn factorize(mut n: u64) -> Vec<(u64, u32)> {
    let mut factors = Vec::new();
    let mut p = 2u64;
    while p.saturating_mul(p) <= n {
        if n.is_multiple_of(p) {
            let mut exp = 0;
            while n.is_multiple_of(p) {
                n /= p;
                exp += 1;
            }
            factors.push((p, exp));
        }
        p += if p == 2 { 1 } else { 2 };
    }
    if n > 1 {
        factors.push((n, 1));
    }
    factors
}

/// Number of positive divisors, computed from the factorization.
pub fn divisor_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    factorize(n)
        .iter()
        .map(|&(_, e)| u64::from(e) + 1)
        .product()
}

/// Euclid's algorithm.
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Least common multiple, or `None` on overflow. lcm(0, x) is 0.
pub fn lcm(a: u64, b: u64) -> Option<u64> {
    if a == 0 || b == 0 {
        return Some(0);
    }
    (a / gcd(a, b)).checked_mul(b)
}

/// Extended Euclid: returns `(g, x, y)` with `a*x + b*y == g == gcd(a, b)`.
pub fn extended_gcd(a: i64, b: i64) -> (i64, i64, i64) {
    if b == 0 {
        (a, 1, 0)
    } else {
        let (g, x, y) = extended_gcd(b, a % b);
        (g, y, x - (a / b) * y)
    }
}

/// `base^exp mod modulus` by repeated squaring. Intermediate products use
/// u128 so any u64 modulus works.
pub fn mod_pow(base: u64, mut exp: u64, modulus: u64) -> u64 {
    if modulus == 1 {
        return 0;
    }
    let m = u128::from(modulus);
    let mut result: u128 = 1;
    let mut b = u128::from(base) % m;
    while exp > 0 {
        if exp & 1 == 1 {
            result = result * b % m;
        }
        b = b * b % m;
        exp >>= 1;
    }
    result as u64
}

/// The inverse of `a` modulo `m`, if `a` and `m` are coprime.
pub fn mod_inverse(a: i64, m: i64) -> Option<i64> {
    let (g, x, _) = extended_gcd(a.rem_euclid(m), m);
    if g == 1 {
        Some(x.rem_euclid(m))
    } else {
        None
    }
}

/// Deterministic Miller-Rabin test, correct for every u64.
pub fn is_probable_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    const WITNESSES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    for &p in &WITNESSES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let mut d = n - 1;
    let mut r = 0;
    while d.is_multiple_of(2) {
        d /= 2;
        r += 1;
    }
    'witness: for &a in &WITNESSES {
        let mut x = mod_pow(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..r {
            x = mod_pow(x, 2, n);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// Euler's totient: how many of `1..=n` are coprime with `n`.
pub fn totient(n: u64) -> u64 {
    factorize(n)
        .iter()
        .fold(n, |acc, &(p, _)| acc / p * (p - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sieve() {
        assert_eq!(primes_below(30), vec![2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(primes_below(2).is_empty());
        assert_eq!(primes_below(3), vec![2]);
        assert_eq!(primes_below(10_000).len(), 1229);
    }

    #[test]
    fn factorization() {
        assert_eq!(factorize(360), vec![(2, 3), (3, 2), (5, 1)]);
        assert_eq!(factorize(97), vec![(97, 1)]);
        assert!(factorize(1).is_empty());
        assert_eq!(
            factorize(600851475143),
            vec![(71, 1), (839, 1), (1471, 1), (6857, 1)]
        );
        assert_eq!(divisor_count(36), 9);
        assert_eq!(divisor_count(1), 1);
        assert_eq!(divisor_count(0), 0);
    }

    #[test]
    fn gcd_and_lcm() {
        assert_eq!(gcd(48, 18), 6);
        assert_eq!(gcd(0, 5), 5);
        assert_eq!(lcm(4, 6), Some(12));
        assert_eq!(lcm(0, 6), Some(0));
        assert_eq!(lcm(u64::MAX, u64::MAX - 1), None);
        let (g, x, y) = extended_gcd(240, 46);
        assert_eq!(g, 2);
        assert_eq!(240 * x + 46 * y, 2);
    }

    #[test]
    fn modular_arithmetic() {
        assert_eq!(mod_pow(2, 10, 1000), 24);
        assert_eq!(mod_pow(7, 0, 13), 1);
        assert_eq!(mod_pow(5, 3, 1), 0);
        assert_eq!(mod_pow(u64::MAX, 2, u64::MAX - 1), 1);
        assert_eq!(mod_inverse(3, 11), Some(4));
        assert_eq!(mod_inverse(-3, 11), Some(7));
        assert_eq!(mod_inverse(6, 9), None);
    }

    #[test]
    fn primality() {
        let small: Vec<u64> = (0..50).filter(|&n| is_probable_prime(n)).collect();
        let sieved: Vec<u64> = primes_below(50).into_iter().map(|p| p as u64).collect();
        assert_eq!(small, sieved);
        assert!(is_probable_prime(18446744073709551557));
        assert!(!is_probable_prime(3215031751));
        assert!(!is_probable_prime(u64::MAX));
    }

    #[test]
    fn totients() {
        assert_eq!(totient(1), 1);
        assert_eq!(totient(9), 6);
        assert_eq!(totient(36), 12);
        assert_eq!(totient(97), 96);
    }
}
