//! Fuzzes `Message::parse` (wxpay-v2.md §1): any bytes are refused or parsed without panicking, and a
//! parsed message that the writer accepts reads back as the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxpay::xml::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::parse(data) else { return };
    let Ok(xml) = message.to_xml() else { return };
    match Message::parse(xml.as_bytes()) {
        Ok(again) => assert_eq!(again, message, "writer output must read back as the same message"),
        Err(e) => panic!("writer output does not parse: {e}"),
    }
});
