//! The flat XML documents of WeChat Pay v2 (§1): a root (`<xml>`, or `<root>` inside a refund
//! notification's `req_info`) whose children are `name → text` fields, values bare or in CDATA.
//!
//! Parsing refuses what WeChat never sends and an attacker might: DTDs (so no entity expansion, no
//! external entities), nesting, attributes, repeated fields, unknown entity references, non-UTF-8.
//! Output is produced by quick-xml's writer, never by string formatting, so what is signed is what
//! is sent.

use std::io::Cursor;

use quick_xml::events::{BytesCData, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// A flat message: fields in document order. Names are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    fields: Vec<(String, String)>,
}

/// Why a document is not an acceptable flat message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the body is empty")]
    Empty,
    #[error("the body is not UTF-8 (byte {0})")]
    NotUtf8(usize),
    #[error("DTDs are refused (byte {0}): WeChat never sends one and it could expand entities")]
    DtdRefused(u64),
    #[error("malformed XML at byte {position}: {reason}")]
    Malformed { position: u64, reason: String },
    #[error("root element is <{found}>, expected <{expected}>")]
    WrongRoot { found: String, expected: String },
    #[error("element <{0}> is nested inside a field; WeChat messages are flat")]
    Nested(String),
    #[error("element <{0}> carries attributes; WeChat messages have none")]
    Attributes(String),
    #[error("field <{0}> appears twice")]
    DuplicateField(String),
    #[error("the document ends before </{0}>")]
    Truncated(String),
    #[error("content after the root element")]
    TrailingContent,
    #[error("field name {0:?} is not a valid XML name")]
    BadName(String),
    #[error("field <{0}> holds a character XML cannot carry")]
    BadCharacter(String),
}

impl Message {
    pub fn new() -> Self {
        Message::default()
    }

    /// Builds a message from pairs; a repeated name keeps the last value.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut m = Message::new();
        for (k, v) in pairs {
            m.set(k, v);
        }
        m
    }

    /// Sets a field, replacing an existing value in place.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
        self
    }

    /// Sets a field only when there is a value.
    pub fn set_opt(&mut self, name: impl Into<String>, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(v) = value {
            self.set(name, v);
        }
        self
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let idx = self.fields.iter().position(|(n, _)| n == name)?;
        Some(self.fields.remove(idx).1)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value unless absent or empty: WeChat treats an empty value as absent (§3.2).
    pub fn get_non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Parses a `<xml>` document.
    pub fn parse(bytes: &[u8]) -> Result<Message, XmlError> {
        Message::parse_with_root(bytes, "xml")
    }

    /// Parses a flat document whose root element is `root`.
    pub fn parse_with_root(bytes: &[u8], root: &str) -> Result<Message, XmlError> {
        let text = std::str::from_utf8(bytes).map_err(|e| XmlError::NotUtf8(e.valid_up_to()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(XmlError::Empty);
        }
        parse_flat(text, root)
    }

    /// Writes `<xml>…</xml>`: strings in CDATA, digit-only values bare (as WeChat does).
    pub fn to_xml(&self) -> Result<String, XmlError> {
        self.to_xml_with_root("xml")
    }

    pub fn to_xml_with_root(&self, root: &str) -> Result<String, XmlError> {
        self.write(root, false)
    }

    /// Writes `<xml>…</xml>` with every value in CDATA, digits included (the acknowledgement
    /// bodies of §6.1 are written this way).
    pub fn to_xml_all_cdata(&self) -> Result<String, XmlError> {
        self.write("xml", true)
    }

    /// Like [`Message::to_xml_all_cdata`] under another root: the decrypted `<root>` of a refund
    /// notification is written this way, integers included (§6.2).
    pub fn to_xml_all_cdata_with_root(&self, root: &str) -> Result<String, XmlError> {
        self.write(root, true)
    }

    fn write(&self, root: &str, cdata_digits: bool) -> Result<String, XmlError> {
        let mut writer = Writer::new(Cursor::new(Vec::with_capacity(64 + self.fields.len() * 48)));
        let io = |e: std::io::Error| XmlError::Malformed { position: 0, reason: e.to_string() };
        check_name(root)?;
        writer.write_event(Event::Start(BytesStart::new(root))).map_err(io)?;
        for (name, value) in &self.fields {
            check_name(name)?;
            if value.chars().any(|c| !is_xml_char(c)) {
                return Err(XmlError::BadCharacter(name.clone()));
            }
            writer.write_event(Event::Start(BytesStart::new(name.as_str()))).map_err(io)?;
            if value.is_empty() {
                // <x></x>: an empty value, which signing skips.
            } else if (!cdata_digits && value.bytes().all(|b| b.is_ascii_digit()))
                || value.contains("]]>")
                || value.contains('\r')
            {
                // Digits bare like WeChat; a value CDATA cannot hold (`]]>`, or `\r`, which XML
                // parsers normalise inside CDATA) is escaped text instead (`&#13;` survives).
                writer.write_event(Event::Text(BytesText::from_escaped(escape_text(value)))).map_err(io)?;
            } else {
                writer.write_event(Event::CData(BytesCData::new(value.as_str()))).map_err(io)?;
            }
            writer.write_event(Event::End(BytesEnd::new(name.as_str()))).map_err(io)?;
        }
        writer.write_event(Event::End(BytesEnd::new(root))).map_err(io)?;
        String::from_utf8(writer.into_inner().into_inner()).map_err(|e| XmlError::NotUtf8(e.utf8_error().valid_up_to()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Message {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Message::from_pairs(iter)
    }
}

/// XML 1.0 `Char`: what a document may contain at all.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

fn check_name(name: &str) -> Result<(), XmlError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(XmlError::BadName(name.chars().take(64).collect()))
    }
}

fn parse_flat(text: &str, expected_root: &str) -> Result<Message, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;

    enum State {
        BeforeRoot,
        InRoot,
        InField { name: String, value: String },
        AfterRoot,
    }
    let mut state = State::BeforeRoot;
    let mut message = Message::new();
    let malformed =
        |reader: &Reader<&[u8]>, reason: String| XmlError::Malformed { position: reader.buffer_position(), reason };

    loop {
        let event = reader.read_event().map_err(|e| malformed(&reader, e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::DtdRefused(reader.buffer_position())),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::PI(_) => return Err(malformed(&reader, "processing instructions are not allowed".into())),
            Event::Start(start) | Event::Empty(start) if start.attributes().next().is_some() => {
                return Err(XmlError::Attributes(String::from_utf8_lossy(start.name().as_ref()).into_owned()));
            }
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                state = match state {
                    State::BeforeRoot if name == expected_root => State::InRoot,
                    State::BeforeRoot => {
                        return Err(XmlError::WrongRoot { found: name, expected: expected_root.into() })
                    }
                    State::InRoot => State::InField { name, value: String::new() },
                    State::InField { .. } => return Err(XmlError::Nested(name)),
                    State::AfterRoot => return Err(XmlError::TrailingContent),
                };
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                match state {
                    State::InRoot => push_field(&mut message, name, String::new())?,
                    State::BeforeRoot if name == expected_root => state = State::AfterRoot,
                    State::BeforeRoot => {
                        return Err(XmlError::WrongRoot { found: name, expected: expected_root.into() })
                    }
                    State::InField { .. } => return Err(XmlError::Nested(name)),
                    State::AfterRoot => return Err(XmlError::TrailingContent),
                }
            }
            Event::Text(t) => {
                let unescaped = t.unescape().map_err(|e| malformed(&reader, e.to_string()))?;
                match &mut state {
                    State::InField { value, .. } => value.push_str(&unescaped),
                    _ if unescaped.trim().is_empty() => {}
                    State::AfterRoot => return Err(XmlError::TrailingContent),
                    _ => return Err(malformed(&reader, "text outside a field".into())),
                }
            }
            Event::CData(c) => match &mut state {
                State::InField { value, .. } => {
                    let inner = c.into_inner();
                    let s = std::str::from_utf8(&inner).map_err(|e| XmlError::NotUtf8(e.valid_up_to()))?;
                    value.push_str(s);
                }
                _ => return Err(malformed(&reader, "CDATA outside a field".into())),
            },
            Event::End(_) => {
                state = match state {
                    State::InField { name, value } => {
                        push_field(&mut message, name, value)?;
                        State::InRoot
                    }
                    State::InRoot => State::AfterRoot,
                    _ => return Err(malformed(&reader, "unexpected closing tag".into())),
                };
            }
            Event::Eof => {
                return match state {
                    State::AfterRoot => Ok(message),
                    State::BeforeRoot => Err(XmlError::Empty),
                    State::InRoot => Err(XmlError::Truncated(expected_root.into())),
                    State::InField { name, .. } => Err(XmlError::Truncated(name)),
                };
            }
        }
    }
}

fn push_field(message: &mut Message, name: String, value: String) -> Result<(), XmlError> {
    if message.contains(&name) {
        return Err(XmlError::DuplicateField(name));
    }
    message.fields.push((name, value));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cdata_and_bare_values_both_parse() {
        let m = Message::parse(b"<xml><return_code>SUCCESS</return_code><cash_fee><![CDATA[1]]></cash_fee>\n<body><![CDATA[a&b <c>]]></body><esc>x &amp; y</esc><e/></xml>").unwrap();
        assert_eq!(m.get("return_code"), Some("SUCCESS"));
        assert_eq!(m.get("cash_fee"), Some("1"));
        assert_eq!(m.get("body"), Some("a&b <c>"));
        assert_eq!(m.get("esc"), Some("x & y"));
        assert_eq!(m.get("e"), Some(""));
        assert_eq!(m.get_non_empty("e"), None);
    }

    #[test]
    fn writer_output_is_exact() {
        let m = Message::from_pairs([("appid", "wx1"), ("total_fee", "100"), ("body", "测试 <&>"), ("empty", "")]);
        assert_eq!(
            m.to_xml().unwrap(),
            "<xml><appid><![CDATA[wx1]]></appid><total_fee>100</total_fee><body><![CDATA[测试 <&>]]></body><empty></empty></xml>"
        );
    }

    #[test]
    fn a_dtd_is_refused_before_any_entity_is_read() {
        let attack = br#"<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>"#;
        assert!(matches!(Message::parse(attack), Err(XmlError::DtdRefused(_))));
    }

    #[test]
    fn unknown_entities_are_refused() {
        assert!(matches!(Message::parse(b"<xml><a>&xxe;</a></xml>"), Err(XmlError::Malformed { .. })));
    }

    #[test]
    fn truncated_documents_are_refused() {
        for doc in [&b"<xml><a>1</a>"[..], b"<xml><a>1", b"<xml><a><![CDATA[1", b"<xml", b"", b"   "] {
            assert!(Message::parse(doc).is_err(), "{:?}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn structure_wechat_never_sends_is_refused() {
        assert!(matches!(Message::parse(b"<xml><a><b>1</b></a></xml>"), Err(XmlError::Nested(_))));
        assert!(matches!(Message::parse(b"<xml><a x=\"1\">1</a></xml>"), Err(XmlError::Attributes(_))));
        assert!(matches!(Message::parse(b"<xml><a>1</a><a>2</a></xml>"), Err(XmlError::DuplicateField(_))));
        assert!(matches!(Message::parse(b"<root><a>1</a></root>"), Err(XmlError::WrongRoot { .. })));
        assert!(matches!(Message::parse(b"<xml></xml><xml></xml>"), Err(XmlError::TrailingContent)));
        assert!(matches!(Message::parse(b"<xml><a>\xff</a></xml>"), Err(XmlError::NotUtf8(_))));
    }

    #[test]
    fn values_cdata_cannot_hold_survive() {
        let m = Message::from_pairs([("a", "x]]>y"), ("b", "line1\r\nline2")]);
        let back = Message::parse(m.to_xml().unwrap().as_bytes()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused_on_write() {
        let m = Message::from_pairs([("a", "bell\u{7}")]);
        assert_eq!(m.to_xml(), Err(XmlError::BadCharacter("a".into())));
    }

    proptest! {
        #[test]
        fn any_xml_text_round_trips(values in proptest::collection::vec("[\\PC\t\r\n ]{0,40}", 1..8)) {
            let m: Message = values.iter().enumerate().map(|(i, v)| (format!("f{i}"), v.clone())).collect();
            let back = Message::parse(m.to_xml().unwrap().as_bytes()).unwrap();
            prop_assert_eq!(back, m);
        }
    }
}
