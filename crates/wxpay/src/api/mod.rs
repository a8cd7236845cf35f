//! Typed API calls (§5).
