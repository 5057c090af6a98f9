//! IETF Token Status List (draft-ietf-oauth-status-list): a signed `statuslist+jwt` holding a
//! bit array, `bits` per certificate, zlib-compressed and base64url-encoded.
//!
//! Entry `i` sits in byte `i * bits / 8`, starting from the least significant bit.

use serde::{Deserialize, Serialize};

use crate::b64;
use crate::error::{Error, Part};
use crate::json::Fields;
use crate::jwk::KeySet;
use crate::signed_list::{self, ListKind};
use crate::token::Rules;

/// `typ` of a status list token.
pub const STATUS_LIST_TYP: &str = "statuslist+jwt";
/// Largest status list token accepted.
pub const MAX_STATUS_LIST_LEN: usize = 4 << 20;
/// Largest inflated list accepted: 64 Mi entries at 2 bits, far beyond any issuer, and a bound
/// on what a hostile list can make us allocate.
pub const MAX_INFLATED_LEN: usize = 16 << 20;
/// Bits per entry in the lists we publish.
pub const BITS: u8 = 2;

/// A certificate's state as a status list records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Valid,
    Revoked,
    Suspended,
    /// 0x03 and above: application-specific; we treat them as not valid.
    Other(u8),
}

impl Status {
    pub fn from_value(value: u8) -> Self {
        match value {
            0 => Status::Valid,
            1 => Status::Revoked,
            2 => Status::Suspended,
            other => Status::Other(other),
        }
    }

    pub fn value(self) -> u8 {
        match self {
            Status::Valid => 0,
            Status::Revoked => 1,
            Status::Suspended => 2,
            Status::Other(value) => value,
        }
    }
}

/// The bit array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
}

impl StatusList {
    /// An all-valid list with room for at least `len` entries.
    pub fn new(bits: u8, len: u64) -> Result<Self, Error> {
        check_bits(u64::from(bits))?;
        let byte_len = len.saturating_mul(u64::from(bits)).div_ceil(8);
        let byte_len = usize::try_from(byte_len).ok().filter(|n| *n <= MAX_INFLATED_LEN);
        let byte_len = byte_len.ok_or(Error::StatusIndex { idx: len, len: 0 })?;
        Ok(StatusList { bits, bytes: vec![0; byte_len] })
    }

    pub fn from_bytes(bits: u8, bytes: Vec<u8>) -> Result<Self, Error> {
        check_bits(u64::from(bits))?;
        Ok(StatusList { bits, bytes })
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of entries the list holds.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * 8 / u64::from(self.bits)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn locate(&self, idx: u64) -> Result<(usize, u32, u8), Error> {
        let len = self.len();
        if idx >= len {
            return Err(Error::StatusIndex { idx, len });
        }
        let bit = idx * u64::from(self.bits);
        let byte = usize::try_from(bit / 8).map_err(|_| Error::StatusIndex { idx, len })?;
        let mask = u8::MAX >> (8 - self.bits);
        Ok((byte, (bit % 8) as u32, mask))
    }

    pub fn get(&self, idx: u64) -> Result<u8, Error> {
        let (byte, shift, mask) = self.locate(idx)?;
        let value = self.bytes.get(byte).copied().unwrap_or_default();
        Ok((value >> shift) & mask)
    }

    pub fn status(&self, idx: u64) -> Result<Status, Error> {
        self.get(idx).map(Status::from_value)
    }

    pub fn set(&mut self, idx: u64, value: u8) -> Result<(), Error> {
        let (byte, shift, mask) = self.locate(idx)?;
        if value > mask {
            return Err(Error::StatusValue { value, bits: self.bits });
        }
        if let Some(slot) = self.bytes.get_mut(byte) {
            *slot = (*slot & !(mask << shift)) | (value << shift);
        }
        Ok(())
    }

    /// The `status_list` claim: zlib at the best compression, base64url.
    pub fn to_claim(&self) -> StatusListClaim {
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&self.bytes, 10);
        StatusListClaim { bits: u64::from(self.bits), lst: b64::encode(compressed) }
    }

    /// Decodes a `status_list` claim, refusing lists that inflate beyond [`MAX_INFLATED_LEN`].
    pub fn from_claim(claim: &StatusListClaim) -> Result<Self, Error> {
        CompressedStatusList::from_claim(claim)?.inflate()
    }
}

/// A `status_list` claim decoded from base64url but not yet inflated: its `bits` and zlib bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedStatusList {
    bits: u8,
    zlib: Vec<u8>,
}

impl CompressedStatusList {
    fn from_claim(claim: &StatusListClaim) -> Result<Self, Error> {
        let bits = check_bits(claim.bits)?;
        let zlib = b64::decode(&claim.lst).ok_or(Error::Base64(Part::Payload))?;
        Ok(CompressedStatusList { bits, zlib })
    }

    /// The zlib stream (RFC 1950) to inflate.
    pub fn zlib(&self) -> &[u8] {
        &self.zlib
    }

    /// Inflates the list here, refusing one larger than [`MAX_INFLATED_LEN`].
    pub fn inflate(self) -> Result<StatusList, Error> {
        let bytes = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&self.zlib, MAX_INFLATED_LEN)
            .map_err(|_| Error::StatusInflate { max: MAX_INFLATED_LEN })?;
        Ok(StatusList { bits: self.bits, bytes })
    }

    /// Takes the list as inflated elsewhere from [`zlib`](Self::zlib) (the badge uses the
    /// browser's own zlib rather than downloading one), refusing one larger than
    /// [`MAX_INFLATED_LEN`]; `None` means it could not be inflated within that bound.
    pub fn inflated(self, bytes: Option<Vec<u8>>) -> Result<StatusList, Error> {
        match bytes {
            Some(bytes) if bytes.len() <= MAX_INFLATED_LEN => Ok(StatusList { bits: self.bits, bytes }),
            _ => Err(Error::StatusInflate { max: MAX_INFLATED_LEN }),
        }
    }
}

fn check_bits(bits: u64) -> Result<u8, Error> {
    match bits {
        1 | 2 | 4 | 8 => Ok(bits as u8),
        other => Err(Error::StatusBits(other)),
    }
}

/// The `status_list` claim as carried in the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListClaim {
    pub bits: u64,
    pub lst: String,
}

/// The claims of a status list token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListClaims {
    pub iss: String,
    /// The URI of this list; the `uri` that tokens carry in their `status` claim.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// Seconds a verifier may cache the list before fetching it again.
    pub ttl: u64,
    pub status_list: StatusListClaim,
}

/// A status list whose signature, subject, and times were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStatusList<L = StatusList> {
    pub kid: String,
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub ttl: u64,
    pub list: L,
}

const KIND: ListKind = ListKind {
    typ: STATUS_LIST_TYP,
    max_len: MAX_STATUS_LIST_LEN,
    wrong_uri: |expected, found| Error::StatusListUri { expected, found },
    expired: |exp, now| Error::StatusListExpired { exp, now },
};

/// Verifies a status list token fetched from `uri` (the `uri` in the certificate's `status`).
pub fn verify_status_list(
    token: &str,
    keys: &KeySet,
    now: i64,
    rules: &Rules,
    uri: &str,
) -> Result<VerifiedStatusList, Error> {
    verify_compressed_status_list(token, keys, now, rules, uri)?.with_list(CompressedStatusList::inflate)
}

impl<L> VerifiedStatusList<L> {
    /// The same verified list, its list turned into another form by `f` (inflated, say).
    pub fn with_list<M>(self, f: impl FnOnce(L) -> Result<M, Error>) -> Result<VerifiedStatusList<M>, Error> {
        let VerifiedStatusList { kid, iss, sub, iat, exp, ttl, list } = self;
        Ok(VerifiedStatusList { kid, iss, sub, iat, exp, ttl, list: f(list)? })
    }
}

/// [`verify_status_list`] but for the last step: the signature, claims and times are checked and
/// the list decoded from base64url, but it is left compressed, for a verifier that inflates it
/// elsewhere and hands it back through [`CompressedStatusList::inflated`].
pub fn verify_compressed_status_list(
    token: &str,
    keys: &KeySet,
    now: i64,
    rules: &Rules,
    uri: &str,
) -> Result<VerifiedStatusList<CompressedStatusList>, Error> {
    let (kid, claims) = signed_list::verify(&KIND, token, keys, now, rules, uri)?;
    let fields = Fields::new(&claims, "");
    let list = Fields::new(fields.object("status_list")?, "status_list");
    let claims = StatusListClaims {
        iss: fields.string("iss")?,
        sub: fields.string("sub")?,
        iat: fields.i64("iat")?,
        exp: fields.i64("exp")?,
        ttl: fields.u64("ttl")?,
        status_list: StatusListClaim { bits: list.u64("bits")?, lst: list.string("lst")? },
    };
    let list = CompressedStatusList::from_claim(&claims.status_list)?;
    Ok(VerifiedStatusList {
        kid,
        iss: claims.iss,
        sub: claims.sub,
        iat: claims.iat,
        exp: claims.exp,
        ttl: claims.ttl,
        list,
    })
}

/// Signs a status list (sign feature).
#[cfg(feature = "sign")]
pub fn sign_status_list(claims: &StatusListClaims, key: &crate::signing::IssuerKey) -> Result<String, Error> {
    key.sign_jwt(STATUS_LIST_TYP, claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The two examples of draft-ietf-oauth-status-list §4.1 (bits 1 and 2).
    const ONE_BIT: [u8; 16] = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
    const TWO_BIT: [u8; 12] = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];

    fn list_of(bits: u8, values: &[u8]) -> StatusList {
        let mut list = StatusList::new(bits, values.len() as u64).unwrap();
        for (idx, value) in values.iter().enumerate() {
            list.set(idx as u64, *value).unwrap();
        }
        list
    }

    #[test]
    fn draft_examples_byte_layout() {
        assert_eq!(list_of(1, &ONE_BIT).as_bytes(), [0xB9, 0xA3]);
        assert_eq!(list_of(2, &TWO_BIT).as_bytes(), [0xC9, 0x44, 0xF9]);
    }

    #[test]
    fn draft_examples_decode() {
        let one = StatusList::from_claim(&StatusListClaim { bits: 1, lst: "eNrbuRgAAhcBXQ".into() }).unwrap();
        assert_eq!(one.as_bytes(), [0xB9, 0xA3]);
        for (idx, value) in ONE_BIT.iter().enumerate() {
            assert_eq!(one.get(idx as u64).unwrap(), *value, "index {idx}");
        }
        let two =
            StatusList::from_claim(&StatusListClaim { bits: 2, lst: "eNo76fITAAPfAgc".into() }).unwrap();
        assert_eq!(two.as_bytes(), [0xC9, 0x44, 0xF9]);
        for (idx, value) in TWO_BIT.iter().enumerate() {
            assert_eq!(two.get(idx as u64).unwrap(), *value, "index {idx}");
        }
        assert_eq!(two.status(1).unwrap(), Status::Suspended);
        assert_eq!(two.get(12), Err(Error::StatusIndex { idx: 12, len: 12 }));
    }

    #[test]
    fn a_list_inflated_elsewhere_is_taken_within_the_bound() {
        let list = list_of(2, &TWO_BIT);
        let compressed = CompressedStatusList::from_claim(&list.to_claim()).unwrap();
        let elsewhere = miniz_oxide::inflate::decompress_to_vec_zlib(compressed.zlib()).unwrap();
        assert_eq!(compressed.clone().inflated(Some(elsewhere)), Ok(list.clone()));
        assert_eq!(compressed.clone().inflate(), Ok(list));
        let refused = Err(Error::StatusInflate { max: MAX_INFLATED_LEN });
        assert_eq!(compressed.clone().inflated(None), refused);
        assert_eq!(compressed.inflated(Some(vec![0; MAX_INFLATED_LEN + 1])), refused);
    }

    #[test]
    fn encode_round_trips() {
        let list = list_of(2, &TWO_BIT);
        assert_eq!(StatusList::from_claim(&list.to_claim()).unwrap(), list);
    }

    #[test]
    fn refuses_bad_bits_values_and_bombs() {
        assert_eq!(StatusList::new(3, 8), Err(Error::StatusBits(3)));
        assert_eq!(list_of(2, &[0]).clone().set(0, 4), Err(Error::StatusValue { value: 4, bits: 2 }));
        let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; MAX_INFLATED_LEN + 1], 10);
        let claim = StatusListClaim { bits: 2, lst: b64::encode(bomb) };
        assert_eq!(StatusList::from_claim(&claim), Err(Error::StatusInflate { max: MAX_INFLATED_LEN }));
        let raw_deflate = StatusListClaim { bits: 2, lst: b64::encode([0x03, 0x00]) };
        assert!(matches!(StatusList::from_claim(&raw_deflate), Err(Error::StatusInflate { .. })));
    }
}
