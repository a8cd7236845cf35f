import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { effectScope, type EffectScope } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend, type RefundView } from '@/backend'
import { useAppStore } from '@/stores/app'
import { useOrdersStore } from '@/stores/orders'
import { useRefundsStore } from '@/stores/refunds'
import { FakeBackend, flush } from '../../../../tests/fakeBackend'
import { appStatus, refundView } from '../../../../tests/fixtures'
import { useRefundList } from './useRefundList'
import { useMarkDoneDialog, useRetryDialog } from './useRefundDialogs'

let fake: FakeBackend
let scope: EffectScope
const run = <T>(fn: () => T): T => scope.run(fn) as T

beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  setBackend(fake)
  scope = effectScope()
  useAppStore().setStatus(appStatus())
})
afterEach(() => {
  scope.stop()
  setBackend(null)
})

const waiting = refundView({
  out_refund_no: 'R1',
  phase: 'needs_owner',
  status: 'CHANGE',
  attempts: 5,
  last_error: { code: 'NOTENOUGH', message: '商户余额不足' },
  advice: { code: 'NOTENOUGH', message: '商户平台余额不足：充值后点“重新发送”，或在商户平台退款后标记为已处理' },
  actions: ['query', 'retry', 'mark_done'],
})
const inFlight = refundView({ out_refund_no: 'R2', phase: 'processing' })

describe('useRefundList', () => {
  it('loads active refunds, and all on the toggle', async () => {
    fake.handle('refunds_list', ({ scope: s }) => (s === 'active' ? [waiting, inFlight] : [waiting, inFlight, refundView({ out_refund_no: 'R0', phase: 'refunded' })]))
    const l = run(() => useRefundList())
    await l.load()
    expect(l.rows.value.map((r) => r.out_refund_no)).toEqual(['R1', 'R2'])
    await l.setScope('all')
    expect(l.rows.value).toHaveLength(3)
    expect(fake.argsOf('refunds_list')).toEqual([{ scope: 'active' }, { scope: 'all' }])
  })

  it('offers the buttons the refund allows; staff only get "query"', () => {
    const l = run(() => useRefundList())
    expect(l.actionsOf(waiting)).toEqual(['query', 'retry', 'mark_done'])
    expect(l.actionsOf(inFlight)).toEqual(['query'])
    useAppStore().setStatus(appStatus({ user: { name: '小李', role: 'staff' } }))
    expect(l.actionsOf(waiting)).toEqual(['query'])
    expect(l.isStaff.value).toBe(true)
  })

  it('"query now" updates the row in place and shows failures on that row', async () => {
    fake.handle('refunds_list', () => [waiting, inFlight])
    fake.handle('refund_query_now', ({ outRefundNo }) => {
      if (outRefundNo === 'R1') throw { code: 'wechat_unreachable', message: '连不上微信' }
      return { ...inFlight, phase: 'refunded', status: 'SUCCESS', success_at: '2024-03-04T03:10:00Z' }
    })
    const l = run(() => useRefundList())
    await l.load()
    const q = l.queryNow('R2')
    expect(l.busy.R2).toBe('query')
    await q
    expect(l.busy.R2).toBeUndefined()
    expect(l.rows.value[1]!.phase).toBe('refunded')
    await l.queryNow('R1')
    expect(l.actionErrors.R1).toEqual({ code: 'wechat_unreachable', message: '连不上微信' })
    expect(l.rows.value[0]!.phase).toBe('needs_owner')
  })

  it('reloads on refunds-changed and orders-changed (events in one tick coalesce)', async () => {
    fake.handle('refunds_list', () => [inFlight])
    fake.handle('refund_applications_list', () => [])
    await useRefundsStore().listen()
    await useOrdersStore().listen()
    const l = run(() => useRefundList())
    await l.load()
    fake.emit('refunds-changed', { out_refund_nos: ['R2'] })
    await flush()
    fake.emit('orders-changed', { out_trade_nos: ['T1'] })
    await flush()
    expect(fake.argsOf('refunds_list')).toHaveLength(3)
    fake.emit('refunds-changed', { out_refund_nos: ['R2'] })
    fake.emit('orders-changed', { out_trade_nos: ['T1'] })
    await flush()
    expect(fake.argsOf('refunds_list')).toHaveLength(4)
  })
})

describe('useRetryDialog', () => {
  it('sends without a password, asks for it on password_required, then sends with it', async () => {
    const done: RefundView[] = []
    fake.handle('refund_retry', ({ password }) => {
      if (password === null) throw { code: 'password_required', message: '这笔退款需要店主密码' }
      return { ...waiting, phase: 'processing', status: 'PROCESSING', actions: ['query'] }
    })
    const r = run(() => useRetryDialog((v) => done.push(v)))
    r.open(waiting)
    expect(await r.submit()).toBeNull()
    expect(r.passwordAsked.value).toBe(true)
    expect(r.error.value?.code).toBe('password_required')
    expect(r.visible.value).toBe(true)
    expect(await r.submit()).toBeNull() // no password typed yet: nothing sent
    expect(r.problem.value).toBe('refunds.password.required')
    r.password.value = 'owner-pass'
    const v = await r.submit()
    expect(v?.phase).toBe('processing')
    expect(fake.argsOf('refund_retry')).toEqual([
      { outRefundNo: 'R1', password: null },
      { outRefundNo: 'R1', password: 'owner-pass' },
    ])
    expect(done).toHaveLength(1)
    expect(r.visible.value).toBe(false)
  })

  it('does nothing for staff', async () => {
    useAppStore().setStatus(appStatus({ user: { name: '小李', role: 'staff' } }))
    const r = run(() => useRetryDialog())
    r.open(waiting)
    expect(await r.submit()).toBeNull()
    expect(fake.calls).toHaveLength(0)
  })
})

describe('useMarkDoneDialog', () => {
  it('requires a note, then marks the refund done', async () => {
    fake.handle('refund_mark_done', () => ({ ...waiting, phase: 'done_outside', actions: [] }))
    const m = run(() => useMarkDoneDialog())
    m.open(waiting)
    expect(await m.submit()).toBeNull()
    expect(m.problem.value).toBe('refunds.markDone.noteRequired')
    expect(fake.calls).toHaveLength(0)
    m.form.note = ' 已在商户平台退款 '
    const v = await m.submit()
    expect(fake.argsOf('refund_mark_done')).toEqual([{ outRefundNo: 'R1', note: '已在商户平台退款' }])
    expect(v?.phase).toBe('done_outside')
  })

  it('shows forbidden and stays open', async () => {
    fake.handle('refund_mark_done', () => {
      throw { code: 'forbidden', message: '只有店主可以标记' }
    })
    const m = run(() => useMarkDoneDialog())
    m.open(waiting)
    m.form.note = 'x'
    await m.submit()
    expect(m.error.value?.code).toBe('forbidden')
    expect(m.visible.value).toBe(true)
  })
})
