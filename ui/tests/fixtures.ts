// Contract-shaped sample data for the composable tests.
import type {
  ApplicationRow,
  AppStatus,
  AuditRow,
  BillInfo,
  CertificateInfo,
  ChainReport,
  CloseDay,
  DayClose,
  DiscrepancyRow,
  GuardCheck,
  GuardResult,
  OrderDetail,
  OrderMoney,
  OrderRow,
  RefundView,
  SandboxDefaults,
  Totals,
} from '@/backend'

export function orderRow(over: Partial<OrderRow> = {}): OrderRow {
  return {
    out_trade_no: 'T20240301000001',
    transaction_id: '4200000483202403010000000001',
    state: 'SUCCESS',
    total_fee_fen: 1234,
    refunded_fen: 0,
    description: '拿铁咖啡',
    created_at: '2024-03-01T04:05:06Z',
    paid_at: '2024-03-01T04:05:20Z',
    flags: [],
    ...over,
  }
}

export function orderDetail(over: Partial<OrderRow> = {}, extra: Partial<OrderDetail> = {}): OrderDetail {
  return {
    order: {
      ...orderRow(over),
      sign_type: 'MD5',
      openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      trade_type: 'JSAPI',
      bank_type: 'CMC',
      last_checked_at: null,
      next_check_at: null,
    },
    refunds: [],
    timeline: [
      { at: '2024-03-01T04:05:20Z', source: 'notification', what: '支付成功', state_after: 'SUCCESS', actor: null, evidence_ref: 'inbox:1' },
    ],
    ...extra,
  }
}

export function certificate(over: Partial<CertificateInfo> = {}): CertificateInfo {
  return {
    subject: 'CN=1900000109, O=Paydesk Sandbox, OU=1900000109',
    issuer: 'CN=Tenpay.com Root CA',
    serial_hex: '5f2a3c',
    not_before: '2024-01-01T00:00:00Z',
    not_after: '2029-01-01T00:00:00Z',
    days_until_expiry: 1500,
    warnings: [],
    ...over,
  }
}

export const sandboxDefaults: SandboxDefaults = {
  base_url: 'https://127.0.0.1:8443/',
  ca_path: '/tmp/wxpay-sim/ca/ca_cert.pem',
  merchant: { appid: 'wx2421b1c4370ec43b', mch_id: '1900000109', sign_type: 'MD5' },
  api_key_hint: 'sandbox0key0for0paydesk0demo0001',
  p12_path: '/tmp/wxpay-sim/merchants/1900000109/apiclient_cert.p12',
}

export function appStatus(over: Partial<AppStatus> = {}): AppStatus {
  return {
    vault: 'unlocked',
    merchant: { appid: 'wx2421b1c4370ec43b', mch_id: '1900000109', sign_type: 'MD5', sandbox: true },
    ledger: { kind: 'sqlite', display: 'paydesk.sqlite' },
    certificate: null,
    user: { name: '王老板', role: 'owner' },
    staff_login: false,
    ...over,
  }
}

export function orderMoney(over: Partial<OrderMoney> = {}): OrderMoney {
  return {
    out_trade_no: 'T20240301000001',
    transaction_id: '4200000483202403010000000001',
    state: 'SUCCESS',
    paid_at: '2024-03-01T04:05:20Z',
    total_fee_fen: 5000,
    refunded_fen: 1000,
    pending_fen: 500,
    remaining_fen: 3500,
    refund_count: 2,
    days_since_payment: 3,
    ...over,
  }
}

export function application(over: Partial<ApplicationRow> = {}): ApplicationRow {
  return {
    id: 7,
    status: 'PENDING',
    amount_fen: 2000,
    reason: '顾客退货',
    origin: 'shop_backend',
    external_ref: 'RA-1001',
    requested_by: 'shop-backend',
    requested_at: '2024-03-04T02:00:00Z',
    decided_by: null,
    decided_at: null,
    decision_note: null,
    order: orderMoney(),
    refund: null,
    ...over,
  }
}

const GUARD_NAMES = ['role', 'paid', 'remainder', 'count', 'age', 'interval'] as const

/** All guards pass, except those named in `blocked` (with a message saying why). */
export function guardCheck(blocked: Partial<Record<GuardResult['name'], string>> = {}, needsPassword = false): GuardCheck {
  const guards = GUARD_NAMES.map((name) => ({
    name,
    ok: !(name in blocked),
    message: blocked[name] ?? '通过',
  }))
  return { ok: guards.every((g) => g.ok), guards, needs_password: needsPassword }
}

export function refundView(over: Partial<RefundView> = {}): RefundView {
  return {
    out_refund_no: 'R20240304000001',
    refund_id: null,
    out_trade_no: 'T20240301000001',
    application_id: 7,
    amount_fen: 2000,
    total_fee_fen: 5000,
    refund_desc: null,
    status: 'PROCESSING',
    phase: 'processing',
    attempts: 1,
    max_attempts: 5,
    last_error: null,
    advice: null,
    actions: ['query'],
    created_by: '王老板',
    created_at: '2024-03-04T03:00:00Z',
    last_attempt_at: '2024-03-04T03:00:01Z',
    success_at: null,
    recv_account: null,
    last_checked_at: null,
    next_check_at: '2024-03-04T03:05:00Z',
    ...over,
  }
}

export function auditRow(seq: number, over: Partial<AuditRow> = {}): AuditRow {
  return {
    seq,
    at: '2024-03-04T03:00:00Z',
    actor: '王老板',
    action: 'refund_approve',
    subject: 'application:7',
    result: 'ok',
    detail: '{"amount_fen":2000,"out_refund_no":"R20240304000001"}',
    ...over,
  }
}

export function chainReport(over: Partial<ChainReport> = {}): ChainReport {
  return { ok: true, entries_checked: 120, broken_at_seq: null, message: '操作日志完整', ...over }
}

// ---- Daily close ----

export function closeDay(day: string, over: Partial<CloseDay> = {}): CloseDay {
  return { day, status: 'clean', open_discrepancies: 0, takings_fen: 123456, refunds_fen: 2000, ...over }
}

export function totals(over: Partial<Totals> = {}): Totals {
  return {
    payments_count: 42,
    payments_fen: 123456,
    refunds_count: 1,
    refunds_fen: 2000,
    fees_yuan: '7.28736',
    net_yuan: '1207.27264',
    ...over,
  }
}

export function billInfo(over: Partial<BillInfo> = {}): BillInfo {
  return {
    day: '2024-03-04',
    bill_type: 'ALL',
    source: 'download',
    file_name: null,
    sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    byte_len: 20480,
    row_count: 43,
    imported_by: '王老板',
    imported_at: '2024-03-05T02:30:00Z',
    summary_check: { ok: true, differences: [] },
    ...over,
  }
}

export function discrepancy(id: number, over: Partial<DiscrepancyRow> = {}): DiscrepancyRow {
  return {
    id,
    kind: 'missing_in_ledger',
    status: 'open',
    out_trade_no: `T2024030400000${id}`,
    transaction_id: `42000004832024030400000000${id}`,
    out_refund_no: null,
    ledger_value: null,
    wechat_value: 'SUCCESS',
    ledger_fen: null,
    wechat_fen: 3800,
    explanation: '微信收了这笔款，账本里没有这笔订单：可以向微信查询，或按账单登记。',
    actions: ['query', 'record_from_bill', 'propose_refund', 'explain'],
    resolution: null,
    resolved_by: null,
    resolved_at: null,
    ...over,
  }
}

export function dayClose(over: Partial<DayClose> = {}): DayClose {
  return {
    day: '2024-03-04',
    status: 'clean',
    bill: billInfo(),
    run: { id: 9, finished_at: '2024-03-05T02:30:05Z', by: '王老板', matched: 43 },
    ledger: totals(),
    wechat: totals(),
    discrepancies: [],
    ...over,
  }
}
