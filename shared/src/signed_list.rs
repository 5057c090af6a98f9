//! What status lists and trust lists check alike before reading their own content: a compact JWS
//! of their `typ` within a size, signed with one of the caller's keys, by the expected issuer, for
//! the URI it was fetched from, not expired.

use crate::error::{Error, Part};
use crate::json::{self, Object, Value};
use crate::jwk::KeySet;
use crate::jws::Compact;
use crate::token::{Rules, check_times, numeric_date};

/// A kind of signed list: its `typ`, its size limit, and the errors it reports for a wrong URI
/// and for expiry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListKind {
    pub typ: &'static str,
    pub max_len: usize,
    pub wrong_uri: fn(expected: String, found: String) -> Error,
    pub expired: fn(exp: i64, now: i64) -> Error,
}

/// Checks a signed list fetched from `uri` and returns the signing key's `kid` and its claims.
/// Only expiry is checked of its times: a list signed "in the future" of a slow device clock is
/// still the issuer's word, and its `iat` is what the badge then takes as the time (SPEC §6).
pub(crate) fn verify(
    kind: &ListKind,
    token: &str,
    keys: &KeySet,
    now: i64,
    rules: &Rules,
    uri: &str,
) -> Result<(String, Object), Error> {
    let jws = Compact::parse(token, kind.typ, kind.max_len)?;
    let payload = jws.verify_signature(keys)?;
    let claims = json::parse_object(payload, Part::Payload)?;
    let iss = claims.get("iss").ok_or(Error::MissingClaim("iss"))?;
    if iss.as_str() != Some(rules.issuer.as_str()) {
        return Err(Error::WrongIssuer { expected: rules.issuer.clone(), found: json::display(iss) });
    }
    let sub = claims.get("sub").and_then(Value::as_str).ok_or(Error::MissingClaim("sub"))?;
    if sub != uri {
        return Err((kind.wrong_uri)(uri.to_owned(), sub.to_owned()));
    }
    let exp = numeric_date(&claims, "exp")?;
    numeric_date(&claims, "iat")?;
    check_times(now, rules.leeway, i64::MIN, i64::MIN, exp).map_err(|err| match err {
        Error::Expired { exp, now } => (kind.expired)(exp, now),
        other => other,
    })?;
    Ok((jws.kid().to_owned(), claims))
}
