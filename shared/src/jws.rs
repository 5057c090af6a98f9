//! Compact JWS (RFC 7515) restricted to what this product signs: EdDSA over Ed25519, a header of
//! `alg`, `typ` and `kid` only, canonical base64url, no duplicate members.
//!
//! Certificate tokens and status lists both go through [`Compact::parse`] and
//! [`Compact::verify_signature`]; only their claims differ.

use curve25519_dalek::Scalar;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use sha2::{Digest, Sha512};

use crate::b64;
use crate::error::{Error, Part};
use crate::json::{self, Object};
use crate::jwk::{KeySet, PublicKey, is_thumbprint_shaped};

/// Largest certificate token accepted; checked before anything is decoded.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Header members that would let the token choose its own key: always refused.
const KEY_CARRYING: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"];

/// A compact JWS whose structure and header have been checked, but not its signature.
#[derive(Debug, Clone)]
pub struct Compact<'a> {
    signing_input: &'a str,
    kid: String,
    payload: Vec<u8>,
    signature: [u8; 64],
}

impl<'a> Compact<'a> {
    /// Checks size, structure, encoding and header. `typ` is compared ASCII case-insensitively,
    /// with or without the `application/` prefix (RFC 7515 §4.1.9).
    pub fn parse(token: &'a str, typ: &'static str, max_len: usize) -> Result<Self, Error> {
        if token.len() > max_len {
            return Err(Error::TooLarge { len: token.len(), max: max_len });
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Structure);
        };
        let header_bytes = b64::decode(header).ok_or(Error::Base64(Part::Header))?;
        let header_map = json::parse_object(&header_bytes, Part::Header)?;
        let kid = check_header(&header_map, typ)?;
        let payload = b64::decode(payload).ok_or(Error::Base64(Part::Payload))?;
        let signature = b64::decode(signature).ok_or(Error::Base64(Part::Signature))?;
        let signature: [u8; 64] =
            signature.as_slice().try_into().map_err(|_| Error::SignatureLength(signature.len()))?;
        let signing_input = token.rsplit_once('.').map(|(input, _)| input).ok_or(Error::Structure)?;
        Ok(Compact { signing_input, kid, payload, signature })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The payload bytes. Not to be trusted before [`Compact::verify_signature`] succeeds.
    pub fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// Looks the `kid` up in `keys` (never anywhere else) and checks the signature strictly.
    pub fn verify_signature(&self, keys: &KeySet) -> Result<&[u8], Error> {
        let key = keys.get(&self.kid).ok_or(Error::UnknownKey)?;
        verify_ed25519_with(key, self.signing_input.as_bytes(), &self.signature)?;
        Ok(&self.payload)
    }
}

fn check_header(header: &Object, typ: &'static str) -> Result<String, Error> {
    let alg = header.get("alg").ok_or(Error::AlgMissing)?;
    match alg.as_str() {
        Some("EdDSA" | "Ed25519") => {}
        Some(none) if none.eq_ignore_ascii_case("none") => return Err(Error::AlgNone),
        Some(hs) if hs.len() > 2 && hs.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) => {
            return Err(Error::AlgSymmetric(hs.to_owned()));
        }
        Some(other) => return Err(Error::AlgUnsupported(other.to_owned())),
        None => return Err(Error::AlgUnsupported(alg.to_json())),
    }
    if header.contains_key("crit") {
        return Err(Error::Crit);
    }
    if let Some(name) = KEY_CARRYING.iter().find(|name| header.contains_key(name)) {
        return Err(Error::EmbeddedKey((*name).to_owned()));
    }
    if let Some(name) = header.keys().find(|name| !matches!(name.as_str(), "alg" | "typ" | "kid")) {
        return Err(Error::UnexpectedHeader(name.clone()));
    }
    let found = header.get("typ").ok_or(Error::TypMissing)?;
    let found_str = found.as_str().unwrap_or_default();
    let bare = strip_prefix_ignore_case(found_str, "application/").unwrap_or(found_str);
    if !bare.eq_ignore_ascii_case(typ) {
        return Err(Error::WrongTyp { expected: typ, found: found.to_json() });
    }
    let kid = header.get("kid").ok_or(Error::KidMissing)?;
    match kid.as_str() {
        Some(kid) if is_thumbprint_shaped(kid) => Ok(kid.to_owned()),
        _ => Err(Error::KidInvalid),
    }
}

fn strip_prefix_ignore_case<'s>(text: &'s str, prefix: &str) -> Option<&'s str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| text.get(prefix.len()..)).flatten()
}

/// The signature layer on its own: raw key bytes, message and signature, checked the same way as
/// in a token (sound key, 64-byte signature, reduced S, `verify_strict`).
pub fn verify_ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
    verify_ed25519_with(&PublicKey::from_bytes(public_key)?, message, signature)
}

/// `verify_strict` of ed25519-dalek, written out with curve25519-dalek so that the badge carries
/// one scalar reduction rather than two: S is reduced (checked first, for its own error), R is
/// a point and neither R nor the key is of small order, and `[S]B - [k]A` encodes to exactly the
/// bytes of R, where `k` is SHA-512(R ‖ A ‖ message) reduced mod ℓ.
#[allow(non_snake_case, reason = "the names of RFC 8032")]
fn verify_ed25519_with(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), Error> {
    let signature: &[u8; 64] = signature.try_into().map_err(|_| Error::SignatureLength(signature.len()))?;
    let (R, s) = signature.split_at(32);
    // S goes through the wide reduction that the hash below needs anyway (the module then carries
    // no other): it comes back unchanged exactly when S < ℓ.
    let mut wide = [0u8; 64];
    wide.iter_mut().zip(s).for_each(|(to, from)| *to = *from);
    let S = Scalar::from_bytes_mod_order_wide(&wide);
    if S.as_bytes()[..] != *s {
        return Err(Error::NonCanonicalSignature);
    }
    let mut R_bytes = [0u8; 32];
    R_bytes.iter_mut().zip(R).for_each(|(to, from)| *to = *from);
    let R = CompressedEdwardsY(R_bytes);
    let A = key.verifying_key().to_edwards();
    match R.decompress() {
        Some(point) if !point.is_small_order() && !A.is_small_order() => {}
        _ => return Err(Error::BadSignature),
    }
    let k = Sha512::new().chain_update(R_bytes).chain_update(key.as_bytes()).chain_update(message).finalize();
    let k = Scalar::from_bytes_mod_order_wide(&k.into());
    if EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-A, &S).compress() != R {
        return Err(Error::BadSignature);
    }
    Ok(())
}

/// Signs `payload` under exactly the header bytes given (sign feature).
#[cfg(feature = "sign")]
pub fn sign_compact(header_json: &[u8], payload: &[u8], key: &ed25519_dalek::SigningKey) -> String {
    use ed25519_dalek::Signer;
    let mut token = b64::encode(header_json);
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64::encode(signature.to_bytes()));
    token
}
