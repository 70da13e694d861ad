//! Wire helpers: form bodies (query protocol), XML writing, and AWS-shaped answers and errors.

use std::fmt::Write as _;

/// An answer before it becomes an HTTP response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

pub const XML: &str = "text/xml";
pub const JSON: &str = "application/x-amz-json-1.1";

impl Answer {
    pub fn xml(body: String) -> Self {
        Answer {
            status: 200,
            content_type: XML,
            body,
        }
    }
    pub fn json(value: &serde_json::Value) -> Self {
        Answer {
            status: 200,
            content_type: JSON,
            body: value.to_string(),
        }
    }
    /// A query-protocol (RDS, STS) error: `<ErrorResponse><Error><Type>Sender</Type><Code>..`.
    pub fn query_error(status: u16, code: &str, message: &str, request_id: &str) -> Self {
        let mut body = String::with_capacity(256);
        body.push_str("<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type>");
        el(&mut body, "Code", code);
        el(&mut body, "Message", message);
        body.push_str("</Error>");
        el(&mut body, "RequestId", request_id);
        body.push_str("</ErrorResponse>");
        Answer {
            status,
            content_type: XML,
            body,
        }
    }
    /// An awsJson1_1 (KMS, Organizations) error.
    pub fn json_error(status: u16, code: &str, message: &str) -> Self {
        Answer {
            status,
            content_type: JSON,
            body: serde_json::json!({ "__type": code, "message": message }).to_string(),
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` into (name, value) pairs.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut it = part.splitn(2, |b| *b == b'=');
            let name = decode(it.next().unwrap_or_default());
            let value = decode(it.next().unwrap_or_default());
            (name, value)
        })
        .collect()
}

fn decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// `<name>value</name>`, value escaped.
pub fn el(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `<name>value</name>` for numbers and booleans (nothing to escape).
pub fn elv(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "<{name}>{value}</{name}>");
}

/// A 36-character request id, unique enough for logs.
pub fn request_id(n: u64) -> String {
    format!(
        "{:08x}-f1ee-451a-8000-{:012x}",
        (n >> 32) as u32 ^ 0x5eed,
        n & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let form =
            parse_form(b"Action=DescribeDBInstances&Marker=a%2Fb%3D&Name=x+y&Empty=&Bad=%zz");
        assert_eq!(param(&form, "Action"), Some("DescribeDBInstances"));
        assert_eq!(param(&form, "Marker"), Some("a/b="));
        assert_eq!(param(&form, "Name"), Some("x y"));
        assert_eq!(param(&form, "Empty"), Some(""));
        assert_eq!(param(&form, "Bad"), Some("%zz"));
        assert_eq!(decode(b"100%"), "100%");
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        el(&mut s, "A", "<&>");
        assert_eq!(s, "<A>&lt;&amp;&gt;</A>");
    }
}
