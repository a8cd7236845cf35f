// The daily close calendar: one month of Beijing days with each day's close status, opening on
// yesterday's month (the morning question is about yesterday), yesterday's answer on top, and
// 30 days of takings and refunds for the chart.
import { computed, ref } from 'vue'
import type { BackendError, CloseChartDay, CloseDay } from '@/backend'
import { normalizeError } from '@/backend'
import { getCloseCalendar, getCloseChart } from '@/api/close'
import { sumFen } from '@/utils/money'
import { addMonths, daysOfMonth, isMonth, monthOf, todayBeijing, weekdayMondayFirst, yesterdayBeijing } from '@/utils/time'

export const CHART_DAYS = 30

export interface CalendarCell {
  day: string
  /** the shell's answer for the day (null until loaded, or if it left the day out) */
  info: CloseDay | null
  isYesterday: boolean
  isToday: boolean
  /** after today: nothing to close yet */
  isFuture: boolean
}

export function useCloseCalendar(options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now
  const today = ref(todayBeijing(now()))
  const yesterday = ref(yesterdayBeijing(now()))

  const month = ref(monthOf(yesterday.value))
  const days = ref<CloseDay[]>([])
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<BackendError | null>(null)
  /** yesterday's close, whichever month is shown */
  const yesterdayInfo = ref<CloseDay | null>(null)

  const chart = ref<CloseChartDay[]>([])
  const chartLoading = ref(false)
  const chartError = ref<BackendError | null>(null)

  let generation = 0

  function noteYesterday(list: CloseDay[]): void {
    const y = list.find((d) => d.day === yesterday.value)
    if (y) yesterdayInfo.value = y
  }

  /** The shown month's days. */
  async function load(): Promise<boolean> {
    const mine = ++generation
    const m = month.value
    loading.value = true
    try {
      const list = await getCloseCalendar(m)
      noteYesterday(list)
      if (mine !== generation) return false
      days.value = list
      loaded.value = true
      error.value = null
      return true
    } catch (e) {
      if (mine === generation) error.value = normalizeError(e)
      return false
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  /** Yesterday's close when another month is shown (the banner always answers for yesterday). */
  async function loadYesterday(): Promise<void> {
    if (monthOf(yesterday.value) === month.value) return
    try {
      noteYesterday(await getCloseCalendar(monthOf(yesterday.value)))
    } catch {
      // the banner waits; the calendar shows its own errors
    }
  }

  async function loadChart(): Promise<void> {
    chartLoading.value = true
    try {
      chart.value = await getCloseChart(CHART_DAYS)
      chartError.value = null
    } catch (e) {
      chartError.value = normalizeError(e)
    } finally {
      chartLoading.value = false
    }
  }

  /** What the page does when it opens (optionally on a month from the address). */
  async function open(initialMonth?: string | null): Promise<void> {
    today.value = todayBeijing(now())
    yesterday.value = yesterdayBeijing(now())
    month.value = initialMonth && isMonth(initialMonth) && initialMonth <= monthOf(today.value) ? initialMonth : monthOf(yesterday.value)
    await Promise.all([load(), loadYesterday(), loadChart()])
  }

  const canNext = computed(() => month.value < monthOf(today.value))

  function setMonth(m: string): Promise<boolean> {
    if (!isMonth(m) || m > monthOf(today.value)) return Promise.resolve(false)
    month.value = m
    days.value = []
    loaded.value = false
    return load()
  }
  const prevMonth = () => setMonth(addMonths(month.value, -1))
  const nextMonth = () => setMonth(addMonths(month.value, 1))
  const yesterdayMonth = () => setMonth(monthOf(yesterday.value))

  /** Weeks of seven cells, Monday first; null pads the first and last week. */
  const weeks = computed<(CalendarCell | null)[][]>(() => {
    const byDay = new Map(days.value.map((d) => [d.day, d]))
    const all = daysOfMonth(month.value)
    const cells: (CalendarCell | null)[] = Array.from({ length: weekdayMondayFirst(all[0]!) }, () => null)
    for (const day of all) {
      cells.push({
        day,
        info: byDay.get(day) ?? null,
        isYesterday: day === yesterday.value,
        isToday: day === today.value,
        isFuture: day > today.value,
      })
    }
    while (cells.length % 7) cells.push(null)
    const out: (CalendarCell | null)[][] = []
    for (let i = 0; i < cells.length; i += 7) out.push(cells.slice(i, i + 7))
    return out
  })

  /** The month's takings and refunds (exact, BigInt) and how many days need the owner. */
  const monthSummary = computed(() => ({
    takingsFen: sumFen(days.value.map((d) => d.takings_fen)),
    refundsFen: sumFen(days.value.map((d) => d.refunds_fen)),
    openDays: days.value.filter((d) => d.status === 'open').length,
    openDiscrepancies: days.value.reduce((n, d) => n + d.open_discrepancies, 0),
    notReconciledDays: days.value.filter((d) => d.status === 'not_reconciled').length,
  }))

  return {
    today,
    yesterday,
    month,
    days,
    loading,
    loaded,
    error,
    yesterdayInfo,
    chart,
    chartLoading,
    chartError,
    canNext,
    weeks,
    monthSummary,
    open,
    load,
    loadChart,
    setMonth,
    prevMonth,
    nextMonth,
    yesterdayMonth,
  }
}
