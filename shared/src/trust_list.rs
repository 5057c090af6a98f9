//! Trust lists: a signed `zp-trust-list+jwt` in which one signer names the other issuers it
//! vouches for, each with the URL of its key set.
//!
//! A regional issuer publishes one at `/.well-known/zp-trust-list.jwt` naming its peers; a badge
//! page that loads issuer A's loader then trusts A and the issuers A's list names. Nothing in the
//! format assumes the signer is itself an issuer of certificates or a member of the list, so a
//! national coordinator can sign the same format listing every region.
//!
//! The list goes through the same JWS checks as tokens and status lists; its content is then held
//! to strict rules, each refusal with its own [`Error`]: no unknown members, at most
//! [`MAX_TRUSTED_ISSUERS`] members, each named once, with https URLs (http only on loopback).

use serde::{Deserialize, Serialize};

use crate::error::{Error, UrlProblem};
use crate::json::{Fields, Object, Value};
use crate::jwk::KeySet;
use crate::signed_list::{self, ListKind};
use crate::token::{Rules, VOIVODESHIPS};

/// `typ` of a trust list token.
pub const TRUST_LIST_TYP: &str = "zp-trust-list+jwt";
/// Where an issuer publishes its trust list, below its base URL.
pub const TRUST_LIST_PATH: &str = "/.well-known/zp-trust-list.jwt";
/// Largest trust list token accepted; checked before anything is decoded.
pub const MAX_TRUST_LIST_LEN: usize = 64 * 1024;
/// Most members a trust list may name: the 16 regions with room to spare.
pub const MAX_TRUSTED_ISSUERS: usize = 100;
/// Longest issuer or key set URL accepted, in bytes (URLs are ASCII).
pub const MAX_URL_LEN: usize = 200;
/// Longest member name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

const CLAIMS: [&str; 6] = ["iss", "sub", "iat", "exp", "ttl", "issuers"];
const MEMBER_FIELDS: [&str; 4] = ["iss", "name", "voivodeship", "jwks_uri"];

/// One issuer a trust list vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// The issuer's base URL: the `iss` of its tokens, without a trailing slash.
    pub iss: String,
    /// Its name, for people, e.g. `Regionalny Ośrodek Polityki Społecznej w Lublinie`.
    pub name: String,
    /// Its region, one of [`VOIVODESHIPS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voivodeship: Option<String>,
    /// Where its keys are published (its `/.well-known/jwks.json`).
    pub jwks_uri: String,
}

/// The claims of a trust list token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustListClaims {
    /// The signer's base URL.
    pub iss: String,
    /// The URL the list is published at.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// Seconds a verifier may cache the list before fetching it again.
    pub ttl: u64,
    pub issuers: Vec<TrustedIssuer>,
}

/// A trust list whose signature, signer, address, times and content were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTrustList {
    pub kid: String,
    pub claims: TrustListClaims,
}

const KIND: ListKind = ListKind {
    typ: TRUST_LIST_TYP,
    max_len: MAX_TRUST_LIST_LEN,
    wrong_uri: |expected, found| Error::TrustListUri { expected, found },
    expired: |exp, now| Error::TrustListExpired { exp, now },
};

/// Verifies a trust list fetched from `uri`, signed by `rules.issuer` with one of `keys`.
pub fn verify_trust_list(
    token: &str,
    keys: &KeySet,
    now: i64,
    rules: &Rules,
    uri: &str,
) -> Result<VerifiedTrustList, Error> {
    let (kid, claims) = signed_list::verify(&KIND, token, keys, now, rules, uri)?;
    deny_unknown(&claims, &CLAIMS, "")?;
    let fields = Fields::new(&claims, "");
    let members = fields.array("issuers")?;
    if members.len() > MAX_TRUSTED_ISSUERS {
        return Err(Error::TrustListTooMany { found: members.len(), max: MAX_TRUSTED_ISSUERS });
    }
    let issuers =
        members.iter().enumerate().map(|(i, member)| read_member(i, member)).collect::<Result<_, _>>()?;
    let claims = TrustListClaims {
        iss: fields.string("iss")?,
        sub: fields.string("sub")?,
        iat: fields.i64("iat")?,
        exp: fields.i64("exp")?,
        ttl: fields.u64("ttl")?,
        issuers,
    };
    check_content(&claims)?;
    Ok(VerifiedTrustList { kid, claims })
}

fn deny_unknown(members: &Object, known: &[&str], path: &str) -> Result<(), Error> {
    match members.keys().find(|name| !known.contains(&name.as_str())) {
        Some(name) if path.is_empty() => Err(Error::TrustListUnknownMember(name.clone())),
        Some(name) => Err(Error::TrustListUnknownMember(format!("{path}.{name}"))),
        None => Ok(()),
    }
}

fn read_member(index: usize, member: &Value) -> Result<TrustedIssuer, Error> {
    let path = format!("issuers[{index}]");
    let object = member.as_object().ok_or_else(|| Error::Claims(format!("`{path}` must be an object")))?;
    deny_unknown(object, &MEMBER_FIELDS, &path)?;
    let fields = Fields::new(object, &path);
    Ok(TrustedIssuer {
        iss: fields.string("iss")?,
        name: fields.string("name")?,
        voivodeship: fields.optional_string("voivodeship")?,
        jwks_uri: fields.string("jwks_uri")?,
    })
}

/// The content rules, for verifying and for signing alike: a signer cannot publish a list that
/// verifiers refuse.
fn check_content(claims: &TrustListClaims) -> Result<(), Error> {
    if claims.ttl == 0 {
        return Err(Error::TrustListTtl);
    }
    if claims.issuers.len() > MAX_TRUSTED_ISSUERS {
        return Err(Error::TrustListTooMany { found: claims.issuers.len(), max: MAX_TRUSTED_ISSUERS });
    }
    for (i, member) in claims.issuers.iter().enumerate() {
        let path = format!("issuers[{i}]");
        check_issuer_url(&member.iss)
            .map_err(|problem| Error::IssuerUrl { field: format!("{path}.iss"), problem })?;
        check_url(&member.jwks_uri)
            .map_err(|problem| Error::IssuerUrl { field: format!("{path}.jwks_uri"), problem })?;
        if !is_valid_name(&member.name) {
            return Err(Error::IssuerName { field: format!("{path}.name") });
        }
        if let Some(region) = &member.voivodeship
            && !VOIVODESHIPS.contains(&region.as_str())
        {
            return Err(Error::IssuerVoivodeship {
                field: format!("{path}.voivodeship"),
                found: region.clone(),
            });
        }
        if claims.issuers.iter().take(i).any(|earlier| earlier.iss == member.iss) {
            return Err(Error::TrustListDuplicateIssuer(member.iss.clone()));
        }
    }
    Ok(())
}

fn is_valid_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=MAX_NAME_CHARS).contains(&chars) && !name.chars().any(char::is_control)
}

/// Whether `url` may name an issuer in a trust list: see [`check_issuer_url`].
pub fn is_allowed_issuer_url(url: &str) -> bool {
    check_issuer_url(url).is_ok()
}

/// The rule for an issuer's base URL in a trust list, with the reason a URL breaks it:
/// `https://host[:port][/path]` (`http://` only on 127.0.0.1, `[::1]` or `localhost`, so tests
/// can run on loopback), a lowercase host, no user name or password, no query, no fragment, at
/// most [`MAX_URL_LEN`] bytes, and no trailing `/` (the `iss` of tokens is compared exactly).
pub fn check_issuer_url(url: &str) -> Result<(), UrlProblem> {
    check_url(url)?;
    if url.ends_with('/') {
        return Err(UrlProblem::TrailingSlash);
    }
    Ok(())
}

/// [`check_issuer_url`] without the trailing-slash rule: the rule for key set URLs.
fn check_url(url: &str) -> Result<(), UrlProblem> {
    if url.len() > MAX_URL_LEN {
        return Err(UrlProblem::TooLong);
    }
    // RFC 3986 characters only: no spaces, no backslashes (which browsers read as `/`), no
    // non-ASCII (hosts come as IDNA A-labels).
    if !url.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:/@?#[]".contains(&b)) {
        return Err(UrlProblem::Malformed);
    }
    let (scheme, rest) = url.split_once("://").ok_or(UrlProblem::Malformed)?;
    if rest.contains('#') {
        return Err(UrlProblem::Fragment);
    }
    if rest.contains('?') {
        return Err(UrlProblem::Query);
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(UrlProblem::Userinfo);
    }
    let host = host_of(authority).ok_or(UrlProblem::Malformed)?;
    if !path_is_valid(path) {
        return Err(UrlProblem::Malformed);
    }
    match scheme {
        "https" => Ok(()),
        "http" if matches!(host, "127.0.0.1" | "[::1]" | "localhost") => Ok(()),
        _ => Err(UrlProblem::NotHttps),
    }
}

/// The host of `host[:port]`, if both parts are well formed.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inner, after) = bracketed.split_once(']')?;
        let ip6 = inner.contains(':')
            && inner.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b':' | b'.'));
        if !ip6 {
            return None;
        }
        let port = if after.is_empty() { None } else { Some(after.strip_prefix(':')?) };
        (authority.get(..inner.len() + 2)?, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        if !digits || !port.parse::<u32>().is_ok_and(|n| (1..=65_535).contains(&n)) {
            return None;
        }
    }
    if !host.starts_with('[') && !is_host_name(host) {
        return None;
    }
    Some(host)
}

/// Dot-separated labels of lowercase letters, digits and inner hyphens (IPv4 addresses included).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
        })
}

/// Empty or `/…`, with no brackets and only well-formed percent escapes.
fn path_is_valid(path: &str) -> bool {
    if !(path.is_empty() || path.starts_with('/')) || path.contains(['[', ']']) {
        return false;
    }
    let bytes = path.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%' || bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Signs a trust list (sign feature), refusing claims that verifiers would refuse.
#[cfg(feature = "sign")]
pub fn sign_trust_list(claims: &TrustListClaims, key: &crate::signing::IssuerKey) -> Result<String, Error> {
    check_content(claims)?;
    key.sign_jwt(TRUST_LIST_TYP, claims)
}

#[cfg(test)]
#[cfg(feature = "sign")]
mod tests {
    use super::*;
    use crate::{IssuerKey, Part};

    const SIGNER: &str = "https://zp.rops.lublin.pl";
    const NOW: i64 = 1_780_000_000;

    fn uri() -> String {
        format!("{SIGNER}{TRUST_LIST_PATH}")
    }

    fn key() -> IssuerKey {
        IssuerKey::from_seed(&[11; 32]).unwrap()
    }

    fn keys() -> KeySet {
        let mut set = KeySet::new();
        set.insert(key().public_key().clone()).unwrap();
        set
    }

    fn rules() -> Rules {
        Rules::new(SIGNER)
    }

    fn member(host: &str) -> TrustedIssuer {
        TrustedIssuer {
            iss: format!("https://{host}"),
            name: format!("ROPS {host}"),
            voivodeship: Some("mazowieckie".into()),
            jwks_uri: format!("https://{host}/.well-known/jwks.json"),
        }
    }

    fn claims() -> TrustListClaims {
        TrustListClaims {
            iss: SIGNER.into(),
            sub: uri(),
            iat: NOW - 10,
            exp: NOW + 360,
            ttl: 300,
            issuers: vec![
                member("zp.mcps.pl"),
                TrustedIssuer { voivodeship: None, ..member("zp.rops.opole.pl") },
            ],
        }
    }

    fn verify(token: &str) -> Result<VerifiedTrustList, Error> {
        verify_trust_list(token, &keys(), NOW, &rules(), &uri())
    }

    /// Claims as raw JSON, signed as they are: for content a well-behaved signer refuses to write.
    fn sign_json(payload: &serde_json::Value) -> String {
        let header = serde_json::json!({ "alg": "EdDSA", "typ": TRUST_LIST_TYP, "kid": key().kid() });
        key().sign_raw(header.to_string().as_bytes(), payload.to_string().as_bytes())
    }

    fn json_claims() -> serde_json::Value {
        serde_json::to_value(claims()).unwrap()
    }

    #[test]
    fn signed_list_verifies_with_its_members() {
        let token = sign_trust_list(&claims(), &key()).unwrap();
        let verified = verify(&token).unwrap();
        assert_eq!(verified, VerifiedTrustList { kid: key().kid().to_owned(), claims: claims() });
        // The signer may list itself, and an empty list is a list.
        let mut own = claims();
        own.issuers.push(TrustedIssuer { iss: SIGNER.into(), ..member("zp.rops.lublin.pl") });
        assert_eq!(verify(&sign_trust_list(&own, &key()).unwrap()).unwrap().claims, own);
        let empty = TrustListClaims { issuers: vec![], ..claims() };
        assert_eq!(verify(&sign_trust_list(&empty, &key()).unwrap()).unwrap().claims, empty);
    }

    #[test]
    fn absent_and_null_voivodeships_read_as_none_and_are_not_written() {
        let mut payload = json_claims();
        payload["issuers"][1]["voivodeship"] = serde_json::Value::Null;
        assert_eq!(verify(&sign_json(&payload)).unwrap().claims, claims());
        let written = serde_json::to_value(claims()).unwrap();
        assert!(written["issuers"][1].get("voivodeship").is_none());
    }

    #[test]
    fn forged_and_foreign_lists_are_refused() {
        let token = sign_trust_list(&claims(), &key()).unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut sig = crate::b64::decode(signature).unwrap();
        sig[0] ^= 1;
        let forged = format!("{input}.{}", crate::b64::encode(&sig));
        assert_eq!(verify(&forged), Err(Error::BadSignature));
        // Another issuer's key: its `kid` is not among the signer's keys.
        let other = IssuerKey::from_seed(&[12; 32]).unwrap();
        assert_eq!(verify(&sign_trust_list(&claims(), &other).unwrap()), Err(Error::UnknownKey));
        // A status list or certificate `typ` is not a trust list.
        let status_typ = key().sign_jwt("statuslist+jwt", &claims()).unwrap();
        assert!(matches!(verify(&status_typ), Err(Error::WrongTyp { expected: TRUST_LIST_TYP, .. })));
        assert_eq!(
            verify(&key().sign_jwt("application/zp-trust-list+jwt", &claims()).unwrap()).unwrap().claims,
            claims()
        );
    }

    #[test]
    fn signer_address_and_time_are_checked() {
        let token = sign_trust_list(&claims(), &key()).unwrap();
        let other = Rules::new("https://zp.rops.opole.pl");
        assert_eq!(
            verify_trust_list(&token, &keys(), NOW, &other, &uri()),
            Err(Error::WrongIssuer { expected: other.issuer.clone(), found: SIGNER.into() })
        );
        let elsewhere = "https://cdn.example/list.jwt";
        assert_eq!(
            verify_trust_list(&token, &keys(), NOW, &rules(), elsewhere),
            Err(Error::TrustListUri { expected: elsewhere.into(), found: uri() })
        );
        let exp = claims().exp;
        assert!(verify_trust_list(&token, &keys(), exp + 59, &rules(), &uri()).is_ok());
        assert_eq!(
            verify_trust_list(&token, &keys(), exp + 60, &rules(), &uri()),
            Err(Error::TrustListExpired { exp, now: exp + 60 })
        );
        let mut no_iat = json_claims();
        no_iat.as_object_mut().unwrap().remove("iat");
        assert_eq!(verify(&sign_json(&no_iat)), Err(Error::MissingClaim("iat")));
    }

    #[test]
    fn oversized_and_overfull_lists_are_refused() {
        let mut huge = json_claims();
        huge["issuers"][0]["name"] = "x".repeat(MAX_TRUST_LIST_LEN).into();
        let token = sign_json(&huge);
        assert_eq!(verify(&token), Err(Error::TooLarge { len: token.len(), max: MAX_TRUST_LIST_LEN }));
        let mut full = claims();
        full.issuers = (0..MAX_TRUSTED_ISSUERS).map(|i| member(&format!("zp{i}.example.pl"))).collect();
        assert_eq!(verify(&sign_trust_list(&full, &key()).unwrap()).unwrap().claims, full);
        full.issuers.push(member("one-more.example.pl"));
        let too_many = Error::TrustListTooMany { found: 101, max: MAX_TRUSTED_ISSUERS };
        assert_eq!(sign_trust_list(&full, &key()), Err(too_many.clone()));
        assert_eq!(verify(&sign_json(&serde_json::to_value(&full).unwrap())), Err(too_many));
    }

    #[test]
    fn duplicates_are_refused() {
        let mut twice = json_claims();
        let first = twice["issuers"][0].clone();
        twice["issuers"].as_array_mut().unwrap().push(first);
        assert_eq!(
            verify(&sign_json(&twice)),
            Err(Error::TrustListDuplicateIssuer("https://zp.mcps.pl".into()))
        );
        // The same member name twice in one object, top level and inside a member.
        let text = serde_json::to_string(&claims()).unwrap();
        let top = text.replacen("\"ttl\":300", "\"ttl\":300,\"ttl\":1", 1);
        let header =
            serde_json::json!({ "alg": "EdDSA", "typ": TRUST_LIST_TYP, "kid": key().kid() }).to_string();
        assert_eq!(
            verify(&key().sign_raw(header.as_bytes(), top.as_bytes())),
            Err(Error::DuplicateMember { part: Part::Payload, name: "ttl".into() })
        );
        let inner = text.replacen(
            "\"iss\":\"https://zp.mcps.pl\"",
            "\"iss\":\"https://zp.mcps.pl\",\"iss\":\"https://evil.example\"",
            1,
        );
        assert_eq!(
            verify(&key().sign_raw(header.as_bytes(), inner.as_bytes())),
            Err(Error::DuplicateMember { part: Part::Payload, name: "iss".into() })
        );
    }

    #[test]
    fn unknown_members_are_refused() {
        let mut top = json_claims();
        top["keys"] = serde_json::json!([]);
        assert_eq!(verify(&sign_json(&top)), Err(Error::TrustListUnknownMember("keys".into())));
        let mut inner = json_claims();
        inner["issuers"][1]["jwks"] = serde_json::json!({ "keys": [] });
        assert_eq!(verify(&sign_json(&inner)), Err(Error::TrustListUnknownMember("issuers[1].jwks".into())));
    }

    #[test]
    fn member_content_is_checked() {
        let cases: [(&str, serde_json::Value, Error); 10] = [
            ("iss", "http://zp.mcps.pl".into(), url_error("issuers[0].iss", UrlProblem::NotHttps)),
            ("iss", "https://zp.mcps.pl/".into(), url_error("issuers[0].iss", UrlProblem::TrailingSlash)),
            ("iss", "https://admin:pw@zp.mcps.pl".into(), url_error("issuers[0].iss", UrlProblem::Userinfo)),
            (
                "jwks_uri",
                "ftp://zp.mcps.pl/jwks.json".into(),
                url_error("issuers[0].jwks_uri", UrlProblem::NotHttps),
            ),
            (
                "jwks_uri",
                "https://zp.mcps.pl/jwks.json?v=1".into(),
                url_error("issuers[0].jwks_uri", UrlProblem::Query),
            ),
            ("name", "".into(), Error::IssuerName { field: "issuers[0].name".into() }),
            ("name", "ROPS\u{7}".into(), Error::IssuerName { field: "issuers[0].name".into() }),
            ("name", "x".repeat(201).into(), Error::IssuerName { field: "issuers[0].name".into() }),
            (
                "voivodeship",
                "Mazowieckie".into(),
                Error::IssuerVoivodeship {
                    field: "issuers[0].voivodeship".into(),
                    found: "Mazowieckie".into(),
                },
            ),
            ("iss", 7.into(), Error::Claims("`issuers[0].iss` must be a string".into())),
        ];
        for (field, value, expected) in cases {
            let mut payload = json_claims();
            payload["issuers"][0][field] = value.clone();
            assert_eq!(verify(&sign_json(&payload)), Err(expected), "{field} = {value}");
        }
        assert_eq!(verify(&sign_json(&json_claims_with("ttl", 0.into()))), Err(Error::TrustListTtl));
        assert!(matches!(
            verify(&sign_json(&json_claims_with("issuers", "[]".into()))),
            Err(Error::Claims(_))
        ));
        let mut not_object = json_claims();
        not_object["issuers"][0] = "https://zp.mcps.pl".into();
        assert_eq!(
            verify(&sign_json(&not_object)),
            Err(Error::Claims("`issuers[0]` must be an object".into()))
        );
        // The signer's own check refuses what verifiers would.
        let mut bad = claims();
        bad.issuers[0].iss = "http://zp.mcps.pl".into();
        assert_eq!(sign_trust_list(&bad, &key()), Err(url_error("issuers[0].iss", UrlProblem::NotHttps)));
    }

    fn json_claims_with(name: &str, value: serde_json::Value) -> serde_json::Value {
        let mut payload = json_claims();
        payload[name] = value;
        payload
    }

    fn url_error(field: &str, problem: UrlProblem) -> Error {
        Error::IssuerUrl { field: field.into(), problem }
    }

    #[test]
    fn issuer_url_rule() {
        for good in [
            "https://zp.rops.lublin.pl",
            "https://zp.rops.lublin.pl:8443",
            "https://rops.example.pl/zp",
            "https://xn--d-uga.example.pl",
            "https://192.0.2.7",
            "https://[2001:db8::1]:443",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert_eq!(check_issuer_url(good), Ok(()), "{good}");
            assert!(is_allowed_issuer_url(good), "{good}");
        }
        let long = format!("https://{}.pl", "a".repeat(MAX_URL_LEN));
        for (bad, problem) in [
            ("http://zp.rops.lublin.pl", UrlProblem::NotHttps),
            ("http://127.0.0.2", UrlProblem::NotHttps),
            ("http://localhost.evil.example", UrlProblem::NotHttps),
            ("HTTPS://zp.rops.lublin.pl", UrlProblem::NotHttps),
            ("javascript://zp.rops.lublin.pl", UrlProblem::NotHttps),
            ("https://user@zp.rops.lublin.pl", UrlProblem::Userinfo),
            ("http://localhost@evil.example", UrlProblem::Userinfo),
            ("https://zp.rops.lublin.pl/?x=1", UrlProblem::Query),
            ("https://zp.rops.lublin.pl#top", UrlProblem::Fragment),
            ("https://zp.rops.lublin.pl/", UrlProblem::TrailingSlash),
            ("https://rops.example.pl/zp/", UrlProblem::TrailingSlash),
            (long.as_str(), UrlProblem::TooLong),
            ("zp.rops.lublin.pl", UrlProblem::Malformed),
            ("https://", UrlProblem::Malformed),
            ("https://ZP.rops.lublin.pl", UrlProblem::Malformed),
            ("https://zp.rops.lublin.pl.", UrlProblem::Malformed),
            ("https://zp rops.pl", UrlProblem::Malformed),
            ("https://łódź.pl", UrlProblem::Malformed),
            ("https://good.example\\@evil.example", UrlProblem::Malformed),
            ("https://zp.rops.lublin.pl:0", UrlProblem::Malformed),
            ("https://zp.rops.lublin.pl:99999", UrlProblem::Malformed),
            ("https://zp.rops.lublin.pl:", UrlProblem::Malformed),
            ("https://[zz::1]", UrlProblem::Malformed),
            ("https://[::1]x", UrlProblem::Malformed),
            ("https://zp.pl/a%zz", UrlProblem::Malformed),
        ] {
            assert_eq!(check_issuer_url(bad), Err(problem), "{bad}");
            assert!(!is_allowed_issuer_url(bad), "{bad}");
        }
        assert_eq!(UrlProblem::NotHttps.to_string(), "must use https (http only on loopback)");
    }

    #[test]
    fn every_refusal_has_its_own_code() {
        let errors = [
            Error::TrustListUri { expected: String::new(), found: String::new() },
            Error::TrustListExpired { exp: 0, now: 0 },
            Error::TrustListTtl,
            Error::TrustListUnknownMember(String::new()),
            Error::TrustListTooMany { found: 0, max: 0 },
            Error::TrustListDuplicateIssuer(String::new()),
            Error::IssuerName { field: String::new() },
            Error::IssuerVoivodeship { field: String::new(), found: String::new() },
        ];
        let problems = [
            UrlProblem::Malformed,
            UrlProblem::NotHttps,
            UrlProblem::Userinfo,
            UrlProblem::Query,
            UrlProblem::Fragment,
            UrlProblem::TooLong,
            UrlProblem::TrailingSlash,
        ];
        let mut codes: Vec<&str> = errors.iter().map(Error::code).collect();
        codes.extend(problems.iter().map(|problem| url_error("", *problem).code()));
        let count = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), count);
    }
}
