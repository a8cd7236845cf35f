//! [`Secret`]: a value that must not be seen. Its `Debug` prints `***`, it has no `Display` and no
//! `Serialize` (so it can never be returned to the webview by accident), and its memory is wiped on drop.
//! It deserializes, because the owner types secrets into the UI and the shell hands them in.

use std::fmt;

use zeroize::Zeroize;

/// A secret value (API key, private key, password), wiped from memory when dropped.
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value, for the one place that needs it (signing, decrypting, TLS).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl<'de, T: Zeroize + serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::from("192006250b4c09247ec02edce69f6a2d");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "192006250b4c09247ec02edce69f6a2d");
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        let s: Secret<String> = serde_json::from_str("\"pw\"").unwrap();
        assert_eq!(s.expose(), "pw");
    }
}
