import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, type EffectScope } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend, type GuardCheck } from '@/backend'
import { useAppStore } from '@/stores/app'
import { useRefundsStore } from '@/stores/refunds'
import { deferred, FakeBackend, flush } from '../../../../tests/fakeBackend'
import { application, appStatus, guardCheck, orderMoney, refundView } from '../../../../tests/fixtures'
import { charCount, GUARD_DEBOUNCE_MS, parseRefundAmount, REFUND_DESC_MAX, useApprove } from './useApprove'
import { useReject } from './useReject'
import { useNewApplication } from './useNewApplication'

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
  vi.useRealTimers()
})

describe('parseRefundAmount (yuan typed in the dialog → fen, exactly)', () => {
  it.each([
    ['0.01', 1],
    ['12.3', 1230],
    ['12.30', 1230],
    ['12', 1200],
    [' 20.00 ', 2000],
    ['0.1', 10],
    ['19.99', 1999],
    ['1.230', 123], // trailing zeros are exact
  ])('"%s" → %i fen', (text, fen) => {
    expect(parseRefundAmount(text, 2000)).toEqual({ ok: true, fen })
  })

  it.each([
    ['12.345', 'money.too_precise'],
    ['0.001', 'money.too_precise'],
    ['', 'money.empty'],
    ['abc', 'money.malformed'],
    ['1e3', 'money.malformed'],
    ['-1', 'money.malformed'],
    ['0', 'refunds.amount.tooSmall'],
    ['0.00', 'refunds.amount.tooSmall'],
    ['20.01', 'refunds.amount.tooLarge'],
  ])('"%s" is refused (%s)', (text, key) => {
    expect(parseRefundAmount(text, 2000)).toMatchObject({ ok: false, key })
  })

  it('names the maximum when the amount is too large', () => {
    expect(parseRefundAmount('20.01', 2000)).toEqual({ ok: false, key: 'refunds.amount.tooLarge', params: { max: '¥20.00' } })
  })

  it('counts characters, not UTF-16 units', () => {
    expect(charCount('退款🙂')).toBe(3)
  })
})

describe('useApprove', () => {
  it('opens prefilled with the application amount and asks the guards for it', async () => {
    fake.handle('refund_guards', () => guardCheck())
    const a = run(() => useApprove())
    await a.open(application({ id: 7, amount_fen: 2000 }))
    expect(a.form.amountYuan).toBe('20.00')
    expect(fake.argsOf('refund_guards')).toEqual([{ applicationId: 7, amountFen: 2000 }])
    expect(a.guards.value?.ok).toBe(true)
    expect(a.canApprove.value).toBe(true)
    await flush()
    expect(fake.argsOf('refund_guards')).toHaveLength(1) // prefilling does not ask twice
  })

  it('asks the guards again (debounced) when the amount changes, and only for valid amounts', async () => {
    vi.useFakeTimers()
    fake.handle('refund_guards', () => guardCheck())
    const a = run(() => useApprove())
    await a.open(application({ amount_fen: 2000 }))
    a.form.amountYuan = '12.3'
    await nextTick()
    expect(a.canApprove.value).toBe(false) // the answer for 20.00 is not the answer for 12.30
    a.form.amountYuan = '12.34'
    await nextTick()
    a.form.amountYuan = '12.345' // refused: no guard call, nothing to approve
    await nextTick()
    expect(a.amountProblem.value?.key).toBe('money.too_precise')
    a.form.amountYuan = '12.3'
    await nextTick()
    await vi.advanceTimersByTimeAsync(GUARD_DEBOUNCE_MS)
    expect(fake.argsOf('refund_guards').map((x) => x.amountFen)).toEqual([2000, 1230])
    expect(a.canApprove.value).toBe(true)
  })

  it('shows blocked guards by name and reason and disables approving', async () => {
    fake.handle('refund_guards', () => guardCheck({ remainder: '最多还能退 ¥15.00', interval: '距上次退款不到 1 分钟' }))
    const a = run(() => useApprove())
    await a.open(application())
    expect(a.guards.value?.ok).toBe(false)
    expect(a.blockedGuards.value.map((g) => [g.name, g.message])).toEqual([
      ['remainder', '最多还能退 ¥15.00'],
      ['interval', '距上次退款不到 1 分钟'],
    ])
    expect(a.canApprove.value).toBe(false)
    expect(await a.submit()).toBeNull()
    expect(fake.argsOf('refund_approve')).toHaveLength(0)
  })

  it('ignores a guard answer for an amount that is no longer in the box', async () => {
    const slow = deferred<GuardCheck>()
    const answers = [slow.promise, Promise.resolve(guardCheck())]
    fake.handle('refund_guards', () => answers.shift()!)
    const a = run(() => useApprove())
    const opening = a.open(application({ amount_fen: 2000 }))
    a.form.amountYuan = '10'
    await a.checkGuards()
    slow.resolve(guardCheck({ paid: '订单未支付' }))
    await opening
    expect(a.guards.value?.ok).toBe(true)
    expect(a.canApprove.value).toBe(true)
  })

  it('"full remainder" fills the order remainder, capped at the application amount', async () => {
    fake.handle('refund_guards', () => guardCheck())
    const a = run(() => useApprove())
    await a.open(application({ amount_fen: 5000, order: orderMoney({ remaining_fen: 3500 }) }))
    a.fillRemainder()
    expect(a.form.amountYuan).toBe('35.00')
    await a.open(application({ amount_fen: 1000, order: orderMoney({ remaining_fen: 3500 }) }))
    a.fillRemainder()
    expect(a.form.amountYuan).toBe('10.00')
  })

  it('limits the customer-visible description to 80 characters and sends null when empty', async () => {
    fake.handle('refund_guards', () => guardCheck())
    fake.handle('refund_approve', () => refundView())
    const a = run(() => useApprove())
    await a.open(application())
    a.form.desc = '退'.repeat(REFUND_DESC_MAX + 1)
    expect(a.descTooLong.value).toBe(true)
    expect(a.canApprove.value).toBe(false)
    a.form.desc = '  '
    expect(await a.submit()).not.toBeNull()
    expect(fake.argsOf('refund_approve')[0]).toEqual({ applicationId: 7, amountFen: 2000, refundDesc: null, password: null })
  })

  it('asks for the password when the guards say so and sends it', async () => {
    fake.handle('refund_guards', () => guardCheck({}, true))
    fake.handle('refund_approve', () => refundView())
    const a = run(() => useApprove())
    await a.open(application())
    expect(a.needsPassword.value).toBe(true)
    expect(a.canApprove.value).toBe(false)
    a.form.password = 'owner-pass'
    a.form.desc = ' 缺货退款 '
    expect(a.canApprove.value).toBe(true)
    await a.submit()
    expect(fake.argsOf('refund_approve')[0]).toEqual({
      applicationId: 7,
      amountFen: 2000,
      refundDesc: '缺货退款',
      password: 'owner-pass',
    })
    expect(a.visible.value).toBe(false)
  })

  it('on password_required asks for the password, keeps the dialog open, then succeeds', async () => {
    fake.handle('refund_guards', () => guardCheck())
    let calls = 0
    fake.handle('refund_approve', ({ password }) => {
      calls++
      if (!password) throw { code: 'password_required', message: '超过 ¥10.00 的退款需要店主密码' }
      if (password !== 'right') throw { code: 'wrong_password', message: '密码不正确' }
      return refundView({ phase: 'processing' })
    })
    const a = run(() => useApprove())
    await a.open(application({ amount_fen: 2000 }))
    a.form.amountYuan = '15'
    await a.checkGuards()
    expect(await a.submit()).toBeNull()
    expect(a.error.value).toEqual({ code: 'password_required', message: '超过 ¥10.00 的退款需要店主密码' })
    expect(a.visible.value).toBe(true)
    expect(a.needsPassword.value).toBe(true)
    expect(a.canApprove.value).toBe(false)

    a.form.password = 'wrong'
    expect(await a.submit()).toBeNull()
    expect(a.error.value?.code).toBe('wrong_password')
    expect(a.visible.value).toBe(true)
    expect(a.form.password).toBe('wrong') // kept, to be corrected

    a.form.password = 'right'
    const view = await a.submit()
    expect(view?.phase).toBe('processing')
    expect(calls).toBe(3)
    expect(fake.argsOf('refund_approve').map((x) => [x.amountFen, x.password])).toEqual([
      [1500, null],
      [1500, 'wrong'],
      [1500, 'right'],
    ])
    expect(a.visible.value).toBe(false)
  })

  it('on refund_guard shows the message and asks the guards again', async () => {
    const answers = [guardCheck(), guardCheck({ interval: '距上次退款不到 1 分钟' })]
    fake.handle('refund_guards', () => answers.shift()!)
    fake.handle('refund_approve', () => {
      throw { code: 'refund_guard', message: '退款间隔：距上次退款不到 1 分钟' }
    })
    const a = run(() => useApprove())
    await a.open(application())
    await a.submit()
    await flush()
    expect(a.error.value?.code).toBe('refund_guard')
    expect(a.visible.value).toBe(true)
    expect(a.blockedGuards.value.map((g) => g.name)).toEqual(['interval'])
  })

  it('never approves as staff, and shows forbidden if the shell says so', async () => {
    fake.handle('refund_guards', () => guardCheck({ role: '店员不能批准退款' }))
    useAppStore().setStatus(appStatus({ user: { name: '小李', role: 'staff' } }))
    const a = run(() => useApprove())
    await a.open(application())
    expect(a.canApprove.value).toBe(false)
    expect(await a.submit()).toBeNull()
    expect(fake.argsOf('refund_approve')).toHaveLength(0)
  })

  it('shows a guard check failure and keeps approving disabled', async () => {
    fake.handle('refund_guards', () => {
      throw { code: 'vault_locked', message: '已锁定' }
    })
    const a = run(() => useApprove())
    await a.open(application())
    expect(a.guardsError.value?.code).toBe('vault_locked')
    expect(a.canApprove.value).toBe(false)
  })
})

describe('useReject', () => {
  it('requires a reason before calling anything', async () => {
    fake.handle('refund_reject', ({ applicationId, reason }) =>
      ({ ...application({ id: applicationId }), status: 'REJECTED', decision_note: reason }),
    )
    const r = run(() => useReject())
    r.open(application({ id: 7 }))
    r.reason.value = '   '
    expect(await r.submit()).toBeNull()
    expect(r.problem.value).toBe('refunds.reject.reasonRequired')
    expect(fake.calls).toHaveLength(0)
    r.reason.value = ' 商品已使用 '
    const row = await r.submit()
    expect(fake.argsOf('refund_reject')).toEqual([{ applicationId: 7, reason: '商品已使用' }])
    expect(row?.status).toBe('REJECTED')
    expect(r.visible.value).toBe(false)
  })

  it('keeps the dialog open with the message on forbidden', async () => {
    fake.handle('refund_reject', () => {
      throw { code: 'forbidden', message: '店员不能拒绝退款申请' }
    })
    const r = run(() => useReject())
    r.open(application())
    r.reason.value = '不符合条件'
    expect(await r.submit()).toBeNull()
    expect(r.error.value).toEqual({ code: 'forbidden', message: '店员不能拒绝退款申请' })
    expect(r.visible.value).toBe(true)
  })
})

describe('useNewApplication', () => {
  it('validates the order number, the amount (exact fen) and the reason', async () => {
    const n = run(() => useNewApplication())
    n.open()
    expect(await n.submit()).toBeNull()
    expect(n.problems.value.map((p) => [p.field, p.key])).toEqual([
      ['outTradeNo', 'refunds.create.orderRequired'],
      ['amountYuan', 'money.empty'],
      ['reason', 'refunds.create.reasonRequired'],
    ])
    Object.assign(n.form, { outTradeNo: 'T 1', amountYuan: '12.345', reason: 'x' })
    await n.submit()
    expect(n.problems.value.map((p) => p.key)).toEqual(['refunds.create.orderFormat', 'money.too_precise'])
    Object.assign(n.form, { outTradeNo: 'T1', amountYuan: '0' })
    await n.submit()
    expect(n.problems.value.map((p) => p.key)).toEqual(['refunds.amount.tooSmall'])
    expect(fake.calls).toHaveLength(0)
  })

  it('registers the application and refreshes the badge', async () => {
    fake.handle('refund_application_create', ({ outTradeNo, amountFen, reason }) =>
      application({ id: 11, origin: 'desk', amount_fen: amountFen, reason, order: orderMoney({ out_trade_no: outTradeNo }) }),
    )
    fake.handle('refund_applications_list', () => [application(), application({ id: 11 })])
    const n = run(() => useNewApplication())
    n.open()
    Object.assign(n.form, { outTradeNo: ' T20240301000001 ', amountYuan: '12.3', reason: ' 顾客退货 ' })
    const row = await n.submit()
    await flush()
    expect(fake.argsOf('refund_application_create')).toEqual([{ outTradeNo: 'T20240301000001', amountFen: 1230, reason: '顾客退货' }])
    expect(row?.id).toBe(11)
    expect(n.visible.value).toBe(false)
    expect(useRefundsStore().pendingCount).toBe(2)
  })

  it('opens prefilled from an order and refuses more than is left on it', async () => {
    const n = run(() => useNewApplication())
    n.open({ outTradeNo: 'T1', amountFen: 1537, maxFen: 1537 })
    expect(n.form).toMatchObject({ outTradeNo: 'T1', amountYuan: '15.37', reason: '' })
    n.form.amountYuan = '15.38'
    n.form.reason = '退货'
    expect(await n.submit()).toBeNull()
    expect(n.problems.value).toEqual([{ field: 'amountYuan', key: 'refunds.amount.tooLarge', params: { max: '¥15.37' } }])
  })

  it('shows the shell message when the order is unknown and stays open', async () => {
    fake.handle('refund_application_create', () => {
      throw { code: 'not_found', message: '没有这笔订单' }
    })
    const n = run(() => useNewApplication())
    n.open({ outTradeNo: 'T404' })
    Object.assign(n.form, { amountYuan: '1', reason: '退货' })
    expect(await n.submit()).toBeNull()
    expect(n.error.value?.code).toBe('not_found')
    expect(n.visible.value).toBe(true)
  })
})
