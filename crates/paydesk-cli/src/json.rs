//! JSON output: one document on stdout, pretty-printed, and maps that keep the order of the protocol
//! (message fields, bill titles) instead of sorting them.

use std::io::Write;

use anyhow::Context;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// `(name, value)` pairs serialised as a JSON object in their own order.
#[derive(Debug)]
pub struct OrderedMap<'a>(pub Vec<(&'a str, &'a str)>);

impl<'a> OrderedMap<'a> {
    pub fn new(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        OrderedMap(pairs.collect())
    }
}

impl Serialize for OrderedMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Prints `value` as pretty JSON and a newline.
pub fn print(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode the JSON output")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("cannot write to stdout")?;
    out.flush().context("cannot write to stdout")
}
