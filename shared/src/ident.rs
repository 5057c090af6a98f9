//! Polish register identifiers: NIP (tax), REGON (statistics, 9 or 14 digits), KRS (court
//! register). Each check says which rule failed, so a clerk can find the mistyped digit.

use crate::error::{Error, IdentKind};

const NIP_WEIGHTS: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
const REGON9_WEIGHTS: [u32; 8] = [8, 9, 2, 3, 4, 5, 6, 7];
const REGON14_WEIGHTS: [u32; 13] = [2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8];

/// Validates a NIP and returns its ten digits. Spaces and hyphens (`123-456-32-18`) are allowed.
pub fn nip(input: &str) -> Result<String, Error> {
    let digits = digits(IdentKind::Nip, input, &[10], "10")?;
    let (body, check) = split_check(&digits);
    let remainder = weighted_sum(body, &NIP_WEIGHTS) % 11;
    if remainder == 10 {
        return Err(Error::NipRemainderTen);
    }
    expect_check(IdentKind::Nip, remainder, check)?;
    Ok(to_string(&digits))
}

/// Validates a 9- or 14-digit REGON and returns its digits. A REGON-14 must start with a valid
/// REGON-9 (the entity's number, followed by the local unit's).
pub fn regon(input: &str) -> Result<String, Error> {
    let digits = digits(IdentKind::Regon, input, &[9, 14], "9 or 14")?;
    if digits.len() == 14 {
        let entity = digits.get(..9).unwrap_or_default();
        if entity.iter().all(|d| *d == 0) {
            return Err(Error::IdentZero { kind: IdentKind::Regon });
        }
        regon_check(entity, &REGON9_WEIGHTS)?;
        regon_check(&digits, &REGON14_WEIGHTS)?;
    } else {
        regon_check(&digits, &REGON9_WEIGHTS)?;
    }
    Ok(to_string(&digits))
}

/// Validates a KRS number: ten digits, no check digit, not all zeros. Shorter numbers written
/// without their leading zeros are not guessed at.
pub fn krs(input: &str) -> Result<String, Error> {
    let digits = digits(IdentKind::Krs, input, &[10], "10")?;
    if digits.iter().all(|d| *d == 0) {
        return Err(Error::IdentZero { kind: IdentKind::Krs });
    }
    Ok(to_string(&digits))
}

fn regon_check(digits: &[u32], weights: &[u32]) -> Result<(), Error> {
    let (body, check) = split_check(digits);
    expect_check(IdentKind::Regon, weighted_sum(body, weights) % 11 % 10, check)
}

fn digits(
    kind: IdentKind,
    input: &str,
    lengths: &[usize],
    expected: &'static str,
) -> Result<Vec<u32>, Error> {
    let mut digits = Vec::with_capacity(14);
    for (position, c) in input.trim().chars().enumerate() {
        match c {
            ' ' | '-' => {}
            '0'..='9' => digits.push(c as u32 - '0' as u32),
            found => {
                return Err(Error::IdentCharacter { kind, position: position + 1, found });
            }
        }
    }
    if !lengths.contains(&digits.len()) {
        return Err(Error::IdentLength { kind, expected, found: digits.len() });
    }
    if digits.iter().all(|d| *d == 0) {
        return Err(Error::IdentZero { kind });
    }
    Ok(digits)
}

fn split_check(digits: &[u32]) -> (&[u32], u32) {
    match digits.split_last() {
        Some((check, body)) => (body, *check),
        None => (&[], 0),
    }
}

fn weighted_sum(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum()
}

fn expect_check(kind: IdentKind, expected: u32, found: u32) -> Result<(), Error> {
    if expected == found { Ok(()) } else { Err(Error::IdentCheckDigit { kind, expected, found }) }
}

fn to_string(digits: &[u32]) -> String {
    digits.iter().filter_map(|d| char::from_digit(*d, 10)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nip_rules() {
        assert_eq!(nip("774-00-01-454").as_deref(), Ok("7740001454"));
        assert_eq!(nip("123 456 32 18").as_deref(), Ok("1234563218"));
        assert_eq!(
            nip("1234563217"),
            Err(Error::IdentCheckDigit { kind: IdentKind::Nip, expected: 8, found: 7 })
        );
        assert_eq!(
            nip("123456321"),
            Err(Error::IdentLength { kind: IdentKind::Nip, expected: "10", found: 9 })
        );
        assert_eq!(
            nip("PL1234563218"),
            Err(Error::IdentCharacter { kind: IdentKind::Nip, position: 1, found: 'P' })
        );
        // Weights 7 and 3 on digits three and five: the sum is 10, which no check digit can match.
        assert_eq!(nip("0010100000"), Err(Error::NipRemainderTen));
        assert_eq!(nip("0000000000"), Err(Error::IdentZero { kind: IdentKind::Nip }));
    }

    #[test]
    fn regon_rules() {
        assert_eq!(regon("123456785").as_deref(), Ok("123456785"));
        assert_eq!(
            regon("123456786"),
            Err(Error::IdentCheckDigit { kind: IdentKind::Regon, expected: 5, found: 6 })
        );
        assert_eq!(regon("12345678512347").as_deref(), Ok("12345678512347"));
        assert_eq!(
            regon("12345678512346"),
            Err(Error::IdentCheckDigit { kind: IdentKind::Regon, expected: 7, found: 6 })
        );
        // A valid-looking 14-digit number whose first nine digits are not a REGON-9.
        assert_eq!(
            regon("12345678612340"),
            Err(Error::IdentCheckDigit { kind: IdentKind::Regon, expected: 5, found: 6 })
        );
        assert_eq!(
            regon("1234567"),
            Err(Error::IdentLength { kind: IdentKind::Regon, expected: "9 or 14", found: 7 })
        );
    }

    #[test]
    fn krs_rules() {
        assert_eq!(krs("0000123456").as_deref(), Ok("0000123456"));
        assert_eq!(krs("123456"), Err(Error::IdentLength { kind: IdentKind::Krs, expected: "10", found: 6 }));
        assert_eq!(krs("0000000000"), Err(Error::IdentZero { kind: IdentKind::Krs }));
        assert_eq!(
            krs("00001234x6"),
            Err(Error::IdentCharacter { kind: IdentKind::Krs, position: 9, found: 'x' })
        );
    }
}
