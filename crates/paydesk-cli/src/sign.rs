//! `paydesk-cli sign`: the string-to-sign and signature of an XML message (wxpay-v2.md §3), and
//! whether the `sign` the message carries matches. The key is never printed: the string-to-sign
//! ends in `&key=***`.

use anyhow::{bail, Context};
use serde::Serialize;
use wxpay::sign::{sign, string_to_sign};
use wxpay::xml::Message;
use wxpay::SignType;

use crate::{json, read_input, InputArg, KeyArg, Outcome};

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    #[command(flatten)]
    key: KeyArg,
    /// MD5 or HMAC-SHA256. Default: the message's own sign_type field, else MD5 (§3.4).
    #[arg(long, value_parser = parse_sign_type)]
    sign_type: Option<SignType>,
    #[command(flatten)]
    input: InputArg,
}

fn parse_sign_type(text: &str) -> Result<SignType, String> {
    text.parse()
}

#[derive(Debug, Serialize)]
struct SignReport {
    sign_type: &'static str,
    string_to_sign: String,
    sign: String,
    /// `null` when the message carries no sign.
    matches: Option<bool>,
}

pub fn run(args: &SignArgs) -> anyhow::Result<Outcome> {
    let bytes = read_input(args.input.file.as_deref())?;
    let message = Message::parse(&bytes).context("the input is not a WeChat Pay XML message")?;
    let sign_type = match (args.sign_type, message.get_non_empty("sign_type")) {
        (Some(t), _) => t,
        (None, Some(declared)) => match SignType::parse(declared) {
            Some(t) => t,
            None => bail!("the message's sign_type {declared:?} is neither MD5 nor HMAC-SHA256; pass --sign-type"),
        },
        (None, None) => SignType::Md5,
    };
    let key = args.key.api_key();
    let signature = sign(&message, sign_type, &key);
    // WeChat writes uppercase hex; a lowercase copy of the same digest still matches (§3.5).
    let matches = message.get_non_empty("sign").map(|given| given.eq_ignore_ascii_case(&signature));
    let mut shown = string_to_sign(&message);
    shown.push_str("&key=***");
    json::print(&SignReport { sign_type: sign_type.as_str(), string_to_sign: shown, sign: signature, matches })?;
    if matches == Some(false) {
        eprintln!(
            "paydesk-cli: the message's sign does not match its {} signature with this key (wrong key, wrong sign type, \
             or the message was altered)",
            sign_type.as_str()
        );
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Ok)
}
