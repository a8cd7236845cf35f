//! JSAPI launch parameters (§9).
