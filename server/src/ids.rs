//! Identifiers people type or scan: certificate IDs (Crockford base32, QR-alphanumeric safe),
//! GTINs (GS1 check digit), and the web domains a badge may be shown on.

use rand::Rng;

/// Crockford's base32 alphabet: no I, L, O or U, so IDs survive being read aloud or retyped.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a certificate ID: 40 random bits.
pub const CERT_ID_LEN: usize = 8;

pub fn new_certificate_id(rng: &mut impl Rng) -> String {
    (0..CERT_ID_LEN).map(|_| crockford_digit(rng)).collect()
}

#[allow(clippy::indexing_slicing, reason = "the index is masked to the alphabet's 32 entries")]
fn crockford_digit(rng: &mut impl Rng) -> char {
    char::from(CROCKFORD[usize::from(rng.r#gen::<u8>() & 31)])
}

/// Prefixed random ID for other records (entities, API keys).
pub fn new_id(prefix: &str, rng: &mut impl Rng) -> String {
    let body: String = (0..12).map(|_| crockford_digit(rng)).collect();
    format!("{prefix}{body}")
}

/// Normalises a typed or scanned certificate ID: any case, and the letters Crockford reads as
/// digits (O → 0, I and L → 1). `None` when it cannot be an ID.
///
/// Byte by byte into a buffer of the ID's size: it runs on every lookup of the check API. Any
/// byte outside ASCII cannot be part of an ID, so working on bytes refuses what working on
/// characters would.
pub fn normalize_certificate_id(input: &str) -> Option<String> {
    let mut id = String::with_capacity(CERT_ID_LEN);
    for byte in input.trim().bytes().filter(|b| *b != b'-') {
        let byte = match byte.to_ascii_uppercase() {
            b'O' => b'0',
            b'I' | b'L' => b'1',
            other => other,
        };
        if id.len() == CERT_ID_LEN || !CROCKFORD.contains(&byte) {
            return None;
        }
        id.push(char::from(byte));
    }
    (id.len() == CERT_ID_LEN).then_some(id)
}

/// Why a typed or scanned GTIN was refused; pages word it in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("a GTIN has 8, 12, 13 or 14 digits")]
    Length,
    #[error("GTIN check digit is {found}, the digits before it give {expected}")]
    CheckDigit { found: u32, expected: u32 },
}

/// Validates a GTIN-8, -12, -13 or -14 and returns it as GTIN-14 (zero-padded).
pub fn gtin14(input: &str) -> Result<String, String> {
    parse_gtin14(input).map_err(|err| err.to_string())
}

/// [`gtin14`] with the cause as a value.
pub fn parse_gtin14(input: &str) -> Result<String, GtinError> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if !matches!(digits.len(), 8 | 12 | 13 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GtinError::Length);
    }
    let padded = format!("{digits:0>14}");
    let values: Vec<u32> = padded.bytes().map(|b| u32::from(b - b'0')).collect();
    let (check, body) = values.split_last().ok_or(GtinError::Length)?;
    // GS1: weights 3 and 1 alternate from the rightmost digit of the body.
    let sum: u32 = body.iter().rev().enumerate().map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d }).sum();
    let expected = (10 - sum % 10) % 10;
    if expected != *check {
        return Err(GtinError::CheckDigit { found: *check, expected });
    }
    Ok(padded)
}

/// Normalises a host name for the badge's domain list: lowercase IDNA A-labels, no trailing dot,
/// no `www.`, no scheme, port or path. The widget compares `location.hostname` the same way.
pub fn normalize_domain(input: &str) -> Result<String, String> {
    let mut host = input.trim();
    for scheme in ["https://", "http://"] {
        if host.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme)) {
            host = host.get(scheme.len()..).unwrap_or_default();
        }
    }
    let host = host.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return Err("empty domain".into());
    }
    let ascii = idna::domain_to_ascii(host).map_err(|_| format!("{input:?} is not a valid domain name"))?;
    let ascii = ascii.strip_prefix("www.").map(str::to_owned).unwrap_or(ascii);
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !ascii.contains('.') && ascii != "localhost" || !ascii.split('.').all(valid_label) || ascii.len() > 253
    {
        return Err(format!("{input:?} is not a valid domain name"));
    }
    Ok(ascii)
}

/// Where a page or image of a certificate was requested from, by the request's `Referer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Referrer {
    /// No `Referer`: a typed address, a scanned code, or a site that sends none. Where the mark
    /// is shown cannot be known.
    Unknown,
    /// One of the certificate's websites (with or without `www.`), or the issuer's own pages.
    Covered,
    /// Any other website: its host, to name it.
    Elsewhere(String),
}

/// Compares the host a `Referer` names with a certificate's `domains` and the issuer's URL, each
/// normalised by [`normalize_domain`] (lowercase A-labels, no trailing dot, no `www.`), as the
/// badge compares `location.hostname`. Browsers send only the origin across sites, which is
/// all this reads.
pub fn referrer(referer: Option<&str>, domains: &[String], issuer_url: &str) -> Referrer {
    let Some(referer) = referer.map(str::trim).filter(|referer| !referer.is_empty()) else {
        return Referrer::Unknown;
    };
    let Ok(host) = normalize_domain(referer) else {
        // Not a host a certificate can list (an IP literal in brackets, a stray scheme): name it
        // as sent, shortened.
        let shown = referer.split_once("://").map_or(referer, |(_, rest)| rest);
        let shown = shown.split(['/', '?', '#']).next().unwrap_or_default();
        return Referrer::Elsewhere(shown.chars().take(100).collect());
    };
    let issuer = normalize_domain(issuer_url).ok();
    if issuer.as_deref() == Some(host.as_str()) || domain_listed(domains, &host) {
        Referrer::Covered
    } else {
        Referrer::Elsewhere(host)
    }
}

/// Whether `host`, normalised by [`normalize_domain`], is one of `domains`.
pub fn domain_listed(domains: &[String], host: &str) -> bool {
    domains.iter().any(|domain| normalize_domain(domain).is_ok_and(|domain| domain == host))
}

/// A stored domain as people read it: Unicode, with the A-label after it when they differ, so
/// that a look-alike letter from another script shows.
pub fn display_domain(domain: &str) -> String {
    let (unicode, result) = idna::domain_to_unicode(domain);
    if result.is_ok() && unicode != domain { format!("{unicode} ({domain})") } else { domain.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ids() {
        let id = new_certificate_id(&mut rand::thread_rng());
        assert_eq!(normalize_certificate_id(&id.to_lowercase()), Some(id));
        assert_eq!(normalize_certificate_id("7k3qx9m2").as_deref(), Some("7K3QX9M2"));
        assert_eq!(normalize_certificate_id("7K3QX9MO").as_deref(), Some("7K3QX9M0"));
        assert_eq!(normalize_certificate_id("7K3QX9M"), None);
        assert_eq!(normalize_certificate_id("7K3QX9MU"), None);
        assert_eq!(normalize_certificate_id("../etc/p"), None);
        assert_eq!(normalize_certificate_id(" 7k3q-x9m2\n").as_deref(), Some("7K3QX9M2"));
        assert_eq!(normalize_certificate_id("\u{3000}7K3QX9M2").as_deref(), Some("7K3QX9M2"));
        assert_eq!(normalize_certificate_id("7K3QX9M2A"), None);
        assert_eq!(normalize_certificate_id("7K3QX9MĄ"), None);
        assert_eq!(normalize_certificate_id("7K3QX9 M2"), None);
        assert_eq!(normalize_certificate_id(""), None);
    }

    #[test]
    fn gtins() {
        assert_eq!(gtin14("5901234123457").as_deref(), Ok("05901234123457"));
        assert_eq!(gtin14("05901234123457").as_deref(), Ok("05901234123457"));
        assert_eq!(gtin14("96385074").as_deref(), Ok("00000096385074"));
        assert!(gtin14("5901234123458").unwrap_err().contains("check digit is 8"));
        assert!(gtin14("590123412345").is_err());
        assert!(gtin14("59012341234x7").is_err());
        assert_eq!(parse_gtin14("5901234123458"), Err(GtinError::CheckDigit { found: 8, expected: 7 }));
        assert_eq!(parse_gtin14("123"), Err(GtinError::Length));
    }

    #[test]
    fn domains() {
        assert_eq!(normalize_domain("WWW.Example.PL.").as_deref(), Ok("example.pl"));
        assert_eq!(
            normalize_domain("https://sklep.example.pl:8443/koszyk").as_deref(),
            Ok("sklep.example.pl")
        );
        assert_eq!(normalize_domain("zażółć.pl").as_deref(), Ok("xn--za-6ja4f8n1l.pl"));
        assert!(normalize_domain("exa mple.pl").is_err());
        assert!(normalize_domain("").is_err());
        assert!(normalize_domain("<script>").is_err());
    }

    #[test]
    fn referrers() {
        let domains = vec!["las.pl".to_owned(), "127.0.0.1".to_owned(), "xn--za-6ja4f8n1l.pl".to_owned()];
        let issuer = "https://zp.rops.lublin.pl";
        let check = |referer: Option<&str>| referrer(referer, &domains, issuer);
        assert_eq!(check(None), Referrer::Unknown);
        assert_eq!(check(Some(" ")), Referrer::Unknown);
        for covered in [
            "https://las.pl/",
            "http://www.las.pl/sklep?x=1",
            "https://LAS.PL./",
            "http://127.0.0.1:8080/",
            "https://zażółć.pl/",
            "https://zp.rops.lublin.pl/v/7K3QX9M2",
        ] {
            assert_eq!(check(Some(covered)), Referrer::Covered, "{covered}");
        }
        assert_eq!(check(Some("https://obcy-sklep.pl/")), Referrer::Elsewhere("obcy-sklep.pl".into()));
        assert_eq!(check(Some("https://las.pl.evil.com/")), Referrer::Elsewhere("las.pl.evil.com".into()));
        assert_eq!(check(Some("https://sklep.las.pl/")), Referrer::Elsewhere("sklep.las.pl".into()));
        assert_eq!(check(Some("http://[::1]:8080/a")), Referrer::Elsewhere("[::1]:8080".into()));
        assert_eq!(check(Some("https://user@las.pl/")), Referrer::Elsewhere("user@las.pl".into()));
        // No domains: only the issuer's own pages are covered.
        assert_eq!(referrer(Some("https://las.pl/"), &[], issuer), Referrer::Elsewhere("las.pl".into()));
        assert_eq!(referrer(Some("https://zp.rops.lublin.pl/"), &[], issuer), Referrer::Covered);
    }

    #[test]
    fn domains_as_people_read_them() {
        assert_eq!(display_domain("las.pl"), "las.pl");
        assert_eq!(display_domain("xn--za-6ja4f8n1l.pl"), "zażółć.pl (xn--za-6ja4f8n1l.pl)");
    }
}
