//! Request parameters as Rack and Grape see them.
//!
//! GitLab merges the query string and the body (JSON, or form-encoded with
//! Rack's nested `a[b]=c` keys) into one parameter hash, then Grape coerces
//! the declared types. Clients send either shape (curl's `--data` sends a
//! form, most libraries JSON), so the fake accepts both the same way.

use serde_json::{Map, Value};

/// Decodes `%XX` escapes; with `plus_is_space`, `+` means a space (forms and
/// query strings, not path segments).
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `CGI.escape`, as Rails' `to_query` uses it to build pagination links.
pub(crate) fn cgi_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `a=1&b=x+y` into decoded pairs, in order.
pub(crate) fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

/// Rack's nested parameter parsing: `a[b]=c` becomes `{"a": {"b": "c"}}`,
/// `a[]=x` appends to an array. Values stay strings, as in Rack.
pub(crate) fn nest(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut root = Map::new();
    for (k, v) in pairs {
        let (head, rest) = match k.find('[') {
            Some(i) => (&k[..i], &k[i..]),
            None => (k.as_str(), ""),
        };
        let mut keys: Vec<&str> = Vec::new();
        let mut r = rest;
        while let Some(stripped) = r.strip_prefix('[') {
            match stripped.find(']') {
                Some(end) => {
                    keys.push(&stripped[..end]);
                    r = &stripped[end + 1..];
                }
                None => break,
            }
        }
        insert_nested(&mut root, head, &keys, Value::String(v.clone()));
    }
    root
}

fn insert_nested(map: &mut Map<String, Value>, key: &str, rest: &[&str], value: Value) {
    match rest.split_first() {
        None => {
            map.insert(key.to_string(), value);
        }
        Some((&"", _)) => {
            let entry = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                a.push(value);
            } else {
                *entry = Value::Array(vec![value]);
            }
        }
        Some((next, tail)) => {
            let entry = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(m) = entry {
                insert_nested(m, next, tail, value);
            }
        }
    }
}

/// Grape's `Boolean` coercion. `None` for a value Grape rejects.
pub(crate) fn coerce_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
            "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Grape's `Integer` coercion: `Some(None)` for an empty string or null.
pub(crate) fn coerce_int(v: &Value) -> Option<Option<i64>> {
    match v {
        Value::Null => Some(None),
        Value::Number(n) => n.as_i64().map(Some),
        Value::String(s) if s.is_empty() => Some(None),
        Value::String(s) => s.trim().parse().ok().map(Some),
        _ => None,
    }
}

/// Grape's `String` coercion.
pub(crate) fn coerce_string(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(n.to_string())),
        Value::Bool(b) => Some(Some(b.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("demo%2Fshop", false), "demo/shop");
        assert_eq!(percent_decode("a+b%20c", true), "a b c");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(cgi_escape("demo/shop x"), "demo%2Fshop+x");
    }

    #[test]
    fn nested_forms() {
        let pairs = parse_pairs(
            "container_expiration_policy_attributes%5Bcadence%5D=7d&container_expiration_policy_attributes[keep_n]=5&x[]=1&x[]=2&plain=a+b",
        );
        assert_eq!(
            Value::Object(nest(&pairs)),
            json!({"container_expiration_policy_attributes": {"cadence": "7d", "keep_n": "5"},
                   "x": ["1", "2"], "plain": "a b"})
        );
    }
}
