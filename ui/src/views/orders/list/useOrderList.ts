// The orders page's list: turn the filter bar into an OrderFilter (yuan text → fen exactly),
// fetch pages by keyset cursor ("load more"), and keep the rows fresh on `orders-changed`.
import { computed, onScopeDispose, ref, watch } from 'vue'
import type { BackendError, OrderDetail, OrderFilter, OrderRow } from '@/backend'
import { normalizeError } from '@/backend'
import { getOrderDetail, listOrders } from '@/api/orders'
import { useOrdersStore, type OrderFilterForm } from '@/stores/orders'
import { parseYuan } from '@/utils/money'
import { addDays, todayBeijing } from '@/utils/time'

export const PAGE_SIZE = 50
/** At most this many changed rows are re-read one by one; more and the owner gets a banner. */
export const MAX_ROW_REFRESH = 20

export interface FilterProblem {
  field: 'minYuan' | 'maxYuan'
  /** full i18n key, e.g. money.too_precise */
  key: string
}

export type BuildResult = { ok: true; filter: OrderFilter } | { ok: false; problems: FilterProblem[] }

/** The filter bar → the contract's OrderFilter. Pure; amounts never go through a float. */
export function buildOrderFilter(form: OrderFilterForm): BuildResult {
  const problems: FilterProblem[] = []
  const amount = (field: 'minYuan' | 'maxYuan'): number | null => {
    const text = form[field].trim()
    if (!text) return null
    const r = parseYuan(text)
    if (r.ok) return r.fen
    problems.push({ field, key: `money.${r.error}` })
    return null
  }
  const min = amount('minYuan')
  const max = amount('maxYuan')
  if (min !== null && max !== null && min > max) problems.push({ field: 'maxYuan', key: 'orders.filters.rangeInvalid' })
  if (problems.length) return { ok: false, problems }

  let from = form.days?.[0] || null
  let to = form.days?.[1] || null
  if (from && to && from > to) [from, to] = [to, from] // "YYYY-MM-DD" compares as text
  const search = form.search.trim()
  return {
    ok: true,
    filter: {
      states: [...form.states],
      from_day: from,
      to_day: to,
      min_fen: min,
      max_fen: max,
      search: search === '' ? null : search,
    },
  }
}

/** The list fields of an order detail (to refresh one row in place). */
export function rowOf(order: OrderDetail['order']): OrderRow {
  return {
    out_trade_no: order.out_trade_no,
    transaction_id: order.transaction_id,
    state: order.state,
    total_fee_fen: order.total_fee_fen,
    refunded_fen: order.refunded_fen,
    description: order.description,
    created_at: order.created_at,
    paid_at: order.paid_at,
    flags: order.flags,
  }
}

export type DayPreset = 'today' | 'last7' | 'last30'

export function useOrderList(options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now
  const store = useOrdersStore()
  const form = store.form

  const rows = ref<OrderRow[]>([])
  const nextCursor = ref<string | null>(null)
  const applied = ref<OrderFilter | null>(null)
  const problems = ref<FilterProblem[]>([])
  const loading = ref(false)
  const loadingMore = ref(false)
  const loaded = ref(false)
  const error = ref<BackendError | null>(null)
  /** Orders the shell says changed that are not in the list (new payments, other pages). */
  const changedElsewhere = ref<string[]>([])

  const hasMore = computed(() => nextCursor.value !== null)

  // Each new search bumps the generation; answers to older requests are dropped.
  let generation = 0

  async function search(): Promise<boolean> {
    const built = buildOrderFilter(form)
    if (!built.ok) {
      problems.value = built.problems
      return false
    }
    problems.value = []
    applied.value = built.filter
    const mine = ++generation
    loading.value = true
    loadingMore.value = false
    try {
      const page = await listOrders(built.filter, null, PAGE_SIZE)
      if (mine !== generation) return false
      rows.value = page.items
      nextCursor.value = page.next_cursor
      changedElsewhere.value = []
      error.value = null
      loaded.value = true
      return true
    } catch (e) {
      if (mine === generation) error.value = normalizeError(e)
      return false
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  async function loadMore(): Promise<boolean> {
    if (!applied.value || nextCursor.value === null || loading.value || loadingMore.value) return false
    const mine = generation
    const cursor = nextCursor.value
    loadingMore.value = true
    try {
      const page = await listOrders(applied.value, cursor, PAGE_SIZE)
      if (mine !== generation) return false
      const seen = new Set(rows.value.map((r) => r.out_trade_no))
      rows.value = [...rows.value, ...page.items.filter((r) => !seen.has(r.out_trade_no))]
      nextCursor.value = page.next_cursor
      error.value = null
      return true
    } catch (e) {
      if (mine === generation) error.value = normalizeError(e)
      return false
    } finally {
      if (mine === generation) loadingMore.value = false
    }
  }

  function resetFilters(): Promise<boolean> {
    store.resetForm()
    return search()
  }

  function setDayPreset(preset: DayPreset): void {
    const today = todayBeijing(now())
    const back = preset === 'today' ? 0 : preset === 'last7' ? 6 : 29
    form.days = [addDays(today, -back), today]
  }

  /** Puts a fresh copy of one order into the list, if it is there. */
  function updateRow(row: OrderRow): void {
    const i = rows.value.findIndex((r) => r.out_trade_no === row.out_trade_no)
    if (i >= 0) rows.value.splice(i, 1, row)
  }

  async function applyChanges(outTradeNos: string[]): Promise<void> {
    const inList = new Set(rows.value.map((r) => r.out_trade_no))
    const here = outTradeNos.filter((n) => inList.has(n))
    const elsewhere = outTradeNos.filter((n) => !inList.has(n))
    if (elsewhere.length) changedElsewhere.value = [...new Set([...changedElsewhere.value, ...elsewhere])]
    const first = here.slice(0, MAX_ROW_REFRESH)
    const later = here.slice(MAX_ROW_REFRESH)
    if (later.length) changedElsewhere.value = [...new Set([...changedElsewhere.value, ...later])]
    const mine = generation
    for (const no of first) {
      try {
        const d = await getOrderDetail(no)
        if (mine !== generation) return
        updateRow(rowOf(d.order))
      } catch {
        // a row that cannot be re-read keeps its old values; the banner offers a full reload
        changedElsewhere.value = [...new Set([...changedElsewhere.value, no])]
      }
    }
  }

  const stop = watch(
    () => store.changeSeq,
    () => {
      if (loaded.value) void applyChanges(store.lastChanged)
    },
  )
  onScopeDispose(stop)

  return {
    form,
    rows,
    nextCursor,
    hasMore,
    applied,
    problems,
    loading,
    loadingMore,
    loaded,
    error,
    changedElsewhere,
    search,
    loadMore,
    resetFilters,
    setDayPreset,
    updateRow,
    applyChanges,
  }
}
