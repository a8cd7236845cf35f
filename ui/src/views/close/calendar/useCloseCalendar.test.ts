import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setBackend, type CloseDay } from '@/backend'
import { daysOfMonth } from '@/utils/time'
import { FakeBackend } from '../../../../tests/fakeBackend'
import { closeDay } from '../../../../tests/fixtures'
import { CHART_DAYS, useCloseCalendar } from './useCloseCalendar'

let fake: FakeBackend
beforeEach(() => {
  fake = new FakeBackend()
  setBackend(fake)
})
afterEach(() => setBackend(null))

// 2024-03-05 09:00 in Beijing: yesterday is Monday 2024-03-04
const NOW = () => Date.parse('2024-03-05T01:00:00Z')

function month(m: string, over: Record<string, Partial<CloseDay>> = {}): CloseDay[] {
  return daysOfMonth(m).map((d) =>
    closeDay(d, d > '2024-03-04' ? { status: 'not_yet', takings_fen: 0, refunds_fen: 0 } : (over[d] ?? {})),
  )
}

describe('useCloseCalendar', () => {
  it('opens on yesterday’s month, with the chart of 30 days', async () => {
    fake.handle('close_calendar', ({ month: m }) => month(m, { '2024-03-04': { status: 'open', open_discrepancies: 3 } }))
    fake.handle('close_chart', () => [])
    const c = useCloseCalendar({ now: NOW })
    await c.open()
    expect(fake.argsOf('close_calendar')).toEqual([{ month: '2024-03' }])
    expect(fake.argsOf('close_chart')).toEqual([{ days: CHART_DAYS }])
    expect(CHART_DAYS).toBe(30)
    expect(c.yesterday.value).toBe('2024-03-04')
    expect(c.yesterdayInfo.value?.status).toBe('open')
    expect(c.yesterdayInfo.value?.open_discrepancies).toBe(3)
    expect(c.canNext.value).toBe(false)
  })

  it('yesterday in the first days of a month is in the previous month', async () => {
    fake.handle('close_calendar', ({ month: m }) => month(m))
    fake.handle('close_chart', () => [])
    const c = useCloseCalendar({ now: () => Date.parse('2024-02-29T17:00:00Z') }) // 03-01 01:00 Beijing
    await c.open()
    expect(c.month.value).toBe('2024-02')
    expect(c.yesterday.value).toBe('2024-02-29')
    expect(c.canNext.value).toBe(true) // March has begun
  })

  it('lays the month out in weeks, Monday first, marking yesterday, today and the future', async () => {
    fake.handle('close_calendar', ({ month: m }) => month(m))
    fake.handle('close_chart', () => [])
    const c = useCloseCalendar({ now: NOW })
    await c.open()
    const weeks = c.weeks.value
    expect(weeks.every((w) => w.length === 7)).toBe(true)
    // 2024-03-01 is a Friday: four empty cells first
    expect(weeks[0]!.slice(0, 4)).toEqual([null, null, null, null])
    expect(weeks[0]![4]!.day).toBe('2024-03-01')
    const cells = weeks.flat().filter((x) => x !== null)
    expect(cells).toHaveLength(31)
    expect(cells.filter((x) => x.isYesterday).map((x) => x.day)).toEqual(['2024-03-04'])
    expect(cells.filter((x) => x.isToday).map((x) => x.day)).toEqual(['2024-03-05'])
    expect(cells.find((x) => x.day === '2024-03-06')!.isFuture).toBe(true)
    expect(cells.find((x) => x.day === '2024-03-04')!.info?.status).toBe('clean')
  })

  it('keeps each day’s status as the shell said it', async () => {
    fake.handle('close_calendar', ({ month: m }) =>
      month(m, {
        '2024-03-01': { status: 'clean' },
        '2024-03-02': { status: 'open', open_discrepancies: 2 },
        '2024-03-03': { status: 'no_bill', takings_fen: 0 },
        '2024-03-04': { status: 'not_reconciled' },
      }),
    )
    fake.handle('close_chart', () => [])
    const c = useCloseCalendar({ now: NOW })
    await c.open()
    const status = (d: string) => c.weeks.value.flat().find((x) => x?.day === d)?.info?.status
    expect(['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04', '2024-03-05'].map(status)).toEqual([
      'clean',
      'open',
      'no_bill',
      'not_reconciled',
      'not_yet',
    ])
    expect(c.monthSummary.value.openDays).toBe(1)
    expect(c.monthSummary.value.openDiscrepancies).toBe(2)
    expect(c.monthSummary.value.notReconciledDays).toBe(1)
  })

  it('sums the month exactly (BigInt), beyond what a float holds', async () => {
    fake.handle('close_calendar', () => [
      closeDay('2024-03-01', { takings_fen: 9007199254740991, refunds_fen: 1 }),
      closeDay('2024-03-02', { takings_fen: 2, refunds_fen: 1 }),
    ])
    fake.handle('close_chart', () => [])
    const c = useCloseCalendar({ now: NOW })
    await c.open()
    expect(c.monthSummary.value.takingsFen).toBe(9007199254740993n)
    expect(c.monthSummary.value.refundsFen).toBe(2n)
  })

  it('moves between months but not past the current one; yesterday is still answered', async () => {
    fake.handle('close_calendar', ({ month: m }) => month(m, { '2024-03-04': { status: 'open', open_discrepancies: 1 } }))
    fake.handle('close_chart', () => [])
    const c = useCloseCalendar({ now: NOW })
    await c.open('2024-01')
    expect(c.month.value).toBe('2024-01')
    // yesterday's month is read too, for the banner
    expect(fake.argsOf('close_calendar').map((a) => a.month).sort()).toEqual(['2024-01', '2024-03'])
    expect(c.yesterdayInfo.value?.status).toBe('open')
    await c.nextMonth()
    expect(c.month.value).toBe('2024-02')
    await c.nextMonth()
    await c.nextMonth()
    expect(c.month.value).toBe('2024-03')
    expect(await c.setMonth('2024-04')).toBe(false)
    await c.prevMonth()
    expect(c.month.value).toBe('2024-02')
    await c.yesterdayMonth()
    expect(c.month.value).toBe('2024-03')
  })

  it('ignores a month in the future or malformed from the address', async () => {
    fake.handle('close_calendar', ({ month: m }) => month(m))
    fake.handle('close_chart', () => [])
    const c = useCloseCalendar({ now: NOW })
    await c.open('2099-01')
    expect(c.month.value).toBe('2024-03')
    await c.open('2024-3')
    expect(c.month.value).toBe('2024-03')
  })

  it('shows a failing calendar and a failing chart separately', async () => {
    fake.handle('close_calendar', () => {
      throw { code: 'vault_locked', message: '请先解锁' }
    })
    fake.handle('close_chart', () => {
      throw { code: 'internal', message: '账本读取失败' }
    })
    const c = useCloseCalendar({ now: NOW })
    await c.open()
    expect(c.error.value?.code).toBe('vault_locked')
    expect(c.chartError.value?.message).toBe('账本读取失败')
    expect(c.loaded.value).toBe(false)
  })
})
