//! JSON parsing that refuses duplicate object members at any depth.
//!
//! RFC 7515 §5.2 lets a JWS parser either reject duplicates or take the last one; two parsers
//! that choose differently read different claims from the same signed bytes, so we reject.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::error::{Error, Part};

/// Marks the serde error raised for a duplicate, so it can be told apart from other JSON errors.
const DUPLICATE: &str = "\u{1}duplicate member\u{1}";

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE}{key}{DUPLICATE}")));
            }
            let Strict(value) = map.next_value()?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

/// Parses `bytes` as one JSON object, refusing duplicate members anywhere inside it.
pub fn parse_object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, Error> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(Value::Object(map))) => Ok(map),
        Ok(Strict(_)) => Err(Error::NotAnObject(part)),
        Err(err) => {
            let text = err.to_string();
            match text.split(DUPLICATE).nth(1) {
                Some(name) => Err(Error::DuplicateMember { part, name: name.to_owned() }),
                None => Err(Error::Json { part, detail: text }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_at_any_depth_and_through_escapes() {
        let dup = |s: &str| parse_object(s.as_bytes(), Part::Payload);
        assert!(dup(r#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        assert_eq!(
            dup(r#"{"exp":1,"exp":2}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "exp".into() })
        );
        assert_eq!(
            dup(r#"{"exp":1,"\u0065xp":2}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "exp".into() })
        );
        assert_eq!(
            dup(r#"{"zp":{"entity":{"name":"a","name":"b"}}}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "name".into() })
        );
        assert_eq!(
            dup(r#"{"a":[{"x":1,"x":1}]}"#),
            Err(Error::DuplicateMember { part: Part::Payload, name: "x".into() })
        );
        assert_eq!(dup("[1]"), Err(Error::NotAnObject(Part::Payload)));
        assert!(matches!(dup("{"), Err(Error::Json { .. })));
        assert!(matches!(dup(r#"{"a":1} x"#), Err(Error::Json { .. })));
    }
}
