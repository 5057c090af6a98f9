//! The JSON Schemas of the request fields whose rules the issuer checks (names, identifiers,
//! dates, URLs, tokens, page sizes), built from the same limits the checks use, so that the
//! OpenAPI document says exactly what a request may hold. Each is a type with no values that only
//! gives its schema: request types name it with `#[schema(value_type = …)]`.
//!
//! The rules every text field shares: no control characters (U+0000–U+001F, U+007F–U+009F)
//! anywhere; the length limit counts every character sent; surrounding whitespace (what Rust's
//! `str::trim` removes) is dropped before the value is used, and a blank optional field is the same
//! as an absent one. What no pattern can say (check digits, an entity that must exist, dates
//! relative to today, a token's signature) is refused with 422 and the field named; the
//! descriptions say which. The tests below hold each pattern to the check it describes.

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use zp_shared::LegalForm;

use super::{CITY_MAX, CONTACT_MAX, NAME_MAX, NOTE_MAX, VOIVODESHIPS};

/// Control characters (Unicode category Cc, what `char::is_control` names), refused in every
/// text field.
pub const CONTROLS: &str = r"\u0000-\u001F\u007F-\u009F";
/// The whitespace `str::trim` removes (`char::is_whitespace`), control characters aside.
pub const SPACES: &str = r" \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// All of the whitespace `str::trim` removes, control characters included: for path parameters,
/// which are trimmed without the text fields' rule.
const ALL_SPACES: &str = r"\t-\r\u0085 \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// Any text without control characters.
pub fn text_pattern() -> String {
    format!("^[^{CONTROLS}]*$")
}

/// Text without control characters and with something besides whitespace.
pub fn non_blank_pattern() -> String {
    format!("^[^{CONTROLS}]*[^{CONTROLS}{SPACES}][^{CONTROLS}]*$")
}

/// `digits` (a regular expression of digits, each perhaps after spaces and hyphens) with
/// surrounding whitespace, or nothing but whitespace.
fn separated_digits_pattern(digits: &str) -> String {
    format!("^[{SPACES}]*(?:{digits}[ -]*[{SPACES}]*)?$")
}

fn nip_pattern() -> String {
    separated_digits_pattern("(?:[ -]*[0-9]){10}")
}

fn regon_pattern() -> String {
    separated_digits_pattern("(?:(?:[ -]*[0-9]){9}|(?:[ -]*[0-9]){14})")
}

fn gtin_pattern() -> String {
    format!("^[{SPACES}]*(?:(?:[0-9][{SPACES}]*){{8}}|(?:[0-9][{SPACES}]*){{12,14}})?$")
}

fn valid_from_pattern() -> String {
    format!("^[{SPACES}]*(?:[+-]?[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[{SPACES}]*)?$")
}

/// The characters `zp_shared::check_issuer_url` allows, but `?` and `#`, which it refuses.
fn issuer_url_pattern() -> String {
    format!(r"^[{SPACES}]*https?://[!$-;=@-\[\]_a-z~]+[{SPACES}]*$")
}

/// Three runs of base64url characters separated by dots: the shape of a compact JWS.
pub const TOKEN_PATTERN: &str = r"^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$";

/// Crockford base32 in any case (`O`, `I`, `L` read as digits; no `U`), hyphens anywhere.
fn certificate_id_pattern() -> String {
    format!("^[{ALL_SPACES}]*-*(?:[0-9A-TV-Za-tv-z]-*){{8}}[{ALL_SPACES}]*$")
}

pub(crate) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::new(Type::String))
}

pub(crate) fn integer(minimum: u32, maximum: u32) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .minimum(Some(minimum))
        .maximum(Some(maximum))
}

/// A type that stands for a field's schema in the document.
macro_rules! field_schema {
    ($(#[doc = $doc:literal])* $name:ident => $schema:expr) => {
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub struct $name;

        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                let schema: ::utoipa::openapi::schema::ObjectBuilder = $schema;
                schema.into()
            }
        }

        impl ::utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}
pub(crate) use field_schema;

field_schema! {
    /// A name: of an entity, a product or service, an issuer.
    Name => string()
        .min_length(Some(1))
        .max_length(Some(NAME_MAX))
        .pattern(Some(non_blank_pattern()))
        .description(Some(format!(
            "1 to {NAME_MAX} characters, not blank, no control characters; surrounding whitespace \
             is dropped."
        )))
}

field_schema! {
    /// The city of an entity.
    City => string()
        .max_length(Some(CITY_MAX))
        .pattern(Some(text_pattern()))
        .description(Some(format!(
            "At most {CITY_MAX} characters, no control characters; blank is the same as absent."
        )))
}

field_schema! {
    /// The contact line of an entity.
    Contact => string()
        .max_length(Some(CONTACT_MAX))
        .pattern(Some(text_pattern()))
        .description(Some(format!(
            "At most {CONTACT_MAX} characters, no control characters; blank is the same as absent."
        )))
}

field_schema! {
    /// A public note on a suspension or revocation.
    PublicNote => string()
        .max_length(Some(NOTE_MAX))
        .pattern(Some(text_pattern()))
        .description(Some(format!(
            "Shown on the verification page. At most {NOTE_MAX} characters, no control characters; \
             blank is the same as absent."
        )))
}

field_schema! {
    /// A web domain of an entity.
    Domain => string()
        .min_length(Some(1))
        .pattern(Some(non_blank_pattern()))
        .description(Some(
            "A host name, Unicode or IDNA A-labels; a scheme, port, path or leading `www.` is \
             dropped. One that is not a valid domain name is refused with 422 naming it \
             (`domains[i]`).",
        ))
}

field_schema! {
    /// A NIP.
    Nip => string()
        .pattern(Some(nip_pattern()))
        .description(Some(
            "NIP: ten digits, spaces and hyphens allowed between them; blank is the same as absent. \
             A wrong check digit is refused with 422 naming `nip`.",
        ))
}

field_schema! {
    /// A REGON.
    Regon => string()
        .pattern(Some(regon_pattern()))
        .description(Some(
            "REGON: nine or fourteen digits, spaces and hyphens allowed between them; blank is the \
             same as absent. A wrong check digit is refused with 422 naming `regon`.",
        ))
}

field_schema! {
    /// A KRS number.
    Krs => string()
        .pattern(Some(nip_pattern()))
        .description(Some(
            "KRS: ten digits, spaces and hyphens allowed between them; blank is the same as absent. \
             All zeros is refused with 422 naming `krs`.",
        ))
}

field_schema! {
    /// A product's GTIN.
    Gtin => string()
        .pattern(Some(gtin_pattern()))
        .description(Some(
            "GTIN-8, -12, -13 or -14, spaces allowed between the digits; blank is the same as \
             absent. A wrong check digit is refused with 422 naming it (`products[i].gtin`).",
        ))
}

field_schema! {
    /// The first day of a certificate's validity.
    ValidFrom => string()
        .pattern(Some(valid_from_pattern()))
        .description(Some(
            "A calendar date, `YYYY-MM-DD`, from two years before today to one year after; blank is \
             the same as absent (today). Another date is refused with 422 naming `valid_from`.",
        ))
}

field_schema! {
    /// Another issuer's base URL.
    IssuerUrl => string()
        .pattern(Some(issuer_url_pattern()))
        .description(Some(format!(
            "The issuer's base URL, the `iss` of its tokens: `https://host[:port][/path]` with a \
             lowercase host (`http://` only on 127.0.0.1, `[::1]` and `localhost`), no user name, \
             query, fragment or trailing slash, at most {} characters, and not this issuer's own. \
             Its keys are taken to be at `{{url}}/.well-known/jwks.json`. Another URL is refused \
             with 422 naming `url`.",
            zp_shared::trust_list::MAX_URL_LEN
        )))
}

field_schema! {
    /// A certificate token.
    Token => string()
        .max_length(Some(zp_shared::jws::MAX_TOKEN_LEN))
        .pattern(Some(TOKEN_PATTERN))
        .description(Some(
            "A certificate token (compact JWS). One that is not a genuine token of this issuer is \
             refused with 422 whose `code` names the check that failed.",
        ))
}

field_schema! {
    /// A certificate ID as people type it.
    CertificateId => string()
        .pattern(Some(certificate_id_pattern()))
        .description(Some(
            "Certificate ID: 8 characters of Crockford base32 in any case (O, I and L read as 0, 1 \
             and 1), hyphens ignored.",
        ))
}

field_schema! {
    /// One of the sixteen voivodeships.
    Voivodeship => string()
        .enum_values(Some(VOIVODESHIPS))
        .description(Some("A voivodeship: its Polish name in lowercase, as listed."))
}

field_schema! {
    /// The legal form of an entity.
    LegalFormCode => string()
        .enum_values(Some(LegalForm::ALL.map(LegalForm::code)))
        .description(Some("The entity's legal form."))
}

field_schema! {
    /// A status list's number.
    StatusListNumber => ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .minimum(Some(0))
        .description(Some("List number, from 0; a list that does not exist yet is 404."))
}

#[cfg(test)]
mod tests {
    use regex::Regex;
    use utoipa::PartialSchema;

    use super::*;
    use crate::ids;
    use crate::issuer::{self, NewEntity, NewProduct};

    /// 2026-06-01, a fixed "today" for dates.
    const NOW: i64 = 1_780_272_000;

    /// Strings at the edges of the rules: blanks of every kind, control characters, lengths,
    /// digits with separators, dates, URLs, IDs.
    fn corpus() -> &'static [String] {
        static CORPUS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(make_corpus);
        &CORPUS
    }

    fn make_corpus() -> Vec<String> {
        let mut samples: Vec<String> = [
            "",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "\u{85}",
            "\u{9f}",
            "\u{a0}",
            "\u{1680}",
            "\u{2000}",
            "\u{200a}",
            "\u{200b}",
            "\u{2028}",
            "\u{202f}",
            "\u{205f}",
            "\u{3000}",
            "\u{feff}",
            "x",
            " x ",
            "\tx",
            "x\n",
            "a\u{0}b",
            "\u{3000}x\u{3000}",
            "Spółdzielnia „Las”",
            "7740001454",
            "774-000-14-54",
            "774 000 14 54",
            " 7740001454 ",
            "-7740001454-",
            "774000145",
            "77400014540",
            "7740001455",
            "0000000000",
            "\u{3000}7740001454\u{a0}",
            "7740001454\t",
            "774\u{3000}0001454",
            "123456785",
            "12345678512347",
            "123-456-785",
            "0000000096",
            "5901234123457",
            "59012341234570",
            "5901234 123457",
            " 96385074 ",
            "9638507",
            "12345678901231",
            "2026-06-01",
            " 2026-06-01 ",
            "+2026-06-01",
            "-2026-06-01",
            "02026-06-01",
            "2026-6-01",
            "2026-13-01",
            "2026-02-30",
            "2027-06-01",
            "2023-06-01",
            "2026-06-01\u{3000}",
            "2026-06-01\t",
            "https://zp.rops.opole.pl",
            "https://zp.rops.opole.pl/",
            "http://127.0.0.1:8080",
            "http://zp.example.pl",
            "https://Zp.example.pl",
            "https://zp.example.pl/Ścieżka",
            "https://zp.example.pl/a?b",
            "https://zp.example.pl#x",
            "https://u@zp.example.pl",
            " https://zp.example.pl ",
            "https://[::1]:443/x",
            "https://zp.example.pl/%zz",
            "example.pl",
            "www.example.pl",
            "https://www.Example.pl:8443/sklep",
            "łódź.pl",
            "localhost",
            "exa mple.pl",
            "-a.pl",
            "a..pl",
            ".",
            "a.pl.",
            "7K3QX9M2",
            "7k3qx9m2",
            "7K3Q-X9M2",
            " 7K3QX9M2 ",
            "7K3QX9MU",
            "7K3QX9M",
            "7K3QX9M22",
            "OIL00000",
            "--7K3QX9M2--",
            "7K3 QX9M2",
            "\u{85}7K3QX9M2",
            "7K3QX9M2\u{3000}",
            "eyJh.eyJi.c2ln",
            "a.b",
            "a.b.c.d",
            "..",
            "a+b.c.d",
            "lubelskie",
            "Lubelskie",
            " lubelskie",
            "kujawsko-pomorskie",
            "cis",
            "CIS",
            " cis",
            "social_cooperative",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        for len in [99, 100, 101, 199, 200, 201, 499, 500, 501] {
            samples.push("x".repeat(len));
            samples.push("ś".repeat(len));
            samples.push(format!(" {} ", "x".repeat(len - 2)));
        }
        // Short strings over an alphabet of the characters that matter, from a fixed generator.
        let alphabet =
            ['0', '5', '9', ' ', '-', '\t', '\u{a0}', '\u{3000}', '\u{feff}', '\u{85}', 'a', 'K', '.', '/'];
        let mut state: u64 = 0x5eed;
        for _ in 0..20_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = (state >> 59) as usize;
            let mut text = String::new();
            let mut bits = state;
            for _ in 0..len {
                bits = bits.rotate_left(5) ^ (bits >> 3).wrapping_mul(31);
                text.push(alphabet[(bits % alphabet.len() as u64) as usize]);
            }
            samples.push(text);
        }
        // Ten- and thirteen-digit runs with separators, so that identifier rules get past their
        // length checks.
        for (i, sample) in samples.clone().iter().enumerate().take(3_000) {
            let digits: String = (0..13).map(|d| char::from(b'0' + ((i * 7 + d * 3) % 10) as u8)).collect();
            samples.push(format!("{}{}", sample, digits.get(..10).unwrap_or_default()));
            samples.push(format!(
                "{}{}{}",
                digits.get(..4).unwrap_or_default(),
                sample,
                digits.get(4..).unwrap_or_default()
            ));
        }
        samples
    }

    /// Whether a string meets the document's schema `T`.
    fn schema_of<T: PartialSchema>() -> impl Fn(&str) -> bool {
        let schema = serde_json::to_value(T::schema()).unwrap();
        let max = schema["maxLength"].as_u64();
        let min = schema["minLength"].as_u64();
        let values = schema["enum"].as_array().cloned();
        let pattern = schema["pattern"]
            .as_str()
            .map(|pattern| Regex::new(pattern).unwrap_or_else(|err| panic!("{pattern}: {err}")));
        assert!(values.is_some() != pattern.is_some(), "{schema}");
        move |value| {
            let chars = value.chars().count() as u64;
            if max.is_some_and(|max| chars > max) || min.is_some_and(|min| chars < min) {
                return false;
            }
            match (&values, &pattern) {
                (Some(values), _) => values.iter().any(|v| v == value),
                (_, Some(pattern)) => pattern.is_match(value),
                _ => false,
            }
        }
    }

    /// The schema and the check agree on every sample.
    fn exact<T: PartialSchema>(check: impl Fn(&str) -> bool) {
        let accepts = schema_of::<T>();
        for sample in corpus() {
            assert_eq!(accepts(sample), check(sample), "{sample:?}");
        }
    }

    /// The schema accepts whatever the check accepts; where it accepts what the check refuses,
    /// `beyond` must say the refusal is one the descriptions name (a check digit, a date range).
    fn covers<T: PartialSchema>(check: impl Fn(&str) -> bool, beyond: impl Fn(&str) -> bool) {
        let accepts = schema_of::<T>();
        for sample in corpus() {
            match (accepts(sample), check(sample)) {
                (false, true) => panic!("the server accepts {sample:?}, which the document refuses"),
                (true, false) => {
                    assert!(beyond(sample), "the document accepts {sample:?} for a reason it does not name")
                }
                _ => {}
            }
        }
    }

    #[test]
    fn text_fields() {
        exact::<Name>(|s| issuer::clean_text("name", s, NAME_MAX).is_ok());
        assert_eq!(zp_shared::trust_list::MAX_NAME_CHARS, NAME_MAX, "issuer names use `Name` too");
        exact::<City>(|s| issuer::optional_text("city", &Some(s.to_owned()), CITY_MAX).is_ok());
        exact::<Contact>(|s| issuer::optional_text("contact", &Some(s.to_owned()), CONTACT_MAX).is_ok());
        exact::<PublicNote>(|s| issuer::optional_text("note", &Some(s.to_owned()), NOTE_MAX).is_ok());
    }

    #[test]
    fn enumerations() {
        exact::<Voivodeship>(|s| issuer::optional_voivodeship(&Some(s.to_owned())).is_ok());
        exact::<LegalFormCode>(|s| issuer::parse_legal_form(s).is_ok());
    }

    #[test]
    fn register_identifiers() {
        use zp_shared::Error;
        let checksum = |check: fn(&str) -> Result<String, Error>| {
            move |s: &str| {
                matches!(
                    check(s.trim()),
                    Err(Error::IdentCheckDigit { .. } | Error::IdentZero { .. } | Error::NipRemainderTen)
                )
            }
        };
        let ident = |field: &'static str, check: fn(&str) -> Result<String, Error>| {
            move |s: &str| issuer::optional_ident(field, &Some(s.to_owned()), check).is_ok()
        };
        covers::<Nip>(ident("nip", zp_shared::ident::nip), checksum(zp_shared::ident::nip));
        covers::<Regon>(ident("regon", zp_shared::ident::regon), checksum(zp_shared::ident::regon));
        covers::<Krs>(ident("krs", zp_shared::ident::krs), checksum(zp_shared::ident::krs));
    }

    #[test]
    fn gtins() {
        let product = |gtin: &str| vec![NewProduct { name: "x".into(), gtin: Some(gtin.to_owned()) }];
        covers::<Gtin>(
            |s| issuer::validate_products("products", &product(s), NOW).is_ok(),
            |s| matches!(ids::parse_gtin14(s.trim()), Err(ids::GtinError::CheckDigit { .. })),
        );
    }

    #[test]
    fn validity_start() {
        covers::<ValidFrom>(
            |s| issuer::validity_start(&Some(s.to_owned()), NOW).is_ok(),
            |s| {
                // A day that does not exist, or one outside the two years back and one ahead.
                let text = s.trim();
                let (sign, text) = match text.strip_prefix('-') {
                    Some(rest) => (-1, rest),
                    None => (1, text.trim_start_matches('+')),
                };
                let numbers: Vec<i32> = text.split('-').map(|n| n.parse().unwrap()).collect();
                let [year, month, day] = numbers[..] else { return false };
                let year = sign * year;
                let date = chrono::NaiveDate::from_ymd_opt(year, month as u32, day as u32);
                date.is_none_or(|date| {
                    let today = chrono::DateTime::from_timestamp(NOW, 0).unwrap().date_naive();
                    !(-731..=366).contains(&(date - today).num_days())
                })
            },
        );
    }

    #[test]
    fn domains() {
        let entity = |domain: &str| NewEntity {
            name: "x".into(),
            legal_form: "cis".into(),
            domains: vec![domain.to_owned()],
            ..NewEntity::default()
        };
        // What makes a host name valid after IDNA mapping is the description's to state.
        covers::<Domain>(|s| issuer::entity_record(entity(s), NOW).is_ok(), |_| true);
    }

    #[test]
    fn issuer_urls() {
        // The URL rule is `zp_shared::check_issuer_url`; the pattern holds its alphabet and scheme.
        covers::<IssuerUrl>(|s| issuer::trusted_issuer_record(s, "x", None, NOW).is_ok(), |_| true);
    }

    #[test]
    fn tokens() {
        covers::<Token>(|s| zp_shared::UntrustedToken::parse(s).is_ok(), |_| true);
    }

    #[test]
    fn certificate_ids() {
        exact::<CertificateId>(|s| ids::normalize_certificate_id(s).is_some());
    }
}
