//! `paydesk-cli notify decode`: authenticates a payment notification (signature, wxpay-v2.md §6.1)
//! or decrypts a refund notification (`req_info`, §6.2) with `wxpay::notify::decode`, and prints its
//! fields: every field of a payment notification, the decrypted `<root>` fields of a refund one.

use serde::Serialize;
use wxpay::notify::{self, Notification, NotificationKind};
use wxpay::xml::Message;
use wxpay::SignType;

use crate::json::{self, OrderedMap};
use crate::{read_input, InputArg, KeyArg, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    /// Verifies or decrypts a notification body. Exit 1 when it does not verify or decrypt.
    Decode {
        #[command(flatten)]
        key: KeyArg,
        /// The sign type stored with the order, for a payment notification without sign_type (§3.5).
        #[arg(long, value_parser = parse_sign_type)]
        sign_type: Option<SignType>,
        #[command(flatten)]
        input: InputArg,
    },
}

fn parse_sign_type(text: &str) -> Result<SignType, String> {
    text.parse()
}

#[derive(Debug, Serialize)]
struct Decoded<F> {
    kind: &'static str,
    verified: bool,
    /// The algorithm whose signature verified (payment notifications).
    #[serde(skip_serializing_if = "Option::is_none")]
    sign_type: Option<&'static str>,
    fields: F,
}

pub fn run(cmd: &NotifyCommand) -> anyhow::Result<Outcome> {
    let NotifyCommand::Decode { key, sign_type, input } = cmd;
    let body = read_input(input.file.as_deref())?;
    match notify::decode(&body, &key.api_key(), *sign_type) {
        Ok(Notification::Payment(p)) => json::print(&Decoded {
            kind: NotificationKind::Payment.as_str(),
            verified: true,
            sign_type: Some(p.sign_type.as_str()),
            fields: OrderedMap::new(p.message.iter()),
        })?,
        Ok(Notification::Refund(r)) => json::print(&Decoded {
            kind: NotificationKind::Refund.as_str(),
            verified: true,
            sign_type: None,
            fields: OrderedMap::new(r.decrypted.iter()),
        })?,
        Err(e) => {
            // Show what was received when it is at least XML, marked unverified; the reason goes to stderr.
            if let Ok(message) = Message::parse(&body) {
                json::print(&Decoded {
                    kind: NotificationKind::of(&message).as_str(),
                    verified: false,
                    sign_type: None,
                    fields: OrderedMap::new(message.iter()),
                })?;
            }
            eprintln!("paydesk-cli: the notification is not authentic or not readable: {e}");
            return Ok(Outcome::Failed);
        }
    }
    Ok(Outcome::Ok)
}
