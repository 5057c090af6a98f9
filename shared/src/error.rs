//! Every way a token, a key set, a status list, a trust list or an identifier can be refused.
//!
//! Each variant is a cause a person can be told about; the UI and the API map them through
//! [`Error::code`], a stable machine-readable name.

use std::fmt;

/// The three parts of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Which Polish register identifier a check was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentKind {
    Nip,
    Regon,
    Krs,
}

impl fmt::Display for IdentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentKind::Nip => "NIP",
            IdentKind::Regon => "REGON",
            IdentKind::Krs => "KRS",
        })
    }
}

/// What is wrong with an issuer's URL or key set URL (see
/// [`check_issuer_url`](crate::trust_list::check_issuer_url)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlProblem {
    /// Not `scheme://host[:port][/path]` in printable ASCII, or the host is not a lowercase name
    /// or an IP literal.
    Malformed,
    /// Neither `https://` nor `http://` on a loopback host.
    NotHttps,
    /// A user name or password before the host.
    Userinfo,
    Query,
    Fragment,
    /// Longer than [`MAX_URL_LEN`](crate::trust_list::MAX_URL_LEN).
    TooLong,
    /// An issuer URL ending in `/`: `iss` values are compared exactly, so one spelling only.
    TrailingSlash,
}

impl UrlProblem {
    /// A stable snake_case name, as [`Error::code`] gives.
    pub fn code(self) -> &'static str {
        match self {
            UrlProblem::Malformed => "url_malformed",
            UrlProblem::NotHttps => "url_not_https",
            UrlProblem::Userinfo => "url_userinfo",
            UrlProblem::Query => "url_query",
            UrlProblem::Fragment => "url_fragment",
            UrlProblem::TooLong => "url_too_long",
            UrlProblem::TrailingSlash => "url_trailing_slash",
        }
    }
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlProblem::Malformed => "must be an absolute URL: scheme://host[:port][/path], lowercase host",
            UrlProblem::NotHttps => "must use https (http only on loopback)",
            UrlProblem::Userinfo => "must not carry a user name or password",
            UrlProblem::Query => "must not have a query (`?`)",
            UrlProblem::Fragment => "must not have a fragment (`#`)",
            UrlProblem::TooLong => "must be at most 200 characters",
            UrlProblem::TrailingSlash => "must not end with `/`",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- structure -------------------------------------------------------------------------
    #[error("token is {len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    #[error("token must be three base64url parts separated by dots")]
    Structure,
    #[error("the {0} is not canonical unpadded base64url")]
    Base64(Part),
    #[error("the {part} is not valid JSON: {detail}")]
    Json { part: Part, detail: String },
    #[error("the {0} is not a JSON object")]
    NotAnObject(Part),
    #[error("the {part} has the member `{name}` more than once")]
    DuplicateMember { part: Part, name: String },

    // --- header ----------------------------------------------------------------------------
    #[error("header has no `alg`")]
    AlgMissing,
    #[error("`alg` none: unsigned tokens are never accepted")]
    AlgNone,
    #[error("`alg` {0} is a shared-secret algorithm; only EdDSA is accepted")]
    AlgSymmetric(String),
    #[error("`alg` {0} is not accepted; only EdDSA (Ed25519) is")]
    AlgUnsupported(String),
    #[error("header carries `{0}`: keys and key URLs are never taken from the token")]
    EmbeddedKey(String),
    #[error("header carries `crit`: no critical extensions are understood")]
    Crit,
    #[error("header member `{0}` is not allowed")]
    UnexpectedHeader(String),
    #[error("header has no `typ`")]
    TypMissing,
    #[error("`typ` is {found:?}, expected {expected:?}")]
    WrongTyp { expected: &'static str, found: String },
    #[error("header has no `kid`")]
    KidMissing,
    #[error("`kid` is not a key thumbprint (43 base64url characters)")]
    KidInvalid,
    #[error("no published key has this `kid`")]
    UnknownKey,

    // --- signature -------------------------------------------------------------------------
    #[error("signature is {0} bytes, Ed25519 signatures are 64")]
    SignatureLength(usize),
    #[error("signature scalar S is not reduced (S >= L): a malleated signature")]
    NonCanonicalSignature,
    #[error("signature does not verify")]
    BadSignature,

    // --- claims ----------------------------------------------------------------------------
    #[error("claim `{0}` is missing")]
    MissingClaim(&'static str),
    #[error("claim `{claim}` must be {expected}")]
    ClaimType { claim: &'static str, expected: &'static str },
    #[error("issuer is {found:?}, expected {expected:?}")]
    WrongIssuer { expected: String, found: String },
    #[error("expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("not valid before {nbf} (now {now})")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("issued in the future at {iat} (now {now})")]
    IssuedInFuture { iat: i64, now: i64 },
    #[error("claims do not match the certificate format: {0}")]
    Claims(String),

    // --- keys ------------------------------------------------------------------------------
    #[error("key set is not a JSON object with a `keys` array")]
    JwksShape,
    #[error("key `kty` is {0:?}, expected \"OKP\"")]
    KeyType(String),
    #[error("key `crv` is {0:?}, expected \"Ed25519\"")]
    KeyCurve(String),
    #[error("key `{0}` is not allowed for a signature key: {1}")]
    KeyParam(&'static str, String),
    #[error("public key is {0} bytes, Ed25519 keys are 32")]
    KeyLength(usize),
    #[error("public key is not a point on the curve")]
    KeyNotOnCurve,
    #[error("public key is not canonically encoded")]
    KeyNonCanonical,
    #[error("public key is weak (small order)")]
    WeakKey,
    #[error("key set publishes a private key (`d`)")]
    PrivateKeyPublished,
    #[error("key `kid` {found:?} is not its RFC 7638 thumbprint {expected:?}")]
    KidMismatch { expected: String, found: String },
    #[error("key set lists the key {0:?} twice")]
    DuplicateKey(String),

    // --- status lists ----------------------------------------------------------------------
    #[error("status list `bits` is {0}; 1, 2, 4 or 8 are allowed")]
    StatusBits(u64),
    #[error("status list is not valid zlib/DEFLATE data or is larger than {max} bytes")]
    StatusInflate { max: usize },
    #[error("status index {idx} is beyond the list of {len} entries")]
    StatusIndex { idx: u64, len: u64 },
    #[error("status value {value} does not fit in {bits} bits")]
    StatusValue { value: u8, bits: u8 },
    #[error("status list is for {found:?}, the token points to {expected:?}")]
    StatusListUri { expected: String, found: String },
    #[error("status list expired at {exp} (now {now})")]
    StatusListExpired { exp: i64, now: i64 },

    // --- trust lists -----------------------------------------------------------------------
    #[error("trust list is published at {found:?}, it was fetched from {expected:?}")]
    TrustListUri { expected: String, found: String },
    #[error("trust list expired at {exp} (now {now})")]
    TrustListExpired { exp: i64, now: i64 },
    #[error("trust list `ttl` must be at least 1 second")]
    TrustListTtl,
    #[error("trust list has the unknown member `{0}`")]
    TrustListUnknownMember(String),
    #[error("trust list names {found} issuers, at most {max} are allowed")]
    TrustListTooMany { found: usize, max: usize },
    #[error("trust list names the issuer {0:?} more than once")]
    TrustListDuplicateIssuer(String),
    #[error("`{field}` {problem}")]
    IssuerUrl { field: String, problem: UrlProblem },
    #[error("`{field}` must be 1 to 200 characters without control characters")]
    IssuerName { field: String },
    #[error("`{field}` is {found:?}, not one of the 16 voivodeships")]
    IssuerVoivodeship { field: String, found: String },

    // --- identifiers -----------------------------------------------------------------------
    #[error("{kind} must have {expected} digits, it has {found}")]
    IdentLength { kind: IdentKind, expected: &'static str, found: usize },
    #[error("{kind} may contain only digits; character {position} is {found:?}")]
    IdentCharacter { kind: IdentKind, position: usize, found: char },
    #[error("{kind} check digit is {found}, the weighted sum gives {expected}")]
    IdentCheckDigit { kind: IdentKind, expected: u32, found: u32 },
    #[error("NIP weighted sum leaves remainder 10: no valid NIP has these first nine digits")]
    NipRemainderTen,
    #[error("{kind} of all zeros is not issued")]
    IdentZero { kind: IdentKind },

    #[error("could not encode: {0}")]
    Encode(String),
}

impl Error {
    /// A stable snake_case name for the cause, for APIs and translations.
    pub fn code(&self) -> &'static str {
        use Error::*;
        match self {
            TooLarge { .. } => "too_large",
            Structure => "malformed",
            Base64(_) => "bad_base64",
            Json { .. } => "bad_json",
            NotAnObject(_) => "not_an_object",
            DuplicateMember { .. } => "duplicate_member",
            AlgMissing => "alg_missing",
            AlgNone => "alg_none",
            AlgSymmetric(_) => "alg_symmetric",
            AlgUnsupported(_) => "alg_unsupported",
            EmbeddedKey(_) => "embedded_key",
            Crit => "crit",
            UnexpectedHeader(_) => "unexpected_header",
            TypMissing => "typ_missing",
            WrongTyp { .. } => "wrong_typ",
            KidMissing => "kid_missing",
            KidInvalid => "kid_invalid",
            UnknownKey => "unknown_key",
            SignatureLength(_) => "signature_length",
            NonCanonicalSignature => "non_canonical_signature",
            BadSignature => "bad_signature",
            MissingClaim(_) => "missing_claim",
            ClaimType { .. } => "claim_type",
            WrongIssuer { .. } => "wrong_issuer",
            Expired { .. } => "expired",
            NotYetValid { .. } => "not_yet_valid",
            IssuedInFuture { .. } => "issued_in_future",
            Claims(_) => "bad_claims",
            JwksShape => "jwks_shape",
            KeyType(_) => "key_type",
            KeyCurve(_) => "key_curve",
            KeyParam(..) => "key_param",
            KeyLength(_) => "key_length",
            KeyNotOnCurve => "key_not_on_curve",
            KeyNonCanonical => "key_non_canonical",
            WeakKey => "weak_key",
            PrivateKeyPublished => "private_key_published",
            KidMismatch { .. } => "kid_mismatch",
            DuplicateKey(_) => "duplicate_key",
            StatusBits(_) => "status_bits",
            StatusInflate { .. } => "status_inflate",
            StatusIndex { .. } => "status_index",
            StatusValue { .. } => "status_value",
            StatusListUri { .. } => "status_list_uri",
            StatusListExpired { .. } => "status_list_expired",
            TrustListUri { .. } => "trust_list_uri",
            TrustListExpired { .. } => "trust_list_expired",
            TrustListTtl => "trust_list_ttl",
            TrustListUnknownMember(_) => "trust_list_unknown_member",
            TrustListTooMany { .. } => "trust_list_too_many",
            TrustListDuplicateIssuer(_) => "trust_list_duplicate_issuer",
            IssuerUrl { problem, .. } => problem.code(),
            IssuerName { .. } => "issuer_name",
            IssuerVoivodeship { .. } => "issuer_voivodeship",
            IdentLength { .. } => "ident_length",
            IdentCharacter { .. } => "ident_character",
            IdentCheckDigit { .. } => "ident_check_digit",
            NipRemainderTen => "nip_remainder_ten",
            IdentZero { .. } => "ident_zero",
            Encode(_) => "encode",
        }
    }

    /// Whether the cause is the token's validity period rather than its authenticity.
    pub fn is_time(&self) -> bool {
        matches!(self, Error::Expired { .. } | Error::NotYetValid { .. } | Error::IssuedInFuture { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One example of every cause, each with the pattern that names it. The patterns also make an
    /// exhaustive `match` (the enum is `#[non_exhaustive]` only outside this crate), so a new
    /// variant without its example here does not compile.
    macro_rules! every_cause {
        ($($pattern:pat => $example:expr),* $(,)?) => {{
            fn which(error: &Error) -> &'static str {
                match error {
                    $($pattern => stringify!($pattern),)*
                }
            }
            let examples: Vec<(&'static str, Error)> = vec![$((stringify!($pattern), $example)),*];
            for (pattern, example) in &examples {
                assert_eq!(which(example), *pattern, "the example of {pattern} is {example:?}");
            }
            examples.into_iter().map(|(_, example)| example).collect::<Vec<Error>>()
        }};
    }

    #[test]
    fn every_cause_has_its_own_error_code() {
        use Error::*;
        let url = |problem| IssuerUrl { field: "iss".into(), problem };
        let causes = every_cause![
            TooLarge { .. } => TooLarge { len: 9000, max: 8192 },
            Structure => Structure,
            Base64(_) => Base64(Part::Header),
            Json { .. } => Json { part: Part::Payload, detail: String::new() },
            NotAnObject(_) => NotAnObject(Part::Header),
            DuplicateMember { .. } => DuplicateMember { part: Part::Header, name: "alg".into() },
            AlgMissing => AlgMissing,
            AlgNone => AlgNone,
            AlgSymmetric(_) => AlgSymmetric("HS256".into()),
            AlgUnsupported(_) => AlgUnsupported("RS256".into()),
            EmbeddedKey(_) => EmbeddedKey("jwk".into()),
            Crit => Crit,
            UnexpectedHeader(_) => UnexpectedHeader("x".into()),
            TypMissing => TypMissing,
            WrongTyp { .. } => WrongTyp { expected: "zp-cert+jwt", found: "JWT".into() },
            KidMissing => KidMissing,
            KidInvalid => KidInvalid,
            UnknownKey => UnknownKey,
            SignatureLength(_) => SignatureLength(63),
            NonCanonicalSignature => NonCanonicalSignature,
            BadSignature => BadSignature,
            MissingClaim(_) => MissingClaim("exp"),
            ClaimType { .. } => ClaimType { claim: "exp", expected: "an integer" },
            WrongIssuer { .. } => WrongIssuer { expected: "a".into(), found: "b".into() },
            Expired { .. } => Expired { exp: 1, now: 2 },
            NotYetValid { .. } => NotYetValid { nbf: 2, now: 1 },
            IssuedInFuture { .. } => IssuedInFuture { iat: 2, now: 1 },
            Claims(_) => Claims("zp".into()),
            JwksShape => JwksShape,
            KeyType(_) => KeyType("RSA".into()),
            KeyCurve(_) => KeyCurve("X25519".into()),
            KeyParam(..) => KeyParam("use", "enc".into()),
            KeyLength(_) => KeyLength(31),
            KeyNotOnCurve => KeyNotOnCurve,
            KeyNonCanonical => KeyNonCanonical,
            WeakKey => WeakKey,
            PrivateKeyPublished => PrivateKeyPublished,
            KidMismatch { .. } => KidMismatch { expected: "a".into(), found: "b".into() },
            DuplicateKey(_) => DuplicateKey("a".into()),
            StatusBits(_) => StatusBits(3),
            StatusInflate { .. } => StatusInflate { max: 1 },
            StatusIndex { .. } => StatusIndex { idx: 9, len: 8 },
            StatusValue { .. } => StatusValue { value: 4, bits: 2 },
            StatusListUri { .. } => StatusListUri { expected: "a".into(), found: "b".into() },
            StatusListExpired { .. } => StatusListExpired { exp: 1, now: 2 },
            TrustListUri { .. } => TrustListUri { expected: "a".into(), found: "b".into() },
            TrustListExpired { .. } => TrustListExpired { exp: 1, now: 2 },
            TrustListTtl => TrustListTtl,
            TrustListUnknownMember(_) => TrustListUnknownMember("x".into()),
            TrustListTooMany { .. } => TrustListTooMany { found: 101, max: 100 },
            TrustListDuplicateIssuer(_) => TrustListDuplicateIssuer("a".into()),
            IssuerUrl { problem: UrlProblem::Malformed, .. } => url(UrlProblem::Malformed),
            IssuerUrl { problem: UrlProblem::NotHttps, .. } => url(UrlProblem::NotHttps),
            IssuerUrl { problem: UrlProblem::Userinfo, .. } => url(UrlProblem::Userinfo),
            IssuerUrl { problem: UrlProblem::Query, .. } => url(UrlProblem::Query),
            IssuerUrl { problem: UrlProblem::Fragment, .. } => url(UrlProblem::Fragment),
            IssuerUrl { problem: UrlProblem::TooLong, .. } => url(UrlProblem::TooLong),
            IssuerUrl { problem: UrlProblem::TrailingSlash, .. } => url(UrlProblem::TrailingSlash),
            IssuerName { .. } => IssuerName { field: "name".into() },
            IssuerVoivodeship { .. } => IssuerVoivodeship { field: "voivodeship".into(), found: "x".into() },
            IdentLength { .. } => IdentLength { kind: IdentKind::Nip, expected: "10", found: 9 },
            IdentCharacter { .. } => IdentCharacter { kind: IdentKind::Krs, position: 1, found: 'x' },
            IdentCheckDigit { .. } => IdentCheckDigit { kind: IdentKind::Regon, expected: 1, found: 2 },
            NipRemainderTen => NipRemainderTen,
            IdentZero { .. } => IdentZero { kind: IdentKind::Krs },
            Encode(_) => Encode("x".into()),
        ];
        let mut codes: Vec<&str> = causes.iter().map(Error::code).collect();
        for (cause, code) in causes.iter().zip(&codes) {
            assert!(
                !code.is_empty()
                    && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{cause:?}: {code:?} is not snake_case"
            );
            assert!(!cause.to_string().is_empty(), "{cause:?} has no message");
        }
        codes.sort_unstable();
        let shared: Vec<&&str> =
            codes.windows(2).filter(|pair| pair[0] == pair[1]).map(|pair| &pair[0]).collect();
        assert!(shared.is_empty(), "codes given to more than one cause: {shared:?}");
    }
}
