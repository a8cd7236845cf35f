//! Notifications (§6).
