// One day's close: both sides' totals, the bill and its summary check, the discrepancies with
// their actions, and the day's operations (fetch the bill, reconcile again, CSV export).
//
// - Fetching: `not_yet` ("Bill Creating", before 10:00) and `no_bill` ("No Bill Exist") are
//   outcomes shown as states with the shell's words, not errors.
// - Discrepancy actions go through the shell's normal flows: "query WeChat" runs at once;
//   "record the order from the bill" and "propose a refund" say what will happen and wait for a
//   confirmation; "mark explained" needs a note. Each answers the day, reconciled again.
import { computed, onScopeDispose, reactive, ref, watch } from 'vue'
import type {
  BackendError,
  BillFetch,
  BillFetchOutcome,
  CloseExport,
  CloseExportWhat,
  DayClose,
  DiscrepancyAction,
  DiscrepancyRow,
} from '@/backend'
import { normalizeError } from '@/backend'
import { useLatestRead } from '@/composables/useLatestRead'
import { actOnDiscrepancy, exportCloseCsv, fetchBill, getCloseDay, runRecon } from '@/api/close'
import { useAppStore } from '@/stores/app'
import { useCloseStore } from '@/stores/close'
import { useRefundsStore } from '@/stores/refunds'
import { needsAttention, sortDiscrepancies } from '../status'

/** Longest note for "mark explained" (audited). */
export const EXPLAIN_NOTE_MAX = 200

/** Actions that change the ledger or start a refund: confirmed first. */
export const CONFIRMED_ACTIONS: readonly DiscrepancyAction[] = ['record_from_bill', 'propose_refund']

/** What the staff login may do here (the shell refuses the rest with `forbidden`). */
export const STAFF_ACTIONS: readonly DiscrepancyAction[] = ['query']

/**
 * The amount a proposed refund will ask for, as decision 0009 words it: for an amount mismatch the
 * difference (only offered when WeChat has more), otherwise what WeChat took. Exact (BigInt).
 */
export function proposedRefundFen(row: DiscrepancyRow): bigint | null {
  if (row.wechat_fen === null) return null
  if (row.kind === 'amount_mismatch') return row.ledger_fen === null ? null : BigInt(row.wechat_fen) - BigInt(row.ledger_fen)
  return BigInt(row.wechat_fen)
}

/** What the last toolbar operation said (one at a time on screen). */
export type DayNotice =
  | { op: 'fetch'; outcome: BillFetchOutcome; message: string }
  | { op: 'recon'; matched: number; open: number }
  | { op: 'export'; what: CloseExportWhat; path: string; rows: number }

export type DayOp = 'fetch' | 'recon' | 'export-day' | 'export-discrepancies'

export function useDayClose(initialDay: string) {
  const app = useAppStore()
  const close = useCloseStore()
  const refunds = useRefundsStore()

  const day = ref(initialDay)
  const data = ref<DayClose | null>(null)
  const { loading, loaded, error, load, supersede } = useLatestRead(
    () => getCloseDay(day.value),
    (d) => {
      data.value = d
    },
  )

  const op = ref<DayOp | null>(null)
  const notice = ref<DayNotice | null>(null)
  const opError = ref<{ op: DayOp; error: BackendError } | null>(null)

  /** per discrepancy: the action running, and the last action's error */
  const busy = reactive<Record<number, DiscrepancyAction>>({})
  const actionErrors = reactive<Record<number, BackendError>>({})
  /** the last action that went through: which row, and what it is now */
  const lastAction = ref<{ id: number; action: DiscrepancyAction; status: string | null } | null>(null)

  /** Takes a fresher close of the shown day (an answer, or an import elsewhere in the area). */
  function apply(d: DayClose): boolean {
    if (d.day !== day.value) return false
    supersede() // a read still in flight is older than this
    data.value = d
    return true
  }

  /** Another day (the page's address changed): forget this one's state and read that one. */
  function setDay(next: string): Promise<boolean> {
    if (next !== day.value) {
      day.value = next
      data.value = null
      loaded.value = false
      notice.value = null
      opError.value = null
      lastAction.value = null
      for (const k of Object.keys(busy)) delete busy[Number(k)]
      for (const k of Object.keys(actionErrors)) delete actionErrors[Number(k)]
    }
    return load()
  }

  // An import made elsewhere in the area (the drop zone, the calendar) answered this day.
  const stop = watch(
    () => close.daySeq,
    () => {
      if (close.latestDay) apply(close.latestDay)
    },
  )
  onScopeDispose(stop)

  /** Staff read the day and may ask WeChat; fetching, importing, reconciling and the other actions are the owner's. */
  const isStaff = computed(() => app.isStaff)
  function actionsOf(row: DiscrepancyRow): DiscrepancyAction[] {
    return isStaff.value ? row.actions.filter((a) => STAFF_ACTIONS.includes(a)) : [...row.actions]
  }

  /** A toolbar operation: one at a time, and none while a bill is being imported. */
  const blocked = computed(() => op.value !== null || close.running || close.importing)

  async function runOp<T>(which: DayOp, fn: () => Promise<T>): Promise<T | null> {
    if (op.value !== null) return null
    op.value = which
    opError.value = null
    try {
      return await fn()
    } catch (e) {
      opError.value = { op: which, error: normalizeError(e) }
      return null
    } finally {
      op.value = null
    }
  }

  /** downloadbill for the day; not_yet / no_bill come back as outcomes with the shell's words. */
  async function fetch(): Promise<BillFetch | null> {
    if (blocked.value || isStaff.value) return null
    const which = day.value
    const r = await runOp('fetch', () => close.track('download', which, () => fetchBill(which)))
    if (!r) return null
    if (which !== day.value) return r
    notice.value = { op: 'fetch', outcome: r.outcome, message: r.message }
    if (r.day) {
      apply(r.day)
      close.publishDay(r.day)
    } else {
      void load() // the day's status may have changed (not_yet / no_bill)
    }
    return r
  }

  /** Reconciles the day again against its newest bill. */
  async function reconcile(): Promise<DayClose | null> {
    if (blocked.value || isStaff.value) return null
    const which = day.value
    const d = await runOp('recon', () => close.track('reconcile', which, () => runRecon(which)))
    if (!d || !apply(d)) return d
    notice.value = { op: 'recon', matched: d.run?.matched ?? 0, open: d.discrepancies.filter(needsAttention).length }
    return d
  }

  async function exportCsv(what: CloseExportWhat): Promise<CloseExport | null> {
    const which = day.value
    const r = await runOp(what === 'day' ? 'export-day' : 'export-discrepancies', () => exportCloseCsv(which, what))
    if (r && which === day.value) notice.value = { op: 'export', what, path: r.path, rows: r.rows }
    return r
  }

  /** Runs one action now (confirmations and the note are asked before this). */
  async function act(id: number, action: DiscrepancyAction, note: string | null = null): Promise<DayClose | null> {
    if (busy[id]) return null
    busy[id] = action
    delete actionErrors[id]
    try {
      const d = await actOnDiscrepancy(id, action, note)
      apply(d)
      lastAction.value = { id, action, status: d.discrepancies.find((r) => r.id === id)?.status ?? null }
      if (action === 'propose_refund') void refunds.refreshPending()
      return d
    } catch (e) {
      actionErrors[id] = normalizeError(e)
      return null
    } finally {
      delete busy[id]
    }
  }

  // ---- confirm (record from bill, propose refund) ----
  const confirm = reactive<{
    visible: boolean
    row: DiscrepancyRow | null
    action: DiscrepancyAction | null
    /** propose_refund: the application's reason (optional; the shell words one when empty) */
    note: string
    running: boolean
  }>({
    visible: false,
    row: null,
    action: null,
    note: '',
    running: false,
  })

  // ---- explain (a note is required) ----
  const explain = reactive<{ visible: boolean; row: DiscrepancyRow | null; note: string; problem: string | null; running: boolean; error: BackendError | null }>({
    visible: false,
    row: null,
    note: '',
    problem: null,
    running: false,
    error: null,
  })

  /** A button was clicked: run it, or ask first. */
  async function request(row: DiscrepancyRow, action: DiscrepancyAction): Promise<DayClose | null> {
    if (busy[row.id] || !actionsOf(row).includes(action)) return null
    if (action === 'explain') {
      explain.row = row
      explain.note = ''
      explain.problem = null
      explain.error = null
      explain.visible = true
      return null
    }
    if (CONFIRMED_ACTIONS.includes(action)) {
      confirm.row = row
      confirm.action = action
      confirm.note = ''
      confirm.visible = true
      return null
    }
    return act(row.id, action)
  }

  async function confirmAction(): Promise<DayClose | null> {
    const { row, action } = confirm
    if (!row || !action || confirm.running) return null
    confirm.running = true
    const note = action === 'propose_refund' ? confirm.note.trim().slice(0, EXPLAIN_NOTE_MAX) : ''
    try {
      const d = await act(row.id, action, note || null)
      confirm.visible = false // on failure the row shows the error
      return d
    } finally {
      confirm.running = false
    }
  }

  async function submitExplain(): Promise<DayClose | null> {
    const row = explain.row
    if (!row || explain.running) return null
    const note = explain.note.trim()
    if (!note) {
      explain.problem = 'close.explain.noteRequired'
      return null
    }
    if ([...note].length > EXPLAIN_NOTE_MAX) {
      explain.problem = 'close.explain.noteTooLong'
      return null
    }
    explain.problem = null
    explain.running = true
    explain.error = null
    try {
      const d = await act(row.id, 'explain', note)
      if (d) explain.visible = false
      else explain.error = actionErrors[row.id] ?? null
      return d
    } finally {
      explain.running = false
    }
  }

  const discrepancies = computed(() => sortDiscrepancies(data.value?.discrepancies ?? []))
  /** Like the calendar's count: discrepancies that need a person (open, action pending); waiting ones do not count yet. */
  const openCount = computed(() => discrepancies.value.filter(needsAttention).length)

  return {
    day,
    data,
    loading,
    loaded,
    error,
    op,
    blocked,
    notice,
    opError,
    busy,
    actionErrors,
    lastAction,
    confirm,
    explain,
    discrepancies,
    openCount,
    isStaff,
    actionsOf,
    apply,
    load,
    setDay,
    fetch,
    reconcile,
    exportCsv,
    act,
    request,
    confirmAction,
    submitExplain,
  }
}
