//! Closed sets of values spelled as bare words (in scenario files, on the wire, in case ids),
//! with each spelling taken from the value's `serde` name, so it is written in one place only.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// A closed set of values written as bare words: unit enum variants whose spelling is their
/// `serde` name (`#[serde(rename_all = ...)]` or `#[serde(rename = ...)]`).
pub trait Keyword: Copy + Eq + Serialize + 'static {
    /// Every value, in declaration order (a unit test per type checks it against `serde`).
    const ALL: &'static [Self];

    /// How the value is spelled: its `serde` name.
    fn keyword(self) -> &'static str {
        match self.serialize(VariantName) {
            Ok(name) => name,
            Err(NotAUnitVariant) => unreachable!("a Keyword is a unit enum variant"),
        }
    }

    /// Every spelling, comma-separated, for "expected one of" messages.
    fn one_of() -> String {
        Self::ALL
            .iter()
            .map(|value| value.keyword())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The value spelled `text`, if there is one.
    fn from_keyword(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.keyword() == text)
    }
}

/// What the spelling serializer answers for anything but a unit enum variant.
#[derive(Debug)]
pub struct NotAUnitVariant;

impl fmt::Display for NotAUnitVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a unit enum variant")
    }
}

impl std::error::Error for NotAUnitVariant {}

impl ser::Error for NotAUnitVariant {
    fn custom<T: fmt::Display>(_message: T) -> Self {
        NotAUnitVariant
    }
}

/// A `serde` serializer that yields the name of a unit enum variant and refuses everything else.
struct VariantName;

/// The serializer methods that refuse their value.
macro_rules! refuse {
    ($($method:ident($($argument:ty),*) -> $ok:ty;)*) => {
        $(fn $method(self, $(_: $argument),*) -> Result<$ok, NotAUnitVariant> {
            Err(NotAUnitVariant)
        })*
    };
}

impl ser::Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAUnitVariant;
    type SerializeSeq = Impossible<&'static str, NotAUnitVariant>;
    type SerializeTuple = Impossible<&'static str, NotAUnitVariant>;
    type SerializeTupleStruct = Impossible<&'static str, NotAUnitVariant>;
    type SerializeTupleVariant = Impossible<&'static str, NotAUnitVariant>;
    type SerializeMap = Impossible<&'static str, NotAUnitVariant>;
    type SerializeStruct = Impossible<&'static str, NotAUnitVariant>;
    type SerializeStructVariant = Impossible<&'static str, NotAUnitVariant>;

    fn serialize_unit_variant(
        self,
        _enum_name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<&'static str, NotAUnitVariant> {
        Ok(variant)
    }

    refuse! {
        serialize_bool(bool) -> &'static str;
        serialize_i8(i8) -> &'static str;
        serialize_i16(i16) -> &'static str;
        serialize_i32(i32) -> &'static str;
        serialize_i64(i64) -> &'static str;
        serialize_u8(u8) -> &'static str;
        serialize_u16(u16) -> &'static str;
        serialize_u32(u32) -> &'static str;
        serialize_u64(u64) -> &'static str;
        serialize_f32(f32) -> &'static str;
        serialize_f64(f64) -> &'static str;
        serialize_char(char) -> &'static str;
        serialize_str(&str) -> &'static str;
        serialize_bytes(&[u8]) -> &'static str;
        serialize_none() -> &'static str;
        serialize_unit() -> &'static str;
        serialize_unit_struct(&'static str) -> &'static str;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: ?Sized + Serialize>(
        self,
        _value: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _value: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
}

/// Checks, for a unit test, that every spelling of `T` parses back to its value and that
/// [`Keyword::ALL`] lists exactly the values `serde` knows, in its order.
#[cfg(test)]
pub(crate) fn assert_keywords_match_serde<T: Keyword + serde::de::DeserializeOwned + fmt::Debug>() {
    for &value in T::ALL {
        let parsed: T = serde_saphyr::from_str(value.keyword()).expect("a keyword parses");
        assert_eq!(parsed, value);
        assert_eq!(T::from_keyword(value.keyword()), Some(value));
    }
    let error = serde_saphyr::from_str::<T>("no-such-keyword").expect_err("not a keyword");
    match error.without_snippet() {
        serde_saphyr::Error::SerdeUnknownVariant { expected, .. } => {
            let ours: Vec<&str> = T::ALL.iter().map(|value| value.keyword()).collect();
            assert_eq!(expected, &ours);
        }
        other => panic!("unexpected error {other:?}"),
    }
}
