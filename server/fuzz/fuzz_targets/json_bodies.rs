//! The JSON request bodies of the admin API (new entity, new certificate, products to add, a
//! suspension's note, a revocation, a trusted issuer) and of the check API (verify), from untrusted
//! bytes, read as the handlers read them (`parse_json`, what the `ApiJson` extractor does with the
//! body) and then checked as the issuer checks them before anything is stored.
//!
//! The first byte picks the body; the second whether the rest is the body as sent, or pieces
//! that fill the body's members (absent, null, a number, a known good value, or arbitrary text),
//! so that most inputs get past the JSON syntax to the checks.
//!
//! Nothing may panic, and:
//!
//! * a body refused while it is read is `400 malformed_json` (naming no field) or
//!   `422 invalid_field`;
//! * a body refused by the checks names one of its own members as the field at fault;
//! * a body the checks accept meets the OpenAPI document's schema for it (resolving `$ref`s, with
//!   its types, enumerations, patterns, lengths, item counts, required and unknown members): the
//!   server never accepts what its document forbids.

#![no_main]

use std::collections::HashMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use regex::Regex;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use zp_server::http::admin::{AddProducts, NewTrustedIssuer, Note, Revoke};
use zp_server::http::api::VerifyRequest;
use zp_server::http::error::parse_json;
use zp_server::issuer::{self, IssuerError, NOTE_MAX, NewCertificate, NewEntity};

/// 2026-06-01, "today" for dates.
const NOW: i64 = 1_780_272_000;

/// The OpenAPI document as JSON, with its patterns compiled.
struct Document {
    doc: Value,
    patterns: HashMap<String, Regex>,
}

static DOCUMENT: LazyLock<Document> = LazyLock::new(|| {
    let doc = serde_json::to_value(zp_server::http::openapi::for_issuer("https://zp.example.pl"))
        .expect("the document is JSON");
    let mut patterns = HashMap::new();
    collect_patterns(&doc, &mut patterns);
    Document { doc, patterns }
});

fn collect_patterns(value: &Value, patterns: &mut HashMap<String, Regex>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                if let ("pattern", Value::String(pattern)) = (key.as_str(), member) {
                    let regex = Regex::new(pattern).expect("the document's patterns compile");
                    patterns.insert(pattern.clone(), regex);
                } else {
                    collect_patterns(member, patterns);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_patterns(item, patterns)),
        _ => {}
    }
}

fn type_matches(name: &Value, value: &Value) -> bool {
    match name.as_str() {
        Some("null") => value.is_null(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => false,
    }
}

impl Document {
    fn schema(&self, name: &str) -> &Value {
        let schema = &self.doc["components"]["schemas"][name];
        assert!(schema.is_object(), "no schema {name}");
        schema
    }

    /// Whether `value` meets `schema`, as far as the keywords the document uses go; the error
    /// says where it does not.
    fn conforms(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if let Some(target) = schema["$ref"].as_str() {
            let resolved = self
                .doc
                .pointer(target.trim_start_matches('#'))
                .ok_or_else(|| format!("{at}: {target} does not resolve"))?;
            self.conforms(resolved, value, at)?;
        }
        if let Some(options) = schema["oneOf"].as_array() {
            let matching = options.iter().filter(|o| self.conforms(o, value, at).is_ok()).count();
            if matching != 1 {
                return Err(format!("{at}: {matching} of the oneOf schemas match"));
            }
        }
        let types = match &schema["type"] {
            Value::Array(types) => types.clone(),
            Value::Null => Vec::new(),
            single => vec![single.clone()],
        };
        if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
            return Err(format!("{at}: not of type {types:?}"));
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.contains(value)
        {
            return Err(format!("{at}: not one of {values:?}"));
        }
        match value {
            Value::String(text) => {
                let chars = text.chars().count() as u64;
                if schema["maxLength"].as_u64().is_some_and(|max| chars > max) {
                    return Err(format!("{at}: longer than maxLength"));
                }
                if schema["minLength"].as_u64().is_some_and(|min| chars < min) {
                    return Err(format!("{at}: shorter than minLength"));
                }
                if let Some(pattern) = schema["pattern"].as_str()
                    && !self.patterns[pattern].is_match(text)
                {
                    return Err(format!("{at}: does not match {pattern}"));
                }
            }
            Value::Number(number) => {
                let number = number.as_f64().unwrap_or(f64::NAN);
                if schema["minimum"].as_f64().is_some_and(|min| number < min)
                    || schema["maximum"].as_f64().is_some_and(|max| number > max)
                {
                    return Err(format!("{at}: out of range"));
                }
            }
            Value::Array(items) => {
                let count = items.len() as u64;
                if schema["maxItems"].as_u64().is_some_and(|max| count > max)
                    || schema["minItems"].as_u64().is_some_and(|min| count < min)
                {
                    return Err(format!("{at}: {count} items"));
                }
                if schema["items"].is_object() {
                    for (i, item) in items.iter().enumerate() {
                        self.conforms(&schema["items"], item, &format!("{at}[{i}]"))?;
                    }
                }
            }
            Value::Object(members) => {
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().unwrap_or_default();
                    if !members.contains_key(name) {
                        return Err(format!("{at}: no {name}"));
                    }
                }
                let properties = schema["properties"].as_object();
                for (name, member) in members {
                    match properties.and_then(|p| p.get(name)) {
                        Some(property) => self.conforms(property, member, &format!("{at}.{name}"))?,
                        None if schema["additionalProperties"] == false => {
                            return Err(format!("{at}: unknown member {name}"));
                        }
                        None => {}
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Reads `bytes` as the handler reads a body of schema `name`, then checks it with `accept`,
/// which gives the field at fault when it refuses.
fn check<T: DeserializeOwned>(name: &str, bytes: &[u8], accept: impl FnOnce(T) -> Result<(), String>) {
    let document = &*DOCUMENT;
    let schema = document.schema(name);
    let body = match parse_json::<T>(bytes) {
        Ok(body) => body,
        Err(err) => {
            let status = err.status.as_u16();
            assert!(
                matches!((status, err.code), (400, "malformed_json") | (422, "invalid_field")),
                "{status} {}",
                err.code
            );
            // Broken JSON names no field. (A member of the wrong type, missing or unknown is named
            // by its path, and an unknown member's name may be anything, even empty.)
            assert!(status == 422 || err.field.is_none(), "{err:?}");
            return;
        }
    };
    let value: Value = serde_json::from_slice(bytes).expect("a body the handler read is JSON");
    match accept(body) {
        Ok(()) => {
            if let Err(problem) = document.conforms(schema, &value, name) {
                panic!("accepted a body the document forbids: {problem}\n{value}");
            }
        }
        Err(field) => {
            let member = field.split(['[', '.']).next().unwrap_or_default();
            assert!(schema["properties"].get(member).is_some(), "{name}: refused naming {field:?}");
        }
    }
}

/// The field a check refused; any other error is a bug here.
fn field_of(err: IssuerError) -> String {
    match err {
        IssuerError::Invalid { field, .. } => field,
        other => panic!("a check gave {other:?}"),
    }
}

/// The member values of a templated body, drawn from the input: how each member is made, and
/// the texts for those made of arbitrary text.
struct Pieces {
    shapes: Vec<u8>,
    shape_at: usize,
    texts: Vec<String>,
    text_at: usize,
}

impl Pieces {
    fn new(data: &[u8]) -> Self {
        let (shapes, rest) = data.split_at(data.len().min(24));
        let texts =
            rest.split(|b| *b == 0xff).map(|piece| String::from_utf8_lossy(piece).into_owned()).collect();
        Pieces { shapes: shapes.to_vec(), shape_at: 0, texts, text_at: 0 }
    }

    /// How to make the next member; a known good value once the input runs out.
    fn shape(&mut self) -> u8 {
        let shape = self.shapes.get(self.shape_at).copied().unwrap_or(3);
        self.shape_at += 1;
        shape
    }

    fn text(&mut self) -> String {
        let text = self.texts.get(self.text_at).cloned().unwrap_or_default();
        self.text_at += 1;
        text
    }

    /// A member: absent, null, a number, one of `good`, or text.
    fn member(&mut self, good: &[&str]) -> Option<Value> {
        let shape = self.shape();
        match shape % 8 {
            0 => None,
            1 => Some(Value::Null),
            2 => Some(json!(shape)),
            3 | 4 => good.get(usize::from(shape / 8) % good.len().max(1)).map(|g| json!(g)),
            _ => Some(Value::String(self.text())),
        }
    }

    fn list(&mut self, good: &[&str]) -> Value {
        let count = self.shape() % 4;
        Value::Array((0..count).filter_map(|_| self.member(good)).collect())
    }

    fn products(&mut self) -> Value {
        let count = self.shape() % 3;
        let products = (0..count).map(|_| {
            let mut product = serde_json::Map::new();
            put(&mut product, "name", self.member(&["Powidła śliwkowe", " Chleb "]));
            put(&mut product, "gtin", self.member(&["5901234123457", "96385074", " 5901234 123457 "]));
            Value::Object(product)
        });
        Value::Array(products.collect())
    }
}

fn put(object: &mut serde_json::Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(name.to_owned(), value);
    }
}

/// A body of schema `name` filled from `pieces`.
fn templated(name: &str, pieces: &mut Pieces) -> Value {
    let mut body = serde_json::Map::new();
    match name {
        "NewEntity" => {
            put(&mut body, "name", pieces.member(&["Spółdzielnia Socjalna „Las”"]));
            put(&mut body, "legal_form", pieces.member(&["social_cooperative", "cis", "other"]));
            body.insert("domains".into(), pieces.list(&["las.example.pl", "https://www.Las.pl:8443/x"]));
            put(&mut body, "nip", pieces.member(&["774-000-14-54", "7740001454"]));
            put(&mut body, "regon", pieces.member(&["123456785", "12345678512347"]));
            put(&mut body, "krs", pieces.member(&["0000012345"]));
            put(&mut body, "city", pieces.member(&["Lublin"]));
            put(&mut body, "voivodeship", pieces.member(&["lubelskie", "śląskie"]));
            put(&mut body, "contact", pieces.member(&["biuro@las.example.pl"]));
        }
        "NewCertificate" => {
            put(&mut body, "entity_id", pieces.member(&["E0123456789AB"]));
            body.insert("products".into(), pieces.products());
            put(&mut body, "valid_from", pieces.member(&["2026-06-01", "2025-01-31", "+2027-05-31"]));
        }
        "AddProducts" => {
            body.insert("products".into(), pieces.products());
        }
        "Note" => put(&mut body, "note", pieces.member(&["Kontrola jakości"])),
        "Revoke" => {
            put(&mut body, "reason", pieces.member(&["misuse", "issued_in_error"]));
            put(&mut body, "note", pieces.member(&["Kontrola jakości"]));
        }
        "NewTrustedIssuer" => {
            put(&mut body, "url", pieces.member(&["https://zp.rops.opole.pl", "http://127.0.0.1:8080"]));
            put(&mut body, "name", pieces.member(&["ROPS w Opolu"]));
            put(&mut body, "voivodeship", pieces.member(&["opolskie"]));
        }
        _ => put(&mut body, "token", pieces.member(&["eyJhbGciOiJFZERTQSJ9.e30.c2ln"])),
    }
    if pieces.shape() % 16 == 15 {
        body.insert(pieces.text(), json!("unknown"));
    }
    Value::Object(body)
}

const BODIES: [&str; 7] =
    ["NewEntity", "NewCertificate", "AddProducts", "Note", "Revoke", "NewTrustedIssuer", "VerifyRequest"];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Some((&mode, rest)) = rest.split_first() else { return };
    let name = BODIES[usize::from(which) % BODIES.len()];
    let templated_bytes;
    let bytes = if mode % 2 == 0 {
        rest
    } else {
        templated_bytes = serde_json::to_vec(&templated(name, &mut Pieces::new(rest))).expect("JSON");
        &templated_bytes[..]
    };
    match name {
        "NewEntity" => check(name, bytes, |input: NewEntity| {
            let entity = issuer::entity_record(input, NOW).map_err(field_of)?;
            assert_eq!(entity.name, entity.name.trim());
            assert!((1..=issuer::DOMAINS_MAX).contains(&entity.domains.len()));
            Ok(())
        }),
        "NewCertificate" => check(name, bytes, |input: NewCertificate| {
            let products = issuer::validate_products("products", &input.products, NOW).map_err(field_of)?;
            assert!((1..=issuer::PRODUCTS_MAX).contains(&products.len()));
            issuer::validity_start(&input.valid_from, NOW).map_err(field_of)?;
            Ok(())
        }),
        "AddProducts" => check(name, bytes, |input: AddProducts| {
            issuer::validate_products("products", &input.products, NOW).map(drop).map_err(field_of)
        }),
        "Note" => check(name, bytes, |input: Note| {
            issuer::optional_text("note", &input.note, NOTE_MAX).map(drop).map_err(field_of)
        }),
        "Revoke" => check(name, bytes, |input: Revoke| {
            issuer::optional_text("note", &input.note, NOTE_MAX).map(drop).map_err(field_of)
        }),
        "NewTrustedIssuer" => check(name, bytes, |input: NewTrustedIssuer| {
            let record =
                issuer::trusted_issuer_record(&input.url, &input.name, input.voivodeship.as_deref(), NOW)
                    .map_err(field_of)?;
            assert!(zp_shared::is_allowed_issuer_url(&record.iss));
            Ok(())
        }),
        _ => check(name, bytes, |input: VerifyRequest| {
            // What the handler does before it has keys: a token naming another issuer is sent
            // there; anything that is not a token at all is refused, naming `token`.
            let token = zp_shared::UntrustedToken::parse(&input.token).map_err(|_| "token".to_owned())?;
            let _ = token.unverified_hints();
            let keys = zp_shared::KeySet::new();
            let rules = zp_shared::Rules::new("https://zp.example.pl");
            assert!(zp_shared::verify(&input.token, &keys, NOW, &rules).is_err(), "verified without keys");
            Ok(())
        }),
    }
});
