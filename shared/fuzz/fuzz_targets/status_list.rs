//! Status list claims from untrusted input, then reads and writes on arbitrary indices.
//!
//! Properties checked, besides never panicking:
//!
//! * `get` agrees with a reference reading of the draft's layout (entry `i` in byte
//!   `i * bits / 8`, least significant bits first) and fails exactly past `len()`;
//! * `set` then `get` returns the value written, leaves every other entry alone, and refuses
//!   values that do not fit in `bits`;
//! * `to_claim` then `from_claim` gives back an equal list;
//! * a zlib stream of any bytes within the size limit decodes to exactly those bytes.

#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use zp_shared::status_list::{MAX_INFLATED_LEN, StatusListClaim};
use zp_shared::{Error, Status, StatusList, base64url};

/// Lists above this many bytes get a lighter check when built directly.
const LARGE: usize = 64 << 10;

/// Entry `idx` read straight from the bytes, as the draft lays them out.
fn reference_get(list: &StatusList, idx: u64) -> Option<u8> {
    let bits = u64::from(list.bits());
    let bytes = list.as_bytes();
    if idx >= bytes.len() as u64 * 8 / bits {
        return None;
    }
    let bit = idx * bits;
    let byte = bytes[usize::try_from(bit / 8).ok()?];
    Some((byte >> (bit % 8)) & (u8::MAX >> (8 - bits)))
}

fn check_get(list: &StatusList, idx: u64) {
    let got = list.get(idx);
    match reference_get(list, idx) {
        Some(value) => {
            assert_eq!(got, Ok(value), "get({idx})");
            assert_eq!(list.status(idx), Ok(Status::from_value(value)));
            assert_eq!(Status::from_value(value).value(), value);
        }
        None => assert_eq!(got, Err(Error::StatusIndex { idx, len: list.len() }), "get({idx}) past the end"),
    }
}

fn check_round_trip(list: &StatusList) {
    let claim = list.to_claim();
    assert_eq!(claim.bits, u64::from(list.bits()));
    let back = StatusList::from_claim(&claim);
    assert_eq!(back.as_ref(), Ok(list), "to_claim then from_claim");
}

/// An index: in range (or just past it) most of the time, anything otherwise.
fn index(u: &mut Unstructured<'_>, len: u64) -> u64 {
    if u.ratio(1, 4).unwrap_or(false) {
        return u.arbitrary().unwrap_or(0);
    }
    let bound = len.saturating_add(2);
    u.int_in_range(0..=bound - 1).unwrap_or(0)
}

/// Reads and writes driven by `u`, checked against the reference reading.
fn exercise(u: &mut Unstructured<'_>, mut list: StatusList) {
    let bits = list.bits();
    let mask = u8::MAX >> (8 - bits);
    let len = list.len();
    assert_eq!(len, list.as_bytes().len() as u64 * 8 / u64::from(bits));
    assert_eq!(list.is_empty(), list.as_bytes().is_empty());
    check_get(&list, len);
    check_get(&list, u64::MAX);
    if len > 0 {
        check_get(&list, 0);
        check_get(&list, len - 1);
    }
    let ops = u.int_in_range(0..=64u8).unwrap_or(0);
    for _ in 0..ops {
        if u.is_empty() {
            break;
        }
        let idx = index(u, len);
        if u.arbitrary::<bool>().unwrap_or(false) {
            check_get(&list, idx);
            continue;
        }
        let value = if u.ratio(1, 8).unwrap_or(false) {
            u.arbitrary().unwrap_or(0)
        } else {
            u.arbitrary::<u8>().unwrap_or(0) & mask
        };
        let before = list.clone();
        let result = list.set(idx, value);
        if idx >= len {
            assert_eq!(result, Err(Error::StatusIndex { idx, len }), "set({idx}) past the end");
            assert_eq!(list, before);
        } else if value > mask {
            assert_eq!(result, Err(Error::StatusValue { value, bits }), "set({idx}, {value}) too wide");
            assert_eq!(list, before);
        } else {
            assert_eq!(result, Ok(()), "set({idx}, {value})");
            assert_eq!(list.get(idx), Ok(value), "get after set({idx}, {value})");
            assert_eq!(list.bits(), bits);
            assert_eq!(list.len(), len);
            // Only the entries sharing the byte could have moved; they must not have.
            let per_byte = u64::from(8 / bits);
            let first = idx / per_byte * per_byte;
            for other in first..(first + per_byte).min(len) {
                if other != idx {
                    assert_eq!(list.get(other), before.get(other), "set({idx}) changed entry {other}");
                }
            }
            let mut undone = list.clone();
            undone.set(idx, before.get(idx).unwrap_or_default()).unwrap_or_default();
            assert_eq!(undone, before, "set({idx}) touched other bytes");
        }
    }
    check_round_trip(&list);
}

fn bits(u: &mut Unstructured<'_>) -> u64 {
    match u.int_in_range(0..=4u8).unwrap_or(0) {
        0 => 1,
        1 => 2,
        2 => 4,
        3 => 8,
        _ => u.arbitrary().unwrap_or(0),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mode = u.arbitrary::<u8>().unwrap_or(0);
    let bits = bits(&mut u);
    let valid_bits = matches!(bits, 1 | 2 | 4 | 8);
    // Most of the input is the list; what is left of it drives the reads and writes.
    let body_len = u.arbitrary_len::<u8>().unwrap_or(0);
    let body = u.bytes(body_len).unwrap_or_default();
    let claim = match mode % 4 {
        // Arbitrary text as `lst`.
        0 => StatusListClaim { bits, lst: String::from_utf8_lossy(body).into_owned() },
        // Arbitrary bytes as the compressed list.
        1 => StatusListClaim { bits, lst: base64url::encode(body) },
        // Arbitrary bytes as the inflated list: must decode to exactly them.
        2 => {
            let level = mode / 4 % 11;
            let compressed = miniz_oxide::deflate::compress_to_vec_zlib(body, level);
            let claim = StatusListClaim { bits, lst: base64url::encode(compressed) };
            let decoded = StatusList::from_claim(&claim);
            if valid_bits && body.len() <= MAX_INFLATED_LEN {
                assert_eq!(decoded.as_ref().map(StatusList::as_bytes), Ok(body), "zlib of the bytes");
            } else if !valid_bits {
                assert_eq!(decoded, Err(Error::StatusBits(bits)));
            }
            claim
        }
        // Lists built directly rather than decoded.
        _ => {
            let list = if mode & 4 == 0 {
                let len = if u.ratio(1, 16).unwrap_or(false) {
                    u.arbitrary::<u64>().unwrap_or(0)
                } else {
                    u64::from(u.arbitrary::<u16>().unwrap_or(0))
                };
                let built = StatusList::new(u8::try_from(bits).unwrap_or(u8::MAX), len);
                let fits = len.saturating_mul(bits).div_ceil(8) <= MAX_INFLATED_LEN as u64;
                match &built {
                    Ok(list) => {
                        assert!(valid_bits && fits, "new({bits}, {len}) accepted");
                        assert!(list.len() >= len, "new({bits}, {len}) is too short");
                        assert!(list.as_bytes().iter().all(|b| *b == 0));
                    }
                    Err(Error::StatusBits(_)) => assert!(!valid_bits, "new({bits}, {len}) refused the width"),
                    Err(err) => assert!(valid_bits && !fits, "new({bits}, {len}): {err}"),
                }
                built
            } else {
                let built = StatusList::from_bytes(u8::try_from(bits).unwrap_or(u8::MAX), body.to_vec());
                assert_eq!(built.is_ok(), valid_bits);
                built
            };
            match list {
                // Huge empty lists: the checks above suffice; compressing 16 MiB every run would
                // only slow the search down.
                Ok(list) if list.as_bytes().len() > LARGE => {
                    check_get(&list, list.len() - 1);
                    check_get(&list, list.len());
                }
                Ok(list) => exercise(&mut u, list),
                Err(_) => {}
            }
            return;
        }
    };
    let decoded = StatusList::from_claim(&claim);
    if !valid_bits {
        assert_eq!(decoded, Err(Error::StatusBits(bits)));
    }
    if let Ok(list) = decoded {
        assert_eq!(u64::from(list.bits()), bits);
        assert!(list.as_bytes().len() <= MAX_INFLATED_LEN);
        exercise(&mut u, list);
    }
});
