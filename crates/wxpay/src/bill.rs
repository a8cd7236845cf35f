//! Bills (§7): filled in next.
