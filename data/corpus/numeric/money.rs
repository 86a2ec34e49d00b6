//! Money as integer minor units (cents), never as floating point.
//!
//! `0.1 + 0.2 != 0.3` in binary floating point, which is unacceptable for
//! prices. `Money` stores cents in an `i64` with a currency code, refuses to
//! mix currencies, checks every operation for overflow and splits amounts
//! without losing a cent.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Eur,
    Usd,
    Jpy,
}

impl Currency {
    /// Digits after the decimal point for this currency.
    pub fn decimals(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::Eur => "EUR",
            Currency::Usd => "USD",
            Currency::Jpy => "JPY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    CurrencyMismatch(Currency, Currency),
    Overflow,
    Parse(String),
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::CurrencyMismatch(a, b) => {
                write!(f, "cannot combine {} with {}", a.code(), b.code())
            }
            MoneyError::Overflow => write!(f, "amount out of range"),
            MoneyError::Parse(why) => write!(f, "invalid amount: {}", why),
        }
    }
}

impl std::error::Error for MoneyError {}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Multiplies by a whole quantity.
    pub fn times(self, quantity: i64) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Applies a rate given in basis points (1/100 of a percent), rounding half
    /// away from zero. 1950 basis points is 19.5 %.
    pub fn rate_bp(self, basis_points: i64) -> Result<Money, MoneyError> {
        let product = i128::from(self.minor) * i128::from(basis_points);
        let rounded = (product + product.signum() * 5_000) / 10_000;
        let minor = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Splits into `parts` amounts that differ by at most one minor unit and
    /// add up exactly to the original. The first parts get the extra units.
    pub fn split(self, parts: usize) -> Vec<Money> {
        if parts == 0 {
            return Vec::new();
        }
        let n = parts as i64;
        let base = self.minor.div_euclid(n);
        let extra = self.minor.rem_euclid(n) as usize;
        (0..parts)
            .map(|i| Money {
                minor: base + i64::from(i < extra),
                ..self
            })
            .collect()
    }

    /// Sums many amounts, all of which must share `currency`.
    pub fn sum<'a, I>(currency: Currency, amounts: I) -> Result<Money, MoneyError>
    where
        I: IntoIterator<Item = &'a Money>,
    {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(*m))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimals = self.currency.decimals();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if decimals == 0 {
            return write!(f, "{}{} {}", sign, abs, self.currency.code());
        }
        let scale = 10u64.pow(decimals);
        write!(
            f,
            "{}{}.{:0width$} {}",
            sign,
            abs / scale,
            abs % scale,
            self.currency.code(),
            width = decimals as usize
        )
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Parses `"12.34 EUR"`, `"-0.5 USD"` or `"500 JPY"`.
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        let bad = |why: &str| MoneyError::Parse(format!("{:?}: {}", s, why));
        let (amount, code) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| bad("expected `<amount> <currency>`"))?;
        let currency = match code.trim() {
            "EUR" => Currency::Eur,
            "USD" => Currency::Usd,
            "JPY" => Currency::Jpy,
            _ => return Err(bad("unknown currency")),
        };
        let (negative, digits) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let decimals = currency.decimals() as usize;
        let valid_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !valid_digits(whole) || !valid_digits(frac) {
            return Err(bad("not a decimal number"));
        }
        if frac.len() > decimals {
            return Err(bad("too many decimal places"));
        }
        let padded = format!("{}{:0<width$}", whole, frac, width = decimals);
        let value: i64 = padded.parse().map_err(|_| MoneyError::Overflow)?;
        Ok(Money {
            minor: if negative { -value } else { value },
            currency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(cents: i64) -> Money {
        Money::from_minor(cents, Currency::Eur)
    }

    #[test]
    fn display() {
        assert_eq!(eur(1234).to_string(), "12.34 EUR");
        assert_eq!(eur(-5).to_string(), "-0.05 EUR");
        assert_eq!(Money::from_minor(500, Currency::Jpy).to_string(), "500 JPY");
        assert_eq!(eur(i64::MIN).to_string(), "-92233720368547758.08 EUR");
    }

    #[test]
    fn parsing() {
        assert_eq!("12.34 EUR".parse(), Ok(eur(1234)));
        assert_eq!("12.3 EUR".parse(), Ok(eur(1230)));
        assert_eq!("-0.5 EUR".parse(), Ok(eur(-50)));
        assert_eq!("7 EUR".parse(), Ok(eur(700)));
        assert_eq!("500 JPY".parse::<Money>().map(|m| m.minor()), Ok(500));
        assert!(matches!(
            "1.234 EUR".parse::<Money>(),
            Err(MoneyError::Parse(_))
        ));
        assert!(matches!(
            "1.5 JPY".parse::<Money>(),
            Err(MoneyError::Parse(_))
        ));
        assert!(matches!(
            "12 GBP".parse::<Money>(),
            Err(MoneyError::Parse(_))
        ));
        assert!(matches!(
            "1e3 USD".parse::<Money>(),
            Err(MoneyError::Parse(_))
        ));
        assert_eq!(
            "99999999999999999999 USD".parse::<Money>(),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(eur(150).checked_add(eur(275)), Ok(eur(425)));
        assert_eq!(eur(100).checked_sub(eur(250)), Ok(eur(-150)));
        let usd = Money::from_minor(1, Currency::Usd);
        assert_eq!(
            eur(1).checked_add(usd),
            Err(MoneyError::CurrencyMismatch(Currency::Eur, Currency::Usd))
        );
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(eur(250).times(3), Ok(eur(750)));
        assert_eq!(eur(i64::MAX).times(2), Err(MoneyError::Overflow));
    }

    #[test]
    fn rates_round_half_away_from_zero() {
        assert_eq!(eur(1000).rate_bp(1950), Ok(eur(195)));
        assert_eq!(eur(5).rate_bp(5000), Ok(eur(3)));
        assert_eq!(eur(-5).rate_bp(5000), Ok(eur(-3)));
        assert_eq!(eur(i64::MAX).rate_bp(20_000), Err(MoneyError::Overflow));
    }

    #[test]
    fn splitting_keeps_every_cent() {
        let parts = eur(1000).split(3);
        assert_eq!(parts, vec![eur(334), eur(333), eur(333)]);
        assert_eq!(Money::sum(Currency::Eur, &parts), Ok(eur(1000)));
        let negative = eur(-10).split(4);
        assert_eq!(Money::sum(Currency::Eur, &negative), Ok(eur(-10)));
        assert!(eur(5).split(0).is_empty());
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            MoneyError::CurrencyMismatch(Currency::Usd, Currency::Jpy).to_string(),
            "cannot combine USD with JPY"
        );
        let err = "abc".parse::<Money>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid amount: \"abc\": expected `<amount> <currency>`"
        );
    }
}
