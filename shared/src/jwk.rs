//! Ed25519 public keys as JWK and JWKS (RFC 7517, RFC 8037), named by their RFC 7638 thumbprint.
//!
//! A [`KeySet`] is the only place a verifier takes keys from. Loading one refuses anything that
//! is not a sound Ed25519 signature key, so the checks happen once, not at every verification.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;
use crate::error::{Error, Part};
use crate::json::{self, Object, Value};

/// Length of a `kid`: base64url of a SHA-256 digest.
pub const KID_LEN: usize = 43;

/// A public JWK as we publish it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

/// A JWK Set as we publish it at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// A verified-sound Ed25519 public key and its thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: String,
    key: VerifyingKey,
}

impl PublicKey {
    /// Checks 32 raw bytes as a signature key: on the curve, canonically encoded, not of small order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::KeyLength(bytes.len()))?;
        let point = CompressedEdwardsY(bytes).decompress().ok_or(Error::KeyNotOnCurve)?;
        if point.compress().to_bytes() != bytes {
            return Err(Error::KeyNonCanonical);
        }
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| Error::KeyNotOnCurve)?;
        if key.is_weak() {
            return Err(Error::WeakKey);
        }
        Ok(PublicKey { kid: thumbprint(&bytes), key })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64::encode(self.key.as_bytes()),
            kid: self.kid.clone(),
            use_: "sig".into(),
            alg: "EdDSA".into(),
        }
    }

    /// Reads one JWK object, refusing anything but a public Ed25519 signature key.
    fn from_jwk(member: &Object) -> Result<Self, Error> {
        if member.contains_key("d") {
            return Err(Error::PrivateKeyPublished);
        }
        let kty = string_member(member, "kty");
        if kty != "OKP" {
            return Err(Error::KeyType(kty.to_owned()));
        }
        let crv = string_member(member, "crv");
        if crv != "Ed25519" {
            return Err(Error::KeyCurve(crv.to_owned()));
        }
        for (name, allowed) in [("use", &["sig"][..]), ("alg", &["EdDSA", "Ed25519"][..])] {
            if let Some(value) = member.get(name) {
                match value.as_str() {
                    Some(v) if allowed.contains(&v) => {}
                    _ => return Err(Error::KeyParam(name, value.to_json())),
                }
            }
        }
        if let Some(ops) = member.get("key_ops") {
            let only_verify =
                ops.as_array().is_some_and(|ops| ops.iter().all(|op| op.as_str() == Some("verify")));
            if !only_verify {
                return Err(Error::KeyParam("key_ops", ops.to_json()));
            }
        }
        let x =
            member.get("x").and_then(Value::as_str).ok_or_else(|| Error::KeyParam("x", "missing".into()))?;
        let bytes =
            b64::decode(x).ok_or_else(|| Error::KeyParam("x", "not canonical unpadded base64url".into()))?;
        let key = PublicKey::from_bytes(&bytes)?;
        if let Some(kid) = member.get("kid")
            && kid.as_str() != Some(key.kid())
        {
            return Err(Error::KidMismatch { expected: key.kid.clone(), found: kid.to_json() });
        }
        Ok(key)
    }
}

fn string_member<'a>(member: &'a Object, name: &str) -> &'a str {
    member.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// RFC 7638 thumbprint of an Ed25519 key: SHA-256 over the required members in lexical order.
pub fn thumbprint(x: &[u8; 32]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64::encode(x));
    b64::encode(Sha256::digest(canonical.as_bytes()))
}

/// Whether `kid` has the shape of a thumbprint; anything else is refused before any lookup.
pub fn is_thumbprint_shaped(kid: &str) -> bool {
    kid.len() == KID_LEN && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The keys a verifier trusts, by `kid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    /// In the order of their `kid`s: a key set holds a key or two, and a sorted list is a
    /// fraction of a tree's code in the badge.
    keys: Vec<PublicKey>,
}

impl KeySet {
    pub fn new() -> Self {
        KeySet::default()
    }

    /// Parses a JWKS document. One unsound key refuses the whole set: a publisher that serves a
    /// weak or private key is misconfigured, and guessing which keys to keep is not our call.
    pub fn from_jwks_json(text: &str) -> Result<Self, Error> {
        let doc = json::parse_object(text.as_bytes(), Part::Header).map_err(|err| {
            if matches!(err, Error::DuplicateMember { .. }) { err } else { Error::JwksShape }
        })?;
        let members = doc.get("keys").and_then(Value::as_array).ok_or(Error::JwksShape)?;
        let mut set = KeySet::new();
        for member in members {
            let member = member.as_object().ok_or(Error::JwksShape)?;
            set.insert(PublicKey::from_jwk(member)?)?;
        }
        Ok(set)
    }

    pub fn insert(&mut self, key: PublicKey) -> Result<(), Error> {
        match self.find(key.kid()) {
            Ok(_) => Err(Error::DuplicateKey(key.kid.clone())),
            Err(slot) => {
                self.keys.insert(slot, key);
                Ok(())
            }
        }
    }

    /// Where the key `kid` is, or where it would go.
    fn find(&self, kid: &str) -> Result<usize, usize> {
        self.keys.binary_search_by(|key| key.kid().cmp(kid))
    }

    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.get(self.find(kid).ok()?)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn to_jwks(&self) -> Jwks {
        Jwks { keys: self.keys.iter().map(PublicKey::to_jwk).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_shape() {
        assert!(is_thumbprint_shaped("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"));
        assert!(!is_thumbprint_shaped("../../etc/passwd"));
        assert!(!is_thumbprint_shaped("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4\0"));
        assert!(!is_thumbprint_shaped("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k="));
    }
}
