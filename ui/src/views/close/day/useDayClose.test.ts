import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { effectScope, type EffectScope } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend, type DayClose } from '@/backend'
import { useAppStore } from '@/stores/app'
import { useCloseStore } from '@/stores/close'
import { useRefundsStore } from '@/stores/refunds'
import { deferred, FakeBackend, flush } from '../../../../tests/fakeBackend'
import { application, appStatus, dayClose, discrepancy, totals } from '../../../../tests/fixtures'
import { proposedRefundFen, useDayClose } from './useDayClose'

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

const DAY = '2024-03-04'
const openDay = (over: Partial<DayClose> = {}) =>
  dayClose({
    status: 'open',
    wechat: totals({ payments_count: 43, payments_fen: 127256 }),
    discrepancies: [discrepancy(11, { status: 'resolved', actions: [] }), discrepancy(12), discrepancy(13, { kind: 'amount_mismatch' })],
    ...over,
  })

describe('useDayClose', () => {
  it('reads the day and lists open discrepancies first', async () => {
    fake.handle('close_day', () => openDay())
    const d = run(() => useDayClose(DAY))
    await d.load()
    expect(fake.argsOf('close_day')).toEqual([{ day: DAY }])
    expect(d.discrepancies.value.map((r) => r.id)).toEqual([12, 13, 11])
    expect(d.openCount.value).toBe(2)
  })

  it('shows not_yet and no_bill from bill_fetch as states with the shell’s words, not as errors', async () => {
    fake.handle('close_day', () => dayClose({ status: 'not_yet', bill: null, run: null, wechat: null }))
    fake.handle('bill_fetch', () => ({ outcome: 'not_yet', message: '微信还在生成账单（10 点后可下载）', day: null }))
    const d = run(() => useDayClose(DAY))
    await d.load()
    const r = await d.fetch()
    expect(fake.argsOf('bill_fetch')).toEqual([{ day: DAY }])
    expect(r?.outcome).toBe('not_yet')
    expect(d.notice.value).toEqual({ op: 'fetch', outcome: 'not_yet', message: '微信还在生成账单（10 点后可下载）' })
    expect(d.opError.value).toBeNull()
    await flush()
    expect(fake.argsOf('close_day')).toHaveLength(2) // the day's status is read again

    fake.handle('bill_fetch', () => ({ outcome: 'no_bill', message: '这一天没有交易，微信没有账单', day: dayClose({ status: 'no_bill', bill: null, wechat: null }) }))
    await d.fetch()
    expect(d.notice.value).toMatchObject({ op: 'fetch', outcome: 'no_bill' })
    expect(d.data.value?.status).toBe('no_bill')
    expect(d.opError.value).toBeNull()
  })

  it('takes the fetched day when the bill was imported; real failures are errors', async () => {
    fake.handle('close_day', () => dayClose({ status: 'not_reconciled', bill: null, run: null, wechat: null }))
    fake.handle('bill_fetch', () => ({ outcome: 'imported', message: '账单已下载：43 行', day: openDay() }))
    const d = run(() => useDayClose(DAY))
    await d.load()
    await d.fetch()
    expect(d.data.value?.status).toBe('open')
    expect(d.notice.value).toMatchObject({ op: 'fetch', outcome: 'imported' })
    fake.handle('bill_fetch', () => {
      throw { code: 'wechat_unreachable', message: '连不上微信支付' }
    })
    expect(await d.fetch()).toBeNull()
    expect(d.opError.value).toEqual({ op: 'fetch', error: { code: 'wechat_unreachable', message: '连不上微信支付' } })
  })

  it('shows the progress bar while fetching, and hides it after', async () => {
    fake.handle('close_day', () => dayClose())
    const answer = deferred<{ outcome: 'imported'; message: string; day: DayClose }>()
    fake.handle('bill_fetch', () => answer.promise)
    const close = useCloseStore()
    const d = run(() => useDayClose(DAY))
    await d.load()
    const pending = d.fetch()
    await flush()
    expect(close.visible).toBe(true)
    expect(close.percent).toBeNull() // indeterminate until the shell says a total
    expect(d.blocked.value).toBe(true)
    expect(await d.reconcile()).toBeNull() // one bill operation at a time
    close.noteProgress({ day: DAY, stage: 'download', done: 512, total: 2048 })
    expect(close.percent).toBe(25)
    answer.resolve({ outcome: 'imported', message: 'ok', day: dayClose() })
    await pending
    expect(close.visible).toBe(false)
    expect(d.blocked.value).toBe(false)
    expect(fake.argsOf('recon_run')).toHaveLength(0)
  })

  it('reconciles again and says how it went', async () => {
    fake.handle('close_day', () => openDay())
    fake.handle('recon_run', () => openDay({ run: { id: 10, finished_at: '2024-03-05T03:00:00Z', by: '王老板', matched: 42 } }))
    const d = run(() => useDayClose(DAY))
    await d.load()
    await d.reconcile()
    expect(fake.argsOf('recon_run')).toEqual([{ day: DAY }])
    expect(d.notice.value).toEqual({ op: 'recon', matched: 42, open: 2 })
    expect(d.data.value?.run?.id).toBe(10)
  })

  it('exports the day and its discrepancies and says where', async () => {
    fake.handle('close_export_csv', ({ what }) => ({ path: `/home/shop/Downloads/paydesk-close-2024-03-04-${what}.csv`, rows: what === 'day' ? 43 : 2 }))
    const d = run(() => useDayClose(DAY))
    await d.exportCsv('discrepancies')
    expect(fake.argsOf('close_export_csv')).toEqual([{ day: DAY, what: 'discrepancies' }])
    expect(d.notice.value).toEqual({ op: 'export', what: 'discrepancies', path: '/home/shop/Downloads/paydesk-close-2024-03-04-discrepancies.csv', rows: 2 })
  })

  it('runs "query WeChat" at once and shows the day reconciled again', async () => {
    fake.handle('close_day', () => openDay())
    fake.handle('discrepancy_action', ({ id }) =>
      openDay({ discrepancies: [discrepancy(id, { status: 'resolved', actions: [], resolution: '微信：已支付，已记入账本' })] }),
    )
    const d = run(() => useDayClose(DAY))
    await d.load()
    const row = d.discrepancies.value.find((r) => r.id === 12)!
    const pending = d.request(row, 'query')
    expect(d.busy[12]).toBe('query')
    await pending
    expect(fake.argsOf('discrepancy_action')).toEqual([{ id: 12, action: 'query', note: null }])
    expect(d.busy[12]).toBeUndefined()
    expect(d.lastAction.value).toEqual({ id: 12, action: 'query', status: 'resolved' })
    expect(d.data.value?.discrepancies[0]?.status).toBe('resolved')
  })

  it('asks before recording from the bill or proposing a refund; the refund badge is re-read', async () => {
    fake.handle('close_day', () => openDay())
    fake.handle('discrepancy_action', ({ id }) => openDay({ discrepancies: [discrepancy(id, { status: 'action_pending', actions: ['query'] })] }))
    fake.handle('refund_applications_list', () => [application()])
    const d = run(() => useDayClose(DAY))
    await d.load()
    const row = d.discrepancies.value.find((r) => r.id === 12)!

    expect(await d.request(row, 'record_from_bill')).toBeNull()
    expect(fake.argsOf('discrepancy_action')).toHaveLength(0) // nothing yet: the dialog says what will happen
    expect(d.confirm.visible).toBe(true)
    expect(d.confirm.action).toBe('record_from_bill')
    d.confirm.visible = false

    await d.request(row, 'propose_refund')
    expect(d.confirm.action).toBe('propose_refund')
    d.confirm.note = '  顾客要求退回多收的钱 '
    await d.confirmAction()
    // the optional reason goes along as the application's reason
    expect(fake.argsOf('discrepancy_action')).toEqual([{ id: 12, action: 'propose_refund', note: '顾客要求退回多收的钱' }])
    expect(d.confirm.visible).toBe(false)
    await flush()
    expect(useRefundsStore().pendingCount).toBe(1)
    expect(d.lastAction.value?.status).toBe('action_pending')
  })

  it('sends no note with "record from the bill", nor an empty reason with a proposed refund', async () => {
    fake.handle('close_day', () => openDay())
    fake.handle('discrepancy_action', () => openDay())
    fake.handle('refund_applications_list', () => [])
    const d = run(() => useDayClose(DAY))
    await d.load()
    const row = d.discrepancies.value.find((r) => r.id === 12)!
    await d.request(row, 'record_from_bill')
    await d.confirmAction()
    await d.request(row, 'propose_refund')
    d.confirm.note = '   '
    await d.confirmAction()
    expect(fake.argsOf('discrepancy_action').map((a) => a.note)).toEqual([null, null])
  })

  it('proposes the difference for an amount mismatch, what WeChat took otherwise (exact)', () => {
    expect(proposedRefundFen(discrepancy(1, { kind: 'amount_mismatch', ledger_fen: 3500, wechat_fen: 3800 }))).toBe(300n)
    expect(proposedRefundFen(discrepancy(2, { kind: 'missing_in_ledger', wechat_fen: 3800 }))).toBe(3800n)
    expect(proposedRefundFen(discrepancy(3, { kind: 'amount_mismatch', ledger_fen: null, wechat_fen: 3800 }))).toBeNull()
  })

  it('lets staff read and ask WeChat, nothing else', async () => {
    useAppStore().setStatus(appStatus({ user: { name: '小李', role: 'staff' } }))
    fake.handle('close_day', () => openDay())
    fake.handle('discrepancy_action', () => openDay())
    const d = run(() => useDayClose(DAY))
    await d.load()
    const row = d.discrepancies.value.find((r) => r.id === 12)!
    expect(d.isStaff.value).toBe(true)
    expect(d.actionsOf(row)).toEqual(['query'])
    expect(await d.request(row, 'explain')).toBeNull()
    expect(d.explain.visible).toBe(false)
    expect(await d.fetch()).toBeNull()
    expect(await d.reconcile()).toBeNull()
    expect(fake.calls.map((c) => c.command)).toEqual(['close_day'])
    await d.request(row, 'query')
    expect(fake.argsOf('discrepancy_action')).toEqual([{ id: 12, action: 'query', note: null }])
  })

  it('counts open and action-pending discrepancies as needing a person, not waiting ones', async () => {
    fake.handle('close_day', () =>
      openDay({
        discrepancies: [
          discrepancy(1, { status: 'open' }),
          discrepancy(2, { status: 'action_pending' }),
          discrepancy(3, { status: 'waiting', kind: 'missing_at_wechat' }),
        ],
      }),
    )
    const d = run(() => useDayClose(DAY))
    await d.load()
    expect(d.openCount.value).toBe(2)
  })

  it('keeps an action’s refusal on its row', async () => {
    fake.handle('close_day', () => openDay())
    fake.handle('discrepancy_action', () => {
      throw { code: 'forbidden', message: '店员不能登记订单' }
    })
    const d = run(() => useDayClose(DAY))
    await d.load()
    const row = d.discrepancies.value.find((r) => r.id === 12)!
    await d.request(row, 'record_from_bill')
    await d.confirmAction()
    expect(d.actionErrors[12]).toEqual({ code: 'forbidden', message: '店员不能登记订单' })
    expect(d.confirm.visible).toBe(false)
    expect(d.data.value?.status).toBe('open')
  })

  it('marks explained only with a note', async () => {
    fake.handle('close_day', () => openDay())
    fake.handle('discrepancy_action', ({ id }) =>
      openDay({ discrepancies: [discrepancy(id, { status: 'explained', actions: [], resolution: '顾客付了现金' })] }),
    )
    const d = run(() => useDayClose(DAY))
    await d.load()
    const row = d.discrepancies.value.find((r) => r.id === 13)!
    await d.request(row, 'explain')
    expect(d.explain.visible).toBe(true)
    expect(fake.argsOf('discrepancy_action')).toHaveLength(0)

    d.explain.note = '   '
    expect(await d.submitExplain()).toBeNull()
    expect(d.explain.problem).toBe('close.explain.noteRequired')
    expect(fake.argsOf('discrepancy_action')).toHaveLength(0)

    d.explain.note = 'x'.repeat(201)
    expect(await d.submitExplain()).toBeNull()
    expect(d.explain.problem).toBe('close.explain.noteTooLong')

    d.explain.note = '  顾客付了现金  '
    await d.submitExplain()
    expect(fake.argsOf('discrepancy_action')).toEqual([{ id: 13, action: 'explain', note: '顾客付了现金' }])
    expect(d.explain.visible).toBe(false)
    expect(d.lastAction.value).toEqual({ id: 13, action: 'explain', status: 'explained' })
  })

  it('keeps the explain dialog open with the shell’s refusal', async () => {
    fake.handle('close_day', () => openDay())
    fake.handle('discrepancy_action', () => {
      throw { code: 'invalid_input', message: '说明太长' }
    })
    const d = run(() => useDayClose(DAY))
    await d.load()
    await d.request(d.discrepancies.value[0]!, 'explain')
    d.explain.note = '已核对'
    await d.submitExplain()
    expect(d.explain.visible).toBe(true)
    expect(d.explain.error?.message).toBe('说明太长')
    expect(d.explain.note).toBe('已核对')
  })

  it('takes a day imported elsewhere in the area, and forgets state when the day changes', async () => {
    fake.handle('close_day', ({ day }) => dayClose({ day, status: 'not_reconciled', bill: null, wechat: null }))
    const d = run(() => useDayClose(DAY))
    await d.load()
    useCloseStore().publishDay(openDay({ day: '2024-03-03' }))
    await flush()
    expect(d.data.value?.status).toBe('not_reconciled') // another day: not this one
    useCloseStore().publishDay(openDay())
    await flush()
    expect(d.data.value?.status).toBe('open')

    d.notice.value = { op: 'recon', matched: 1, open: 0 }
    await d.setDay('2024-03-03')
    expect(d.day.value).toBe('2024-03-03')
    expect(d.notice.value).toBeNull()
    expect(d.data.value?.day).toBe('2024-03-03')
  })

  it('a slow read of the previous day does not overwrite the new one', async () => {
    const slow = deferred<DayClose>()
    fake.handle('close_day', ({ day }) => (day === DAY ? slow.promise : dayClose({ day })))
    const d = run(() => useDayClose(DAY))
    const first = d.load()
    await d.setDay('2024-03-03')
    slow.resolve(dayClose({ day: DAY, status: 'open' }))
    await first
    expect(d.data.value?.day).toBe('2024-03-03')
  })
})
