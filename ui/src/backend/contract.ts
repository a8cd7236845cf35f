// The command contract between the webview and the Rust shell, typed from docs/ui-contract.md.
// Change that page first, then this file: names, argument keys (camelCase) and result keys
// (snake_case) are copied from it verbatim.
//
// Money: integer fen in every `*_fen` field (JSON numbers; the ledger's values stay far below
// 2^53). Times: RFC 3339 UTC strings. Days: `YYYY-MM-DD` Beijing calendar days.

// ---- Errors -------------------------------------------------------------------------------

/** Error codes the UI branches on. Anything else the shell sends is kept as a plain string. */
export type KnownErrorCode =
  | 'vault_locked'
  | 'wrong_password'
  | 'not_configured'
  | 'not_found'
  | 'invalid_input'
  | 'wechat_business'
  | 'wechat_unreachable'
  | 'tls'
  | 'signature'
  | 'certificate'
  | 'internal'
  // refunds
  | 'forbidden' // the staff role may not do this
  | 'password_required' // above the owner's threshold: ask for the password and call again with it
  | 'refund_guard' // a guard blocked the refund: the message names it and says why

/** Every rejected command rejects with exactly this shape (see backend/errors.ts). */
export interface BackendError {
  code: KnownErrorCode | (string & {})
  /** Already a sentence for the shop owner, in the app's locale: shown as is. */
  message: string
}

// ---- App state and vault ------------------------------------------------------------------

export type SignType = 'MD5' | 'HMAC-SHA256'
export type VaultState = 'absent' | 'locked' | 'unlocked'

export interface MerchantInfo {
  appid: string
  mch_id: string
  sign_type: SignType
  sandbox: boolean
}

export interface AppStatus {
  vault: VaultState
  merchant: MerchantInfo | null
  ledger: { kind: 'sqlite' | 'postgres'; display: string } | null
  certificate: CertificateInfo | null
  user: { name: string; role: UserRole } | null
  staff_login: boolean
}

export type UserRole = 'owner' | 'staff'

export type Locale = 'zh-CN' | 'en'

export interface Settings {
  idle_lock_minutes: number
  refund_password_threshold_fen: number
  locale: Locale
}

// ---- Setup wizard -------------------------------------------------------------------------

export interface MerchantInput {
  appid: string
  mch_id: string
  sign_type: SignType
}

export type CertSource =
  | { kind: 'p12'; path: string; password: string | null } // null → the mch_id
  | { kind: 'pem'; cert_path: string; key_path: string }

export type CertificateWarningCode =
  | 'expired'
  | 'expires_soon'
  | 'mch_id_not_in_subject'
  | 'key_mismatch'
  | 'not_yet_valid'

export interface CertificateInfo {
  subject: string
  issuer: string
  serial_hex: string
  not_before: string
  not_after: string
  days_until_expiry: number
  warnings: { code: CertificateWarningCode | (string & {}); message: string }[]
}

export type ConnectionTestCode =
  | 'ok'
  | 'signature'
  | 'tls'
  | 'certificate'
  | 'unreachable'
  | 'wechat_business'
  | 'protocol'

export interface ConnectionTest {
  /** true only when orderquery for a made-up order came back ORDERNOTEXIST with a valid signature */
  ok: boolean
  code: ConnectionTestCode | (string & {})
  message: string
  elapsed_ms: number
}

export interface SandboxDefaults {
  base_url: string
  ca_path: string
  merchant: MerchantInput
  api_key_hint: string
  p12_path: string
}

export interface SetupCompleteArgs {
  merchant: MerchantInput
  apiKey: string
  source: CertSource | null
  sandbox: boolean
  /** null → the local SQLite file in the app data folder */
  ledgerUrl: string | null
  ownerName: string
  ownerPassword: string
}

// ---- Orders -------------------------------------------------------------------------------

export const KNOWN_TRADE_STATES = [
  'SUCCESS',
  'REFUND',
  'NOTPAY',
  'CLOSED',
  'REVOKED',
  'USERPAYING',
  'PAYERROR',
  'ACCEPT',
] as const
export type KnownTradeState = (typeof KNOWN_TRADE_STATES)[number]
/** WeChat may add states: unknown ones are kept as strings and shown as they are. */
export type TradeState = KnownTradeState | (string & {})

export interface OrderFilter {
  states: TradeState[] // empty = all
  from_day: string | null // Beijing day, inclusive
  to_day: string | null // inclusive
  min_fen: number | null
  max_fen: number | null
  search: string | null // out_trade_no or transaction_id, exact or prefix
}

export type OrderFlag = 'unknown_order' | 'watched' | 'amount_mismatch'

export interface OrderRow {
  out_trade_no: string
  transaction_id: string | null
  state: TradeState
  total_fee_fen: number
  refunded_fen: number
  description: string | null
  created_at: string
  paid_at: string | null
  flags: (OrderFlag | (string & {}))[]
}

export interface OrderPage {
  items: OrderRow[]
  next_cursor: string | null
}

export interface RefundRow {
  out_refund_no: string
  refund_id: string | null
  amount_fen: number
  status: string
  created_at: string
  success_at: string | null
  last_error: string | null
  attempts: number
}

export type TimelineSource = 'notification' | 'query' | 'bill' | 'person' | 'shop_backend'

export interface TimelineEntry {
  at: string
  source: TimelineSource | (string & {})
  what: string
  state_after: string | null
  actor: string | null
  evidence_ref: string | null
}

export interface OrderDetail {
  order: OrderRow & {
    sign_type: string
    openid: string | null
    trade_type: string | null
    bank_type: string | null
    last_checked_at: string | null
    next_check_at: string | null
  }
  refunds: RefundRow[]
  timeline: TimelineEntry[] // oldest first
}

// ---- Status sync and dashboard ------------------------------------------------------------

export interface WatchedOrder {
  out_trade_no: string
  state: TradeState
  last_checked_at: string | null
  next_check_at: string
  checks: number
}

export interface SyncStatus {
  running: boolean
  last_sync_at: string | null
  watched: WatchedOrder[]
}

export interface DaySummary {
  day: string
  paid_count: number
  paid_fen: number
  refunded_fen: number
}

export interface Dashboard {
  today: DaySummary
  pending_applications: number
  last_sync_at: string | null
  days: DaySummary[] // 14 days, oldest first
}

// ---- Refunds ------------------------------------------------------------------------------

/** The order's money as the refund desk sees it. */
export interface OrderMoney {
  out_trade_no: string
  transaction_id: string | null
  state: TradeState
  paid_at: string | null
  total_fee_fen: number
  refunded_fen: number // refunded = WeChat said SUCCESS
  pending_fen: number // approved or in flight, not yet SUCCESS
  remaining_fen: number // total - refunded - pending
  refund_count: number
  days_since_payment: number | null
}

export type ApplicationStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'CANCELLED'
export type ApplicationOrigin = 'shop_backend' | 'desk'

export type RefundStatus = 'CREATED' | 'PROCESSING' | 'SUCCESS' | 'REFUNDCLOSE' | 'CHANGE' | 'FAILED'

/** What the owner sees; never 'refunded' before WeChat said SUCCESS, never 'processing' when nothing was accepted. */
export type RefundPhase =
  | 'not_sent' // written, not sent yet
  | 'retrying' // sent, failed in a way that is retried automatically (attempts / last_error say how)
  | 'needs_owner' // waiting for the owner: see advice (NOTENOUGH, USER_ACCOUNT_ABNORMAL, retries used up, CHANGE…)
  | 'processing' // WeChat accepted it; waiting for the outcome
  | 'refunded' // WeChat said SUCCESS
  | 'closed' // REFUNDCLOSE: WeChat closed it, nothing was refunded
  | 'failed' // WeChat refused it for good (err_code), nothing was refunded
  | 'done_outside' // the owner marked it refunded outside WeChat Pay

export const REFUND_PHASES = [
  'not_sent',
  'retrying',
  'needs_owner',
  'processing',
  'refunded',
  'closed',
  'failed',
  'done_outside',
] as const satisfies readonly RefundPhase[]

export interface ApplicationRow {
  id: number
  status: ApplicationStatus
  amount_fen: number
  reason: string | null
  origin: ApplicationOrigin
  external_ref: string | null
  requested_by: string
  requested_at: string
  decided_by: string | null
  decided_at: string | null
  decision_note: string | null
  order: OrderMoney
  refund: { out_refund_no: string; amount_fen: number; status: RefundStatus; phase: RefundPhase } | null
}

export type GuardName = 'role' | 'paid' | 'remainder' | 'count' | 'age' | 'interval'

export interface GuardResult {
  name: GuardName
  ok: boolean
  message: string
}

export interface GuardCheck {
  ok: boolean
  guards: GuardResult[]
  needs_password: boolean // amountFen > settings.refund_password_threshold_fen
}

export type RefundAction = 'query' | 'retry' | 'mark_done'

export interface RefundView {
  out_refund_no: string
  refund_id: string | null
  out_trade_no: string
  application_id: number | null
  amount_fen: number
  total_fee_fen: number
  refund_desc: string | null
  status: RefundStatus
  phase: RefundPhase
  attempts: number
  max_attempts: number
  last_error: { code: string; message: string } | null
  advice: { code: string; message: string } | null // what the owner should do next, in plain words
  actions: RefundAction[] // what the buttons may offer now
  created_by: string
  created_at: string
  last_attempt_at: string | null
  success_at: string | null
  recv_account: string | null
  last_checked_at: string | null
  next_check_at: string | null
}

export interface RefundApproveArgs {
  applicationId: number
  amountFen: number // 1 … the application's amount
  refundDesc: string | null // at most 80 characters, shown to the customer
  password: string | null
}

// ---- Audit log ----------------------------------------------------------------------------

export interface AuditRow {
  seq: number
  at: string
  actor: string
  action: string
  subject: string
  result: 'ok' | 'refused' | 'failed'
  detail: string // JSON text
}

export interface AuditPage {
  entries: AuditRow[]
  next_before: number | null
}

export interface ChainReport {
  ok: boolean
  entries_checked: number
  broken_at_seq: number | null
  message: string // plain words, loud when broken
}

export interface AuditExport {
  path: string
  rows: number
}

// ---- Daily close (bills and reconciliation) -----------------------------------------------

export type CloseStatus =
  | 'clean' // reconciled, no open discrepancy
  | 'open' // reconciled, discrepancies wait (open_discrepancies > 0)
  | 'not_reconciled' // a bill is there (or could be fetched) but the day was not reconciled
  | 'no_bill' // WeChat said "No Bill Exist" (no business that day)
  | 'not_yet' // the bill is not available yet (before 10:00 Beijing time the next day, or "Bill Creating")

export const CLOSE_STATUSES = ['clean', 'open', 'not_reconciled', 'no_bill', 'not_yet'] as const satisfies readonly CloseStatus[]

export interface CloseDay {
  day: string
  status: CloseStatus
  open_discrepancies: number
  takings_fen: number
  refunds_fen: number
}

/** One side's figures for a day (the ledger's, or WeChat's bill). */
export interface Totals {
  payments_count: number
  payments_fen: number
  refunds_count: number
  refunds_fen: number
  fees_yuan: string // exact, 5 decimals allowed (fees are in units of 0.00001 yuan)
  net_yuan: string // payments − refunds − fees, exact
}

export interface BillInfo {
  day: string
  bill_type: 'ALL'
  source: 'download' | 'import'
  file_name: string | null
  sha256: string
  byte_len: number
  row_count: number
  imported_by: string
  imported_at: string
  /** the bill's own summary row against its rows */
  summary_check: { ok: boolean; differences: string[] }
}

export type DiscrepancyKind =
  | 'missing_in_ledger'
  | 'missing_at_wechat'
  | 'amount_mismatch'
  | 'status_mismatch'
  | 'refund_mismatch'

export const DISCREPANCY_KINDS = [
  'missing_in_ledger',
  'missing_at_wechat',
  'amount_mismatch',
  'status_mismatch',
  'refund_mismatch',
] as const satisfies readonly DiscrepancyKind[]

/** waiting = missing_at_wechat inside the carry-over window */
export type DiscrepancyStatus = 'open' | 'waiting' | 'action_pending' | 'resolved' | 'explained'

export type DiscrepancyAction = 'query' | 'record_from_bill' | 'propose_refund' | 'explain'

export const DISCREPANCY_ACTIONS = ['query', 'record_from_bill', 'propose_refund', 'explain'] as const satisfies readonly DiscrepancyAction[]

export interface DiscrepancyRow {
  id: number
  kind: DiscrepancyKind
  status: DiscrepancyStatus
  out_trade_no: string | null
  transaction_id: string | null
  out_refund_no: string | null
  ledger_value: string | null // states, as text
  wechat_value: string | null
  ledger_fen: number | null
  wechat_fen: number | null
  explanation: string // plain words: what differs and what the actions do
  actions: DiscrepancyAction[]
  resolution: string | null
  resolved_by: string | null
  resolved_at: string | null
}

export interface ReconRun {
  id: number
  finished_at: string | null
  by: string
  matched: number
}

export interface DayClose {
  day: string
  status: CloseStatus
  bill: BillInfo | null
  run: ReconRun | null
  ledger: Totals
  wechat: Totals | null
  discrepancies: DiscrepancyRow[] // open ones first
}

export type BillFetchOutcome = 'imported' | 'already_imported' | 'not_yet' | 'no_bill'

export interface BillFetch {
  outcome: BillFetchOutcome
  message: string // plain words ("微信还在生成账单（10 点后可下载）" …)
  day: DayClose | null
}

export interface CloseChartDay {
  day: string
  takings_fen: number
  refunds_fen: number
}

export type CloseExportWhat = 'day' | 'discrepancies'

export interface CloseExport {
  path: string
  rows: number
}

export type CloseStage = 'download' | 'import' | 'reconcile'

/** bytes for download, rows for import and reconcile; total null = unknown */
export interface CloseProgress {
  day: string
  stage: CloseStage
  done: number
  total: number | null
}

// ---- The command map: name → (args, result) ----------------------------------------------

type NoArgs = undefined

export interface CommandMap {
  app_status: { args: NoArgs; result: AppStatus }
  vault_unlock: { args: { password: string }; result: AppStatus }
  vault_lock: { args: NoArgs; result: AppStatus }
  vault_change_password: { args: { oldPassword: string; newPassword: string }; result: null }
  settings_get: { args: NoArgs; result: Settings }
  settings_update: { args: { settings: Settings }; result: Settings }
  session_touch: { args: NoArgs; result: null }
  ui_first_screen: { args: NoArgs; result: null }
  staff_password_set: { args: { ownerPassword: string; staffPassword: string | null }; result: null }

  setup_sandbox_defaults: { args: NoArgs; result: SandboxDefaults }
  setup_inspect_certificate: { args: { source: CertSource; mchId: string }; result: CertificateInfo }
  setup_test_connection: {
    args: { merchant: MerchantInput; apiKey: string; source: CertSource | null; sandbox: boolean }
    result: ConnectionTest
  }
  setup_complete: { args: SetupCompleteArgs; result: AppStatus }

  orders_list: { args: { filter: OrderFilter; cursor: string | null; limit: number }; result: OrderPage }
  order_detail: { args: { outTradeNo: string }; result: OrderDetail }
  order_query_now: { args: { outTradeNo: string }; result: OrderDetail }
  order_close: { args: { outTradeNo: string }; result: OrderDetail }

  sync_status: { args: NoArgs; result: SyncStatus }
  sync_now: { args: NoArgs; result: SyncStatus }
  dashboard: { args: NoArgs; result: Dashboard }

  refund_applications_list: { args: { status: 'PENDING' | 'ALL' }; result: ApplicationRow[] }
  refund_application_create: { args: { outTradeNo: string; amountFen: number; reason: string }; result: ApplicationRow }
  refund_guards: { args: { applicationId: number; amountFen: number }; result: GuardCheck }
  refund_approve: { args: RefundApproveArgs; result: RefundView }
  refund_reject: { args: { applicationId: number; reason: string }; result: ApplicationRow }
  refunds_list: { args: { scope: 'active' | 'all' }; result: RefundView[] }
  refund_detail: { args: { outRefundNo: string }; result: RefundView }
  refund_query_now: { args: { outRefundNo: string }; result: RefundView }
  refund_retry: { args: { outRefundNo: string; password: string | null }; result: RefundView }
  refund_mark_done: { args: { outRefundNo: string; note: string }; result: RefundView }

  audit_list: { args: { beforeSeq: number | null; limit: number }; result: AuditPage }
  audit_verify: { args: NoArgs; result: ChainReport }
  audit_export_csv: { args: NoArgs; result: AuditExport }

  close_calendar: { args: { month: string }; result: CloseDay[] }
  close_day: { args: { day: string }; result: DayClose }
  close_chart: { args: { days: number }; result: CloseChartDay[] }
  bill_fetch: { args: { day: string }; result: BillFetch }
  bill_pick_file: { args: NoArgs; result: string | null }
  bill_import: { args: { path: string; day: string | null }; result: BillFetch }
  recon_run: { args: { day: string }; result: DayClose }
  discrepancy_action: { args: { id: number; action: DiscrepancyAction; note: string | null }; result: DayClose }
  close_export_csv: { args: { day: string; what: CloseExportWhat }; result: CloseExport }
}

export type CommandName = keyof CommandMap
export type CommandArgs<K extends CommandName> = CommandMap[K]['args']
export type CommandResult<K extends CommandName> = CommandMap[K]['result']

/** `call('app_status')` takes no argument object; every other command takes exactly its own. */
export type CallArgs<K extends CommandName> = CommandArgs<K> extends undefined ? [] : [args: CommandArgs<K>]

// ---- Events (Rust → UI) -------------------------------------------------------------------

export interface EventMap {
  'orders-changed': { out_trade_nos: string[] }
  'sync-status': SyncStatus
  'vault-locked': { reason: 'idle' | 'user' }
  'refunds-changed': { out_refund_nos: string[] }
  /** new PENDING applications since the last look (the shell also raises a desktop notification) */
  'applications-new': { applications: ApplicationRow[] }
  /** a bill download (bytes), import or reconciliation (rows) is running */
  'close-progress': CloseProgress
}

export type EventName = keyof EventMap
