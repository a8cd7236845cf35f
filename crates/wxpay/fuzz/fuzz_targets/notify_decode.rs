//! Fuzzes `wxpay::notify::decode` (wxpay-v2.md §6): arbitrary bodies are verified, decrypted or
//! refused without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxpay::notify;
use wxpay::sign::ApiKey;

fuzz_target!(|data: &[u8]| {
    let key = ApiKey::new("OF4Ne3znh8KqL0V4NqmALQa0uXMYKcEk");
    let _ = notify::decode(data, &key, None);
    let _ = notify::decode(data, &key, Some(wxpay::SignType::HmacSha256));
});
