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
}

export type EventName = keyof EventMap
