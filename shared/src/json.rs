//! Strict JSON (RFC 8259) for the small documents a verifier reads: JWS headers, claims and key
//! sets. It refuses duplicate object members at any depth, compared after unescaping.
//!
//! RFC 7515 §5.2 lets a JWS parser either reject duplicates or take the last one; two parsers
//! that choose differently read different claims from the same signed bytes, so we reject.
//!
//! Why not serde_json here: the badge downloads this code, and serde's generic deserialisation
//! made up a third of its WebAssembly. This parser is a few hundred lines, has no generics, and
//! is checked against serde_json (differential tests and a fuzz target) on every input shape.
//! Signing, on the issuer, still serialises with serde_json.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::error::{Error, Part};

/// Nesting deeper than this is refused (serde_json's limit too).
const MAX_DEPTH: usize = 128;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Object),
}

/// A JSON number, kept as written; integers that fit in 64 bits are also kept as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    text: String,
    int: Option<Int>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Int {
    Signed(i64),
    /// Above `i64::MAX`.
    Unsigned(u64),
}

/// An object's members, unique by name, read in the order of their names. A list with a sorted
/// index rather than a tree: far less code in the badge's download, lookups still by halving, and
/// a new name costs moving a few index entries, never members.
#[derive(Debug, Clone, Default)]
pub struct Object {
    /// In the order written.
    members: Vec<(String, Value)>,
    /// Positions in `members`, in the order of their names.
    by_name: Vec<usize>,
}

impl Object {
    pub fn new() -> Self {
        Object::default()
    }

    /// Where `name` is in `by_name`, or where it would go.
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.by_name.binary_search_by(|&at| match self.members.get(at) {
            Some((member, _)) => member.as_str().cmp(name),
            None => Ordering::Less,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        let at = *self.by_name.get(self.find(name).ok()?)?;
        self.members.get(at).map(|(_, value)| value)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Adds a member whose name [`find`](Self::find) did not find, at the place it gave.
    fn insert_at(&mut self, slot: usize, name: String, value: Value) {
        self.by_name.insert(slot, self.members.len());
        self.members.push((name, value));
    }

    /// The members in the order of their names.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.by_name.iter().filter_map(|&at| self.members.get(at).map(|(name, value)| (name, value)))
    }

    /// The member names in their order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.iter().map(|(name, _)| name)
    }
}

/// Objects are equal when they have the same members, whatever order they were written in.
impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.members.len() == other.members.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Object {}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// An integer written without fraction or exponent, within `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number { int: Some(Int::Signed(n)), .. }) => Some(*n),
            _ => None,
        }
    }

    /// An integer written without fraction or exponent, within `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(Number { int: Some(Int::Signed(n)), .. }) => u64::try_from(*n).ok(),
            Value::Number(Number { int: Some(Int::Unsigned(n)), .. }) => Some(*n),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The value as compact JSON text, for error messages.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.text),
            Value::String(s) => write_string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(name, out);
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// The text itself for a string, JSON text otherwise: how a found value reads in an error.
pub fn display(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_json(), str::to_owned)
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses `bytes` as one JSON object, refusing duplicate members anywhere inside it.
pub fn parse_object(bytes: &[u8], part: Part) -> Result<Object, Error> {
    let mut parser = Parser { bytes, pos: 0, depth: 0, part };
    parser.skip_whitespace();
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos < bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    match value {
        Value::Object(members) => Ok(members),
        _ => Err(Error::NotAnObject(part)),
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    part: Part,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> Error {
        Error::Json { part: self.part, detail: format!("{what} at byte {}", self.pos) }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), Error> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, Error> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("end of input while parsing a value")),
        }
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Value, Error>) -> Result<Value, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let value = parse(self);
        self.depth -= 1;
        value
    }

    fn object(&mut self) -> Result<Value, Error> {
        self.pos += 1;
        let mut members = Object::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let name = self.string()?;
            let Err(slot) = members.find(&name) else {
                return Err(Error::DuplicateMember { part: self.part, name });
            };
            self.skip_whitespace();
            self.expect(b':', "expected `:`")?;
            self.skip_whitespace();
            let value = self.value()?;
            members.insert_at(slot, name, value);
            self.skip_whitespace();
            match self.next() {
                Some(b',') => {}
                Some(b'}') => return Ok(Value::Object(members)),
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value()?);
            self.skip_whitespace();
            match self.next() {
                Some(b',') => {}
                Some(b']') => return Ok(Value::Array(items)),
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            let run = self.bytes.get(start..self.pos).unwrap_or_default();
            match self.next() {
                // Most strings have no escape: one copy of the run, no intermediate buffer.
                Some(b'"') if out.is_empty() => {
                    return std::str::from_utf8(run)
                        .map(str::to_owned)
                        .map_err(|_| self.error("invalid UTF-8 in a string"));
                }
                Some(b'"') => {
                    out.extend_from_slice(run);
                    break;
                }
                Some(b'\\') => {
                    out.extend_from_slice(run);
                    let c = self.escape()?;
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(_) => {
                    self.pos -= 1;
                    return Err(self.error("control character in a string"));
                }
                None => return Err(self.error("end of input while parsing a string")),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8 in a string"))
    }

    fn escape(&mut self) -> Result<char, Error> {
        let c = match self.next() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let first = self.hex4()?;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                            return Err(self.error("lone leading surrogate in a \\u escape"));
                        }
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.error("lone leading surrogate in a \\u escape"));
                        }
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in a \\u escape")),
                    code => code,
                };
                return char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"));
            }
            _ => return Err(self.error("invalid escape")),
        };
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.next().and_then(|b| char::from(b).to_digit(16));
            code = code * 16 + digit.ok_or_else(|| self.error("invalid \\u escape"))?;
        }
        Ok(code)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Number, Error> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        let int_end = self.pos;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.required_digits()?;
            integral = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.required_digits()?;
            integral = false;
        }
        let text = self.bytes.get(start..self.pos).unwrap_or_default();
        let text = String::from_utf8_lossy(text).into_owned();
        let int = if integral {
            let digits = self.bytes.get(int_start..int_end).unwrap_or_default();
            integer(digits, negative)
        } else {
            None
        };
        Ok(Number { text, int })
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), Error> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("invalid number"));
        }
        self.digits();
        Ok(())
    }
}

/// The integer that `digits` (ASCII, no sign) spell, if it fits in `i64` (or `u64` when positive).
fn integer(digits: &[u8], negative: bool) -> Option<Int> {
    let mut magnitude: u64 = 0;
    for digit in digits {
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        // `-0` is not an integer to serde_json either (it reads it as the float -0.0).
        if magnitude == 0 {
            return None;
        }
        Some(Int::Signed(0_i64.checked_sub_unsigned(magnitude)?))
    } else {
        Some(i64::try_from(magnitude).map_or(Int::Unsigned(magnitude), Int::Signed))
    }
}

/// Typed access to an object's members for the claim decoders, with errors naming the member's
/// path (`zp.entity.name`).
pub struct Fields<'a> {
    members: &'a Object,
    path: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(members: &'a Object, path: &'a str) -> Self {
        Fields { members, path }
    }

    fn name(&self, name: &str) -> String {
        if self.path.is_empty() { name.to_owned() } else { format!("{}.{name}", self.path) }
    }

    fn wrong(&self, name: &str, expected: &str) -> Error {
        Error::Claims(format!("`{}` must be {expected}", self.name(name)))
    }

    fn required(&self, name: &str) -> Result<&'a Value, Error> {
        self.members.get(name).ok_or_else(|| Error::Claims(format!("missing field `{}`", self.name(name))))
    }

    pub fn string(&self, name: &str) -> Result<String, Error> {
        self.required(name)?.as_str().map(str::to_owned).ok_or_else(|| self.wrong(name, "a string"))
    }

    /// A string member that may be absent or null.
    pub fn optional_string(&self, name: &str) -> Result<Option<String>, Error> {
        match self.members.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(name, "a string")),
        }
    }

    pub fn i64(&self, name: &str) -> Result<i64, Error> {
        self.required(name)?.as_i64().ok_or_else(|| self.wrong(name, "an integer"))
    }

    pub fn u64(&self, name: &str) -> Result<u64, Error> {
        self.required(name)?.as_u64().ok_or_else(|| self.wrong(name, "a non-negative integer"))
    }

    pub fn object(&self, name: &str) -> Result<&'a Object, Error> {
        self.required(name)?.as_object().ok_or_else(|| self.wrong(name, "an object"))
    }

    pub fn array(&self, name: &str) -> Result<&'a [Value], Error> {
        self.required(name)?.as_array().ok_or_else(|| self.wrong(name, "an array"))
    }

    /// Refuses members other than `known`.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), Error> {
        match self.members.keys().find(|name| !known.contains(&name.as_str())) {
            Some(name) => Err(Error::Claims(format!("unknown field `{}`", self.name(name)))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Object, Error> {
        parse_object(s.as_bytes(), Part::Payload)
    }

    #[test]
    fn duplicates_are_found_at_any_depth_and_through_escapes() {
        assert!(parse(r#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        assert_eq!(
            parse(r#"{"exp":1,"exp":2}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "exp".into() })
        );
        assert_eq!(
            parse(r#"{"exp":1,"\u0065xp":2}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "exp".into() })
        );
        assert_eq!(
            parse(r#"{"zp":{"entity":{"name":"a","name":"b"}}}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "name".into() })
        );
        assert_eq!(
            parse(r#"{"a":[{"x":1,"x":1}]}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "x".into() })
        );
        assert_eq!(parse("[1]"), Err(Error::NotAnObject(Part::Payload)));
        assert!(matches!(parse("{"), Err(Error::Json { .. })));
        assert!(matches!(parse(r#"{"a":1} x"#), Err(Error::Json { .. })));
    }

    #[test]
    fn numbers_keep_their_integer_range() {
        let doc = parse(
            r#"{"a":9223372036854775807,"b":-9223372036854775808,"c":18446744073709551615,
                "d":18446744073709551616,"e":1.0,"f":1e3,"g":-0,"h":-1}"#,
        )
        .unwrap();
        let get = |k: &str| doc.get(k).unwrap();
        assert_eq!(get("a").as_i64(), Some(i64::MAX));
        assert_eq!(get("b").as_i64(), Some(i64::MIN));
        assert_eq!(get("b").as_u64(), None);
        assert_eq!((get("c").as_i64(), get("c").as_u64()), (None, Some(u64::MAX)));
        assert_eq!((get("d").as_i64(), get("d").as_u64()), (None, None));
        assert_eq!((get("e").as_i64(), get("f").as_i64()), (None, None));
        assert_eq!(get("g").as_i64(), None);
        assert_eq!(get("h").as_u64(), None);
        assert_eq!(get("e").to_json(), "1.0");
    }

    #[test]
    fn refuses_what_rfc_8259_refuses() {
        for bad in [
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":+1}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\\ud800\\u0041\"}",
            "{\"a\":tru}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\" 1}",
            "{'a':1}",
            "{\"a\":[1,]}",
            "{\"a\":NaN}",
            "\u{feff}{}",
            "{}\u{0}",
        ] {
            assert!(matches!(parse(bad), Err(Error::Json { .. })), "{bad:?} was accepted");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(parse(&deep), Err(Error::Json { .. })));
        assert!(parse_object(b"{\"a\":\"\xff\"}", Part::Header).is_err());
    }

    #[test]
    fn strings_unescape() {
        let doc = parse(r#"{"a":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00ż"}"#).unwrap();
        assert_eq!(doc.get("a").unwrap().as_str(), Some("\"\\/\u{8}\u{c}\n\r\té😀ż"));
        assert_eq!(doc.get("a").unwrap().to_json(), "\"\\\"\\\\/\\u0008\\u000c\\n\\r\\té😀ż\"");
    }

    /// The parser this one replaced (serde_json with a duplicate-refusing visitor), kept as the
    /// oracle: both must accept and refuse the same documents and read the same values.
    #[cfg(not(target_arch = "wasm32"))]
    mod differential {
        use super::*;
        use proptest::prelude::*;
        use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

        const DUPLICATE: &str = "\u{1}duplicate\u{1}";

        struct Strict(serde_json::Value);

        impl<'de> Deserialize<'de> for Strict {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(StrictVisitor).map(Strict)
            }
        }

        struct StrictVisitor;

        impl<'de> Visitor<'de> for StrictVisitor {
            type Value = serde_json::Value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(v.into())
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(v.into())
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(v.into())
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(v.into())
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(v.into())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(serde_json::Value::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(Strict(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(items.into())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if members.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("{DUPLICATE}{key}{DUPLICATE}")));
                    }
                    let Strict(value) = map.next_value()?;
                    members.insert(key, value);
                }
                Ok(members.into())
            }
        }

        enum Oracle {
            Object(serde_json::Value),
            NotAnObject,
            Duplicate(String),
            Invalid,
            /// A number beyond f64, which serde_json refuses and this parser keeps as text.
            OutOfRange,
        }

        fn oracle(bytes: &[u8]) -> Oracle {
            match serde_json::from_slice::<Strict>(bytes) {
                Ok(Strict(value)) if value.is_object() => Oracle::Object(value),
                Ok(_) => Oracle::NotAnObject,
                Err(err) => {
                    let text = err.to_string();
                    match text.split(DUPLICATE).nth(1) {
                        Some(name) => Oracle::Duplicate(name.to_owned()),
                        None if text.contains("number out of range") => Oracle::OutOfRange,
                        None => Oracle::Invalid,
                    }
                }
            }
        }

        fn to_serde(value: &Value) -> serde_json::Value {
            match value {
                Value::Null => serde_json::Value::Null,
                Value::Bool(b) => (*b).into(),
                Value::Number(n) => serde_json::from_str(&n.text).unwrap(),
                Value::String(s) => s.as_str().into(),
                Value::Array(items) => items.iter().map(to_serde).collect(),
                Value::Object(members) => members
                    .iter()
                    .map(|(k, v)| (k.clone(), to_serde(v)))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            }
        }

        fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
            let ours = parse_object(bytes, Part::Payload);
            match (oracle(bytes), ours) {
                (Oracle::Object(expected), Ok(members)) => {
                    let found = to_serde(&Value::Object(members.clone()));
                    prop_assert_eq!(&found, &expected);
                    for (name, value) in members.iter() {
                        prop_assert_eq!(value.as_i64(), expected[name].as_i64(), "as_i64 of {}", name);
                        prop_assert_eq!(value.as_u64(), expected[name].as_u64(), "as_u64 of {}", name);
                    }
                }
                (Oracle::NotAnObject, Err(Error::NotAnObject(_))) => {}
                (Oracle::Duplicate(name), Err(Error::DuplicateMember { name: found, .. })) => {
                    prop_assert_eq!(found, name)
                }
                (Oracle::Invalid, Err(Error::Json { .. })) | (Oracle::OutOfRange, _) => {}
                (_, ours) => prop_assert!(
                    false,
                    "{:?}: oracle and parser disagree: {:?}",
                    String::from_utf8_lossy(bytes),
                    ours
                ),
            }
            Ok(())
        }

        fn json_value() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                Just("null".to_owned()),
                Just("true".to_owned()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| n.to_string()),
                "-?(0|[1-9][0-9]{0,21})(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?",
                "\"([a-c ]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}|[żé😀])*\"",
            ];
            leaf.prop_recursive(4, 32, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|items| format!("[{}]", items.join(","))),
                    prop::collection::vec(("[a-c]{1,2}", inner), 0..5).prop_map(|members| {
                        let members: Vec<String> =
                            members.into_iter().map(|(k, v)| format!("\"{k}\" : {v}")).collect();
                        format!("{{ {} }}", members.join(","))
                    }),
                ]
            })
        }

        proptest! {
            #[test]
            fn agrees_with_serde_json_on_generated_documents(doc in json_value()) {
                agree(doc.as_bytes())?;
                agree(format!("{{\"x\":{doc}}}").as_bytes())?;
            }

            #[test]
            fn agrees_with_serde_json_on_mutated_documents(
                doc in json_value(),
                edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(b"{}[]\":,.-+eE0123456789\\u \t\nab\x01\xc3\xff".to_vec())), 1..4),
            ) {
                let mut bytes = format!("{{\"x\":{doc}}}").into_bytes();
                for (at, byte) in edits {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
                agree(&bytes)?;
            }

            #[test]
            fn agrees_with_serde_json_on_noise(bytes in prop::collection::vec(prop::sample::select(b"{}[]\":,.-0123456789eEtrufalsn\\ ".to_vec()), 0..40)) {
                agree(&bytes)?;
            }
        }
    }
}
