//! The canonical serialisation of a certificate body: the exact bytes the Ed25519 signature
//! covers.
//!
//! Canonical JSON here means: UTF-8; no whitespace anywhere outside strings; object members
//! sorted by key, comparing the keys' UTF-8 bytes; array elements in their order; strings
//! written as `serde_json` writes them (`"` and `\` escaped with a backslash, control characters
//! below U+0020 as `\n`, `\t`, ... or `\u00XX`, everything else literal); integers in decimal
//! without sign `+` or leading zeros; `true`, `false`, `null`. A certificate body holds no
//! floating-point numbers, so this agrees with RFC 8785 (JCS) for every body the harness
//! writes.

use serde_json::Value;

/// The canonical bytes of `value`.
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    write(value, &mut out);
    out.into_bytes()
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write(&members[key], out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json cannot fail to serialise a string.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_whitespace_dropped_and_strings_escaped() {
        let value: Value = serde_json::from_str(
            r#"{ "b": [1, true, null], "a": { "z": "x\"y\n", "é": -3 }, "B": "" }"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(to_canonical_bytes(&value)).unwrap(),
            r#"{"B":"","a":{"z":"x\"y\n","é":-3},"b":[1,true,null]}"#
        );
    }

    #[test]
    fn member_order_in_the_input_does_not_change_the_bytes() {
        let one: Value = serde_json::from_str(r#"{"x":1,"y":{"p":2,"q":3}}"#).unwrap();
        let two: Value = serde_json::from_str(r#"{"y":{"q":3,"p":2},"x":1}"#).unwrap();
        assert_eq!(to_canonical_bytes(&one), to_canonical_bytes(&two));
    }
}
