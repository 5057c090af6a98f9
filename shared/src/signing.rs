//! The issuer's signing key (sign feature): key generation from caller-supplied randomness,
//! signing of certificate tokens and status lists. The widget never compiles this.

use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::error::Error;
use crate::jwk::{Jwk, PublicKey};
use crate::{b64, jws};

/// Private JWK members as written to the issuer's key file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrivateJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub d: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kid: String,
}

/// An Ed25519 signing key with its `kid`.
pub struct IssuerKey {
    signing: SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey").field("kid", &self.public.kid()).finish_non_exhaustive()
    }
}

impl IssuerKey {
    /// A key from a 32-byte secret seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, Error> {
        let signing = SigningKey::from_bytes(seed);
        let public = PublicKey::from_bytes(signing.verifying_key().as_bytes())?;
        Ok(IssuerKey { signing, public })
    }

    /// A fresh key from the caller's cryptographic random number generator.
    pub fn generate<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> Result<Self, Error> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(&seed)
    }

    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn public_jwk(&self) -> Jwk {
        self.public.to_jwk()
    }

    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    pub fn to_private_jwk(&self) -> PrivateJwk {
        PrivateJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64::encode(self.public.as_bytes()),
            d: b64::encode(self.signing.to_bytes()),
            kid: self.kid().to_owned(),
        }
    }

    pub fn from_private_jwk(jwk: &PrivateJwk) -> Result<Self, Error> {
        if jwk.kty != "OKP" {
            return Err(Error::KeyType(jwk.kty.clone()));
        }
        if jwk.crv != "Ed25519" {
            return Err(Error::KeyCurve(jwk.crv.clone()));
        }
        let d = b64::decode(&jwk.d)
            .ok_or_else(|| Error::KeyParam("d", "not canonical unpadded base64url".into()))?;
        let seed: [u8; 32] = d.as_slice().try_into().map_err(|_| Error::KeyLength(d.len()))?;
        let key = Self::from_seed(&seed)?;
        if b64::encode(key.public.as_bytes()) != jwk.x {
            return Err(Error::KeyParam("x", "does not belong to `d`".into()));
        }
        if !jwk.kid.is_empty() && jwk.kid != key.kid() {
            return Err(Error::KidMismatch { expected: key.kid().to_owned(), found: jwk.kid.clone() });
        }
        Ok(key)
    }

    /// Signs `claims` as a JWT with header `{"alg":"EdDSA","typ":typ,"kid":kid}`.
    pub fn sign_jwt(&self, typ: &str, claims: &impl Serialize) -> Result<String, Error> {
        let header = serde_json::json!({ "alg": "EdDSA", "typ": typ, "kid": self.kid() });
        let payload = serde_json::to_vec(claims).map_err(|err| Error::Encode(err.to_string()))?;
        Ok(jws::sign_compact(header.to_string().as_bytes(), &payload, &self.signing))
    }

    /// Signs exactly these bytes under exactly this header; for tests and interop.
    pub fn sign_raw(&self, header_json: &[u8], payload: &[u8]) -> String {
        jws::sign_compact(header_json, payload, &self.signing)
    }

    /// A bare Ed25519 signature.
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.signing.sign(message).to_bytes()
    }
}
