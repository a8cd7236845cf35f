// Contract-shaped sample data for the composable tests.
import type { AppStatus, CertificateInfo, OrderDetail, OrderRow, SandboxDefaults } from '@/backend'

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
    ...over,
  }
}
