//! `paydesk-cli order list` (the orders page as JSON or a table) and `order query OUT_TRADE_NO` (ask WeChat now
//! and record what it says, as the desktop's "query WeChat now" does).

use paydesk_core::contract::OrderFilter;

use crate::desk::{self, DeskArgs};
use crate::{json, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum OrderCommand {
    /// One page of orders, newest first (keyset paging: pass the printed next_cursor to --cursor).
    List(ListArgs),
    /// Asks WeChat Pay about one order now and records what it learned; prints the order with its timeline.
    Query(QueryArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    desk: DeskArgs,
    /// Print the page as JSON (`{ items, next_cursor }`, as the app's orders_list) instead of a table.
    #[arg(long)]
    json: bool,
    /// Only these states (repeatable): SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR, ACCEPT.
    #[arg(long = "state")]
    states: Vec<String>,
    /// From this Beijing day (YYYY-MM-DD), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Up to this Beijing day (YYYY-MM-DD), inclusive.
    #[arg(long)]
    to: Option<String>,
    /// At least this amount, in fen.
    #[arg(long)]
    min_fen: Option<i64>,
    /// At most this amount, in fen.
    #[arg(long)]
    max_fen: Option<i64>,
    /// out_trade_no or transaction_id, exact or prefix.
    #[arg(long)]
    search: Option<String>,
    /// Rows per page (1–200).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Where to continue: the next_cursor of the previous page.
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    desk: DeskArgs,
    /// The merchant's order number.
    out_trade_no: String,
}

pub fn run(cmd: &OrderCommand) -> anyhow::Result<Outcome> {
    match cmd {
        OrderCommand::List(args) => list(args),
        OrderCommand::Query(args) => query(args),
    }
}

fn list(args: &ListArgs) -> anyhow::Result<Outcome> {
    let desk = desk::open(&args.desk)?;
    let filter = OrderFilter {
        states: args.states.clone(),
        from_day: args.from.clone(),
        to_day: args.to.clone(),
        min_fen: args.min_fen,
        max_fen: args.max_fen,
        search: args.search.clone(),
    };
    let page = desk
        .runtime
        .block_on(desk.core.orders_list(&filter, args.cursor.as_deref(), args.limit))
        .map_err(|e| desk::explain(&desk.core, &e))?;
    if args.json {
        json::print(&page)?;
    } else {
        for row in &page.items {
            println!(
                "{:<32} {:<10} {:>14} {}",
                row.out_trade_no,
                row.state,
                format!("¥{}", wxpay::Fen(row.total_fee_fen).to_yuan_string()),
                row.created_at
            );
        }
        if let Some(next) = &page.next_cursor {
            println!("next page: --cursor {next}");
        }
    }
    Ok(Outcome::Ok)
}

fn query(args: &QueryArgs) -> anyhow::Result<Outcome> {
    let desk = desk::open(&args.desk)?;
    let detail = desk
        .runtime
        .block_on(desk.core.order_query_now(&args.out_trade_no))
        .map_err(|e| desk::explain(&desk.core, &e))?;
    json::print(&detail)?;
    Ok(Outcome::Ok)
}
