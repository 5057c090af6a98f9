//! Certificate tokens of the Zakup Prospołeczny mark: their claims, keys, status lists and trust
//! lists, and the one verifier that the issuer server and the badge in the browser both run.
//!
//! No I/O and no clock: keys, the current time and the expected issuer are parameters. Signing
//! sits behind the `sign` feature, which the widget does not enable.

mod b64;
pub mod error;
pub mod ident;
mod json;
pub mod jwk;
pub mod jws;
mod signed_list;
#[cfg(feature = "sign")]
pub mod signing;
pub mod status_list;
pub mod token;
pub mod trust_list;
pub mod words;

pub use error::{Error, IdentKind, Part, UrlProblem};
pub use jwk::{Jwk, Jwks, KeySet, PublicKey, thumbprint};
#[cfg(feature = "sign")]
pub use signing::{IssuerKey, PrivateJwk};
pub use status_list::{
    CompressedStatusList, Status, StatusList, StatusListClaims, VerifiedStatusList,
    verify_compressed_status_list, verify_status_list,
};
pub use token::{
    AuthenticClaims, CERT_TYP, Certificate, CertificateClaims, DEFAULT_LEEWAY, Entity, Hints, LegalForm,
    Product, Rules, StatusClaim, StatusListRef, UntrustedToken, VOIVODESHIPS, VerifiedClaims, verify,
};
#[cfg(feature = "sign")]
pub use trust_list::sign_trust_list;
pub use trust_list::{
    TRUST_LIST_TYP, TrustListClaims, TrustedIssuer, VerifiedTrustList, check_issuer_url,
    is_allowed_issuer_url, verify_trust_list,
};

/// Base64url without padding, as used in every JOSE structure.
pub mod base64url {
    pub use crate::b64::{decode, encode};
}
