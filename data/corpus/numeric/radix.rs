//! Writing and reading integers in other bases, plus hex and base64
//! encodings of byte strings.

use std::fmt;

const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Formats `n` in `radix` (2..=36) with lower-case digits.
pub fn to_radix(mut n: u64, radix: u32) -> Option<String> {
    if !(2..=36).contains(&radix) {
        return None;
    }
    if n == 0 {
        return Some("0".to_string());
    }
    let mut out = Vec::new();
    let r = u64::from(radix);
    while n > 0 {
        out.push(DIGITS[(n % r) as usize]);
        n /= r;
    }
    out.reverse();
    String::from_utf8(out).ok()
}

/// Formats a signed number, putting the sign in front.
pub fn to_radix_signed(n: i64, radix: u32) -> Option<String> {
    let digits = to_radix(n.unsigned_abs(), radix)?;
    Some(if n < 0 {
        format!("-{}", digits)
    } else {
        digits
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadixError {
    BadRadix(u32),
    Empty,
    BadDigit { position: usize, found: char },
    Overflow,
}

impl fmt::Display for RadixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RadixError::BadRadix(r) => write!(f, "radix {} is not in 2..=36", r),
            RadixError::Empty => write!(f, "no digits"),
            RadixError::BadDigit { position, found } => {
                write!(
                    f,
                    "character {:?} at position {} is not a digit in this radix",
                    found, position
                )
            }
            RadixError::Overflow => write!(f, "number does not fit in 64 bits"),
        }
    }
}

/// Parses digits in `radix`, accepting `_` as a visual separator.
pub fn from_radix(text: &str, radix: u32) -> Result<u64, RadixError> {
    if !(2..=36).contains(&radix) {
        return Err(RadixError::BadRadix(radix));
    }
    let mut value: u64 = 0;
    let mut any = false;
    for (position, c) in text.chars().enumerate() {
        if c == '_' {
            continue;
        }
        let d = c
            .to_digit(radix)
            .ok_or(RadixError::BadDigit { position, found: c })?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(RadixError::Overflow)?;
        any = true;
    }
    if any {
        Ok(value)
    } else {
        Err(RadixError::Empty)
    }
}

/// Parses literals like Rust's: `0x1f`, `0o17`, `0b101` or plain decimal.
pub fn parse_literal(text: &str) -> Result<u64, RadixError> {
    let t = text.trim();
    let (radix, digits) = match t.get(..2) {
        Some("0x") | Some("0X") => (16, &t[2..]),
        Some("0o") => (8, &t[2..]),
        Some("0b") => (2, &t[2..]),
        _ => (10, t),
    };
    from_radix(digits, radix)
}

/// Lower-case hex of a byte string.
pub fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// Decodes hex (either case); `None` for odd length or bad digits.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes padded base64; `None` on any malformed input.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, quad) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_in_bases() {
        assert_eq!(to_radix(255, 16).as_deref(), Some("ff"));
        assert_eq!(to_radix(5, 2).as_deref(), Some("101"));
        assert_eq!(to_radix(0, 7).as_deref(), Some("0"));
        assert_eq!(to_radix(35, 36).as_deref(), Some("z"));
        assert_eq!(to_radix(1, 37), None);
        assert_eq!(to_radix_signed(-255, 16).as_deref(), Some("-ff"));
        assert_eq!(
            to_radix_signed(i64::MIN, 16).as_deref(),
            Some("-8000000000000000")
        );
        assert_eq!(to_radix(u64::MAX, 2).map(|s| s.len()), Some(64));
    }

    #[test]
    fn parsing_in_bases() {
        assert_eq!(from_radix("ff", 16), Ok(255));
        assert_eq!(from_radix("1111_0000", 2), Ok(240));
        assert_eq!(from_radix("Z", 36), Ok(35));
        assert_eq!(from_radix("", 10), Err(RadixError::Empty));
        assert_eq!(from_radix("___", 10), Err(RadixError::Empty));
        assert_eq!(
            from_radix("12a", 10),
            Err(RadixError::BadDigit {
                position: 2,
                found: 'a'
            })
        );
        assert_eq!(from_radix("1", 1), Err(RadixError::BadRadix(1)));
        assert_eq!(
            from_radix("10000000000000000", 16),
            Err(RadixError::Overflow)
        );
        for n in [0u64, 1, 99, 12345678, u64::MAX] {
            for r in [2, 8, 10, 16, 36] {
                assert_eq!(from_radix(&to_radix(n, r).unwrap(), r), Ok(n));
            }
        }
    }

    #[test]
    fn literals() {
        assert_eq!(parse_literal("0x1F"), Ok(31));
        assert_eq!(parse_literal("0o17"), Ok(15));
        assert_eq!(parse_literal("0b1010"), Ok(10));
        assert_eq!(parse_literal(" 1_000 "), Ok(1000));
        assert_eq!(parse_literal("0x"), Err(RadixError::Empty));
        assert_eq!(
            parse_literal("0b102").unwrap_err().to_string(),
            "character '2' at position 2 is not a digit in this radix"
        );
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex_encode(b"\x00\xffAz"), "00ff417a");
        assert_eq!(hex_decode("00FF417a"), Some(b"\x00\xffAz".to_vec()));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_decode(""), Some(vec![]));
    }

    #[test]
    fn base64_known_values() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_decode("Zm9vYg=="), Some(b"foob".to_vec()));
        assert_eq!(base64_decode("Zm9"), None);
        assert_eq!(base64_decode("Zg==Zg=="), None);
        assert_eq!(base64_decode("Z!=="), None);
    }

    #[test]
    fn base64_round_trip_all_lengths() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..40 {
            let slice = &data[len * 3..len * 3 + len];
            assert_eq!(base64_decode(&base64_encode(slice)).as_deref(), Some(slice));
        }
    }
}
