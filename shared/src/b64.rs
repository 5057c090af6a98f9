//! Canonical unpadded base64url (RFC 7515 §2): one encoding per byte string, so a token cannot be
//! re-encoded into a second valid form.

//!
//! Written out rather than taken from the `base64` crate: the badge downloads this code, and the
//! crate's general-purpose engine was several times the size of these two functions. The tests
//! below and the conformance suite (RFC 7515, RFC 8037 vectors) hold it to the same behaviour.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk.first(), chunk.get(1), chunk.get(2)].map(|b| u32::from(b.copied().unwrap_or(0)));
        let group = (b[0] << 16) | (b[1] << 8) | b[2];
        // n input bytes give n + 1 characters.
        for i in 0..=chunk.len() {
            let index = (group >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET.get(index as usize).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// Each byte's 6-bit value in the alphabet, or `NOT_IN_ALPHABET`.
const NOT_IN_ALPHABET: u8 = 0xff;
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time, where an index out of range fails the build"
)]
const VALUES: [u8; 256] = {
    let mut values = [NOT_IN_ALPHABET; 256];
    let mut i = 0;
    while i < 64 {
        values[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    values
};

fn value(c: u8) -> Option<u32> {
    VALUES.get(usize::from(c)).copied().filter(|v| *v != NOT_IN_ALPHABET).map(u32::from)
}

/// Decodes only the canonical form: no padding, no whitespace, no non-zero trailing bits.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut quads = text.chunks_exact(4);
    for quad in &mut quads {
        let &[a, b, c, d] = quad else { return None };
        let group = (value(a)? << 18) | (value(b)? << 12) | (value(c)? << 6) | value(d)?;
        out.extend_from_slice(&[(group >> 16) as u8, (group >> 8) as u8, group as u8]);
    }
    // The last two or three characters carry one or two bytes; the bits left over must be zero.
    match *quads.remainder() {
        [] => {}
        [a, b] => {
            let group = (value(a)? << 6) | value(b)?;
            if group & 0xf != 0 {
                return None;
            }
            out.push((group >> 4) as u8);
        }
        [a, b, c] => {
            let group = (value(a)? << 12) | (value(b)? << 6) | value(c)?;
            if group & 0x3 != 0 {
                return None;
            }
            out.extend_from_slice(&[(group >> 10) as u8, (group >> 2) as u8]);
        }
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(encode(b"\xfb\xff"), "-_8");
        assert_eq!(decode("-_8").as_deref(), Some(&b"\xfb\xff"[..]));
        assert_eq!(decode("-_8="), None, "padding");
        assert_eq!(decode("+/8"), None, "standard alphabet");
        assert_eq!(decode("-_9"), None, "non-zero trailing bits");
        assert_eq!(decode("-_ 8"), None, "whitespace");
        assert_eq!(decode("A"), None, "impossible length");
        assert_eq!(decode("").as_deref(), Some(&b""[..]));
        assert_eq!(decode("AA"), Some(vec![0]));
        assert_eq!(decode("AB"), None, "non-zero trailing bits, one byte");
        assert_eq!(decode("AAB"), None, "non-zero trailing bits, two bytes");
    }

    /// The same answers as the `base64` crate's strict URL-safe engine, on every short input.
    #[test]
    fn agrees_with_the_base64_crate() {
        use base64::Engine;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let engine = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new()
                .with_encode_padding(false)
                .with_decode_padding_mode(DecodePaddingMode::RequireNone)
                .with_decode_allow_trailing_bits(false),
        );
        let mut bytes = Vec::new();
        for n in 0..300u32 {
            bytes.push((n.wrapping_mul(2_654_435_761) >> 13) as u8);
            assert_eq!(encode(&bytes), engine.encode(&bytes));
        }
        let symbols = b"AQgw-_=+/ .9z";
        let mut text = Vec::new();
        for n in 0..20_000u32 {
            text.clear();
            let mut m = n;
            for _ in 0..(n % 7) {
                text.push(symbols[(m % symbols.len() as u32) as usize]);
                m /= symbols.len() as u32;
            }
            let text = std::str::from_utf8(&text).unwrap();
            assert_eq!(decode(text), engine.decode(text).ok(), "{text:?}");
        }
    }
}
