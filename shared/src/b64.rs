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

fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes only the canonical form: no padding, no whitespace, no non-zero trailing bits.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut group = 0u32;
        for c in chunk {
            group = (group << 6) | value(*c)?;
        }
        // A chunk of n characters carries n - 1 bytes; the bits left over must be zero.
        let spare = 6 * chunk.len() - 8 * (chunk.len() - 1);
        if group & ((1 << spare) - 1) != 0 {
            return None;
        }
        group >>= spare;
        for i in (0..chunk.len() - 1).rev() {
            out.push((group >> (8 * i)) as u8);
        }
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
