// What the owner sees in the daily close: the calendar's cells and yesterday's answer, the day's
// totals (fees with all their decimals), the bill's summary check, discrepancy rows with their
// buttons, and the explain dialog that needs a note.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend, type CloseDay } from '@/backend'
import { useAppStore } from '@/stores/app'
import { useCloseStore } from '@/stores/close'
import { daysOfMonth } from '@/utils/time'
import { FakeBackend, flush } from '../../../tests/fakeBackend'
import { appStatus, billInfo, closeDay, dayClose, discrepancy, totals } from '../../../tests/fixtures'
import { byTestId, mountPage } from '../../../tests/mountPage'
import CalendarPage from './calendar/index.vue'
import DayPage from './day/index.vue'

vi.mock('./calendar/components/CloseChart.vue', () => ({
  default: { props: ['days'], template: '<div data-testid="close-chart" :data-days="days.length"></div>' },
}))

let fake: FakeBackend
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(new Date('2024-03-05T01:00:00Z')) // 09:00 in Beijing; yesterday = 2024-03-04
  fake = new FakeBackend()
  setBackend(fake)
})
afterEach(() => {
  setBackend(null)
  vi.useRealTimers()
  document.body.innerHTML = ''
})

const settle = async (w: { vm: { $nextTick: () => Promise<void> } }) => {
  await flush()
  await w.vm.$nextTick()
}

describe('the daily close calendar', () => {
  it('shows each day’s status and highlights yesterday', async () => {
    const statuses: Record<string, Partial<CloseDay>> = {
      '2024-03-01': { status: 'clean' },
      '2024-03-02': { status: 'open', open_discrepancies: 3 },
      '2024-03-03': { status: 'no_bill', takings_fen: 0 },
      '2024-03-04': { status: 'not_reconciled' },
      '2024-03-05': { status: 'not_yet' },
    }
    fake.handle('close_calendar', ({ month }) => daysOfMonth(month).map((d) => closeDay(d, statuses[d] ?? { status: 'not_yet', takings_fen: 0 })))
    fake.handle('close_chart', () => [{ day: '2024-03-04', takings_fen: 100, refunds_fen: 0 }])
    const w = await mountPage(CalendarPage)
    await settle(w)

    expect(byTestId('close-month')!.getAttribute('data-month')).toBe('2024-03')
    const cell = (d: string) => byTestId('close-day-' + d)!
    expect(cell('2024-03-01').getAttribute('data-status')).toBe('clean')
    expect(cell('2024-03-01').textContent).toContain('✓ 已对平')
    expect(cell('2024-03-02').getAttribute('data-open')).toBe('3')
    expect(cell('2024-03-02').textContent).toContain('3 处差异')
    expect(cell('2024-03-03').textContent).toContain('无账单')
    expect(cell('2024-03-04').textContent).toContain('未对账')
    expect(cell('2024-03-04').getAttribute('data-yesterday')).toBe('true')
    expect(cell('2024-03-05').textContent).toContain('未出账单')
    expect(cell('2024-03-06').hasAttribute('disabled')).toBe(true)
    expect(byTestId('close-yesterday')!.getAttribute('data-status')).toBe('not_reconciled')
    expect(byTestId('close-chart')!.getAttribute('data-days')).toBe('1')

    cell('2024-03-02').click()
    await settle(w)
    expect(w.router.currentRoute.value.fullPath).toBe('/close/2024-03-02')
    w.unmount()
  })

  it('imports a file from the calendar with the day read from its rows, and opens that day', async () => {
    fake.handle('close_calendar', ({ month }) => daysOfMonth(month).map((d) => closeDay(d)))
    fake.handle('close_chart', () => [])
    fake.handle('bill_import', () => ({ outcome: 'imported', message: '已导入 43 行', day: dayClose({ day: '2024-03-03', status: 'open' }) }))
    const w = await mountPage(CalendarPage)
    await settle(w)
    const input = byTestId('close-import-path') as HTMLInputElement
    input.value = '/tmp/2024-03-03.csv'
    input.dispatchEvent(new Event('input'))
    byTestId('close-import-submit')!.click()
    await settle(w)
    await settle(w)
    expect(fake.argsOf('bill_import')).toEqual([{ path: '/tmp/2024-03-03.csv', day: null }])
    expect(w.router.currentRoute.value.fullPath).toBe('/close/2024-03-03')
    expect(useCloseStore().imports[0]?.result?.day?.day).toBe('2024-03-03') // the outcome stays for the day view
    w.unmount()
  })
})

describe('the day view', () => {
  const day = dayClose({
    status: 'open',
    bill: billInfo({ summary_check: { ok: false, differences: ['汇总行收款 ¥1,272.56，明细合计 ¥1,234.56'] } }),
    ledger: totals(),
    wechat: totals({ payments_count: 43, payments_fen: 127256, fees_yuan: '7.51536', net_yuan: '1244.84464' }),
    discrepancies: [
      discrepancy(11, { status: 'explained', actions: [], resolution: '顾客付了现金', resolved_by: '王老板', resolved_at: '2024-03-05T03:00:00Z' }),
      discrepancy(12),
    ],
  })

  it('shows both sides’ totals exactly, the summary warning and the discrepancies open first', async () => {
    fake.handle('close_day', () => day)
    const w = await mountPage(DayPage, { path: '/close/2024-03-04' })
    await settle(w)

    expect(fake.argsOf('close_day')).toEqual([{ day: '2024-03-04' }])
    expect(byTestId('close-day-status')!.getAttribute('data-status')).toBe('open')
    expect(byTestId('close-ledger-payments-fen')!.getAttribute('data-fen')).toBe('123456')
    expect(byTestId('close-ledger-payments-fen')!.textContent).toBe('¥1,234.56')
    expect(byTestId('close-wechat-payments-fen')!.textContent).toBe('¥1,272.56')
    expect(byTestId('close-wechat-payments-count')!.getAttribute('data-count')).toBe('43')
    expect(byTestId('close-ledger-fees-yuan')!.textContent).toBe('¥7.28736')
    expect(byTestId('close-wechat-fees-yuan')!.getAttribute('data-yuan')).toBe('7.51536')
    expect(byTestId('close-diff-payments-fen')!.textContent!.trim()).toBe('+¥38.00')
    expect(byTestId('close-diff-refunds-fen')!.getAttribute('data-same')).toBe('true')

    const check = byTestId('close-summary-check')!
    expect(check.getAttribute('data-ok')).toBe('false')
    expect(check.textContent).toContain('汇总行收款 ¥1,272.56')

    const rows = [...document.querySelectorAll('[data-testid^="discrepancy-row-"]')].map((e) => e.getAttribute('data-testid'))
    expect(rows).toEqual(['discrepancy-row-12', 'discrepancy-row-11'])
    expect(byTestId('discrepancy-kind-12')!.textContent).toContain('账本里没有')
    expect(byTestId('discrepancy-status-12')!.getAttribute('data-status')).toBe('open')
    expect(byTestId('discrepancy-wechat-12')!.getAttribute('data-fen')).toBe('3800')
    for (const a of ['query', 'record_from_bill', 'propose_refund', 'explain']) expect(byTestId(`discrepancy-${a}-12`)).not.toBeNull()
    expect(byTestId('discrepancy-query-11')).toBeNull()
    expect(byTestId('discrepancy-resolution-11')!.textContent).toContain('顾客付了现金')
    w.unmount()
  })

  it('explains a discrepancy only with a note typed into the dialog', async () => {
    fake.handle('close_day', () => day)
    fake.handle('discrepancy_action', ({ id }) =>
      dayClose({ ...day, status: 'clean', discrepancies: [discrepancy(id, { status: 'explained', actions: [], resolution: '已核对' })] }),
    )
    const w = await mountPage(DayPage, { path: '/close/2024-03-04' })
    await settle(w)
    byTestId('discrepancy-explain-12')!.click()
    await settle(w)
    expect(byTestId('explain-dialog')).not.toBeNull()
    byTestId('explain-confirm')!.click()
    await settle(w)
    expect(fake.argsOf('discrepancy_action')).toHaveLength(0)
    expect(byTestId('explain-note-field')!.getAttribute('data-problem')).toBe('close.explain.noteRequired')
    expect(byTestId('explain-note-field')!.classList.contains('is-error')).toBe(true)

    const note = byTestId('explain-note') as HTMLTextAreaElement
    note.value = '已核对：顾客付了现金'
    note.dispatchEvent(new Event('input'))
    byTestId('explain-confirm')!.click()
    await settle(w)
    expect(fake.argsOf('discrepancy_action')).toEqual([{ id: 12, action: 'explain', note: '已核对：顾客付了现金' }])
    expect(byTestId('discrepancy-row-12')!.getAttribute('data-status')).toBe('explained')
    expect(byTestId('close-day-status')!.getAttribute('data-status')).toBe('clean')
    expect(byTestId('close-action-result')!.getAttribute('data-status')).toBe('explained')
    w.unmount()
  })

  it('shows “not yet” from fetching as a state', async () => {
    fake.handle('close_day', () => dayClose({ status: 'not_yet', bill: null, run: null, wechat: null }))
    fake.handle('bill_fetch', () => ({ outcome: 'not_yet', message: '微信还在生成账单（10 点后可下载）', day: null }))
    const w = await mountPage(DayPage, { path: '/close/2024-03-04' })
    await settle(w)
    expect(byTestId('close-no-bill')).not.toBeNull()
    expect(byTestId('close-wechat-payments-fen')!.textContent).toBe('—')

    byTestId('close-fetch')!.click()
    await settle(w)
    const result = byTestId('close-fetch-result')!
    expect(result.getAttribute('data-outcome')).toBe('not_yet')
    expect(result.textContent).toContain('微信还在生成账单')
    expect(byTestId('close-fetch-error')).toBeNull()
    w.unmount()
  })

  it('import → discrepancy shown → action → resolved, with the progress bar while importing', async () => {
    fake.handle('close_day', () => dayClose({ status: 'not_reconciled', bill: null, run: null, wechat: null }))
    let finishImport!: () => void
    fake.handle(
      'bill_import',
      () =>
        new Promise((resolve) => {
          finishImport = () => resolve({ outcome: 'imported', message: '已导入 43 行并对账', day: dayClose({ status: 'open', discrepancies: [discrepancy(12)] }) })
        }),
    )
    fake.handle('discrepancy_action', () =>
      dayClose({ status: 'clean', discrepancies: [discrepancy(12, { status: 'resolved', actions: [], resolution: '微信确认已支付，已记入账本' })] }),
    )
    const w = await mountPage(DayPage, { path: '/close/2024-03-04' })
    await useCloseStore().listen()
    await settle(w)
    expect(byTestId('close-progress')).toBeNull()

    const input = byTestId('close-import-path') as HTMLInputElement
    input.value = '/tmp/2024-03-04.csv.gz'
    input.dispatchEvent(new Event('input'))
    byTestId('close-import-submit')!.click()
    await settle(w)
    expect(byTestId('close-progress')!.getAttribute('data-indeterminate')).toBe('true')
    fake.emit('close-progress', { day: '2024-03-04', stage: 'reconcile', done: 20, total: 43 })
    await settle(w)
    const bar = byTestId('close-progress')!
    expect(bar.getAttribute('data-stage')).toBe('reconcile')
    expect(bar.getAttribute('data-done')).toBe('20')
    expect(bar.getAttribute('data-total')).toBe('43')
    expect(bar.getAttribute('data-indeterminate')).toBe('false')
    expect(byTestId('close-progress-label')!.textContent).toContain('20 / 43')

    finishImport()
    await settle(w)
    await settle(w)
    expect(byTestId('close-progress')).toBeNull()
    expect(byTestId('close-import-result')!.getAttribute('data-outcome')).toBe('imported')
    expect(byTestId('close-day-status')!.getAttribute('data-status')).toBe('open')
    expect(byTestId('discrepancy-row-12')!.getAttribute('data-status')).toBe('open')

    byTestId('discrepancy-query-12')!.click()
    await settle(w)
    expect(fake.argsOf('bill_import')).toEqual([{ path: '/tmp/2024-03-04.csv.gz', day: '2024-03-04' }]) // this day's bill
    expect(fake.argsOf('discrepancy_action')).toEqual([{ id: 12, action: 'query', note: null }])
    expect(byTestId('discrepancy-row-12')!.getAttribute('data-status')).toBe('resolved')
    expect(byTestId('close-day-status')!.getAttribute('data-status')).toBe('clean')
    w.unmount()
  })

  it('asks before proposing a refund, naming the amount', async () => {
    fake.handle('close_day', () =>
      dayClose({ status: 'open', discrepancies: [discrepancy(13, { kind: 'amount_mismatch', ledger_value: 'SUCCESS', ledger_fen: 3500, wechat_fen: 3800 })] }),
    )
    const w = await mountPage(DayPage, { path: '/close/2024-03-04' })
    await settle(w)
    byTestId('discrepancy-propose_refund-13')!.click()
    await settle(w)
    expect(fake.argsOf('discrepancy_action')).toHaveLength(0)
    expect(byTestId('confirm-message')!.textContent).toContain('¥3.00')
    expect(byTestId('propose-refund-reason')).not.toBeNull()
    w.unmount()
  })

  it('staff see the day and “ask WeChat”, without fetch, import or the other actions', async () => {
    const pinia = createPinia()
    setActivePinia(pinia)
    useAppStore().setStatus(appStatus({ user: { name: '小李', role: 'staff' } }))
    fake.handle('close_day', () => dayClose({ status: 'open', discrepancies: [discrepancy(12)] }))
    const w = await mountPage(DayPage, { path: '/close/2024-03-04', pinia })
    await settle(w)
    expect(byTestId('close-staff-note')).not.toBeNull()
    for (const id of ['close-fetch', 'close-recon', 'close-import-path', 'discrepancy-explain-12', 'discrepancy-record_from_bill-12']) {
      expect(byTestId(id)).toBeNull()
    }
    expect(byTestId('discrepancy-query-12')).not.toBeNull()
    expect(byTestId('close-export-day')).not.toBeNull()
    w.unmount()
  })
})
