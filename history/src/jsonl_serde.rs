//! The JSON Lines reader's careful path: serde_json reads any line the fast
//! path ([`crate::jsonl_fast`]) gives up on, and words every error.
//!
//! A line reaches this path when it holds something the fast path does not
//! handle (an escape, a float, a deep value) or is broken. serde_json reads the
//! event object field by field into [`EventFields`], through seeds that share
//! short strings via [`Names`] and borrow names from the line, so a well-formed
//! line reads to the same event by either path; a line refused is reported
//! either as the setter's reason (a [`Refused::Field`]) or as serde_json's
//! syntax error, which the reader words with [`json_message`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::event::{EventFields, Names};
use crate::value::{KeyStr, Value, ValueVisitor};

/// Why serde_json's reading of a line failed.
pub(crate) enum Refused {
    /// A field's setter refused its value, for this reason.
    Field(String),
    /// The text is not JSON, or not an object.
    Json(serde_json::Error),
}

/// Reads the event object `text` into `fields` with serde_json: the path for
/// any line the fast path gives up on, and the one that words every error.
pub(crate) fn serde_event(
    text: &[u8],
    fields: &mut EventFields,
    names: &mut Names,
) -> Result<(), Refused> {
    let mut field_error = None;
    let mut de = serde_json::Deserializer::from_slice(text);
    let seed = EventSeed {
        fields,
        error: &mut field_error,
        names,
    };
    match seed.deserialize(&mut de).and_then(|()| de.end()) {
        Ok(()) => Ok(()),
        Err(e) => Err(field_error.map_or(Refused::Json(e), Refused::Field)),
    }
}

/// serde_json's message without its " at line 1 column N" suffix, which would
/// repeat (wrongly) the line we already name.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let msg = text.rfind(" at line ").map_or(&text[..], |i| &text[..i]);
    format!("invalid JSON: {msg} (column {})", e.column())
}

/// Reads an event object into `fields` (filled in place: the struct is large,
/// and moving it through `Result`s costs more than it seems).
struct EventSeed<'a> {
    fields: &'a mut EventFields,
    /// Why a field was refused, to report without serde's wording.
    error: &'a mut Option<String>,
    names: &'a mut Names,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields = self.fields;
        while let Some(k) = map.next_key::<KeyStr>()? {
            let set = match &*k.0 {
                // Fields that hold names: read without allocating when a string.
                "type" | "f" | "process" | "node" | "sent_to" => match map.next_value()? {
                    Field::Str(s) => fields.set_str(&k.0, &s, self.names),
                    Field::Other(v) => fields.set(&k.0, v),
                },
                _ => fields.set(&k.0, map.next_value_seed(ValueSeed(self.names))?),
            };
            if let Err(msg) = set {
                *self.error = Some(msg.clone());
                return Err(serde::de::Error::custom(msg));
            }
        }
        Ok(())
    }
}

/// Reads a [`Value`] as its `Deserialize` does, sharing short strings and map
/// keys through [`Names`] (Elle's `"append"` and `"r"`, Porcupine's keys).
struct ValueSeed<'a>(&'a mut Names);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        ValueVisitor.visit_i64(i)
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        ValueVisitor.visit_u64(u)
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Value, E> {
        ValueVisitor.visit_f64(x)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(self.0.text(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(ValueSeed(&mut *self.0))? {
            out.push(v);
        }
        Ok(Value::list(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<KeyStr>()? {
            let k = self.0.get(&k.0);
            out.push((k, map.next_value_seed(ValueSeed(&mut *self.0))?));
        }
        Ok(Value::map(out))
    }
}

/// A field's value, a string borrowed from the line when it can be.
enum Field<'de> {
    Str(Cow<'de, str>),
    Other(Value),
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field<'de>, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field<'de>, E> {
        Ok(Field::Other(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Field<'de>, E> {
        Ok(Field::Other(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Field<'de>, E> {
        ValueVisitor.visit_i64(i).map(Field::Other)
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Field<'de>, E> {
        ValueVisitor.visit_u64(u).map(Field::Other)
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Field<'de>, E> {
        ValueVisitor.visit_f64(x).map(Field::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Field<'de>, A::Error> {
        ValueVisitor.visit_seq(seq).map(Field::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field<'de>, A::Error> {
        ValueVisitor.visit_map(map).map(Field::Other)
    }
}
