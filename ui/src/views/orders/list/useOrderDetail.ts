// The order drawer: load one order, "Query WeChat now", and "Close order" (NOTPAY only; the page
// asks for confirmation before calling close()).
import { computed, onScopeDispose, ref, watch } from 'vue'
import type { BackendError, OrderDetail, OrderRow } from '@/backend'
import { normalizeError } from '@/backend'
import { closeOrder, getOrderDetail, queryOrderNow } from '@/api/orders'
import { useOrdersStore } from '@/stores/orders'
import { useRefundsStore } from '@/stores/refunds'
import { toFenBigInt } from '@/utils/money'
import { rowOf } from './useOrderList'

export type OrderAction = 'query' | 'close'

/** Only paid orders have money that could go back (REFUND = paid, a refund was started). */
export const REFUNDABLE_STATES: readonly string[] = ['SUCCESS', 'REFUND']

export function useOrderDetail(onRowUpdated?: (row: OrderRow) => void) {
  const store = useOrdersStore()
  const refundsStore = useRefundsStore()
  const visible = ref(false)
  const outTradeNo = ref<string | null>(null)
  const detail = ref<OrderDetail | null>(null)
  const loading = ref(false)
  const error = ref<BackendError | null>(null)
  const action = ref<OrderAction | null>(null)
  const actionError = ref<BackendError | null>(null)

  let generation = 0

  async function load(): Promise<void> {
    const no = outTradeNo.value
    if (!no) return
    const mine = ++generation
    loading.value = true
    try {
      const d = await getOrderDetail(no)
      if (mine !== generation) return
      detail.value = d
      error.value = null
    } catch (e) {
      if (mine === generation) error.value = normalizeError(e)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  function open(no: string): Promise<void> {
    visible.value = true
    outTradeNo.value = no
    detail.value = null
    error.value = null
    actionError.value = null
    return load()
  }

  function hide(): void {
    visible.value = false
    generation++
  }

  const canClose = computed(() => detail.value?.order.state === 'NOTPAY' && action.value === null)

  /** total − refunded, exact (BigInt), for display only; null while the order is not paid. */
  const refundable = computed(() => {
    const o = detail.value?.order
    if (!o || !REFUNDABLE_STATES.includes(o.state)) return null
    const r = toFenBigInt(o.total_fee_fen) - toFenBigInt(o.refunded_fen)
    return r < 0n ? 0n : r
  })

  async function run(kind: OrderAction, call: (no: string) => Promise<OrderDetail>): Promise<OrderDetail | null> {
    const no = outTradeNo.value
    if (!no || action.value) return null
    action.value = kind
    actionError.value = null
    const mine = ++generation
    try {
      const d = await call(no)
      onRowUpdated?.(rowOf(d.order))
      if (mine === generation) detail.value = d
      return d
    } catch (e) {
      if (mine === generation) actionError.value = normalizeError(e)
      return null
    } finally {
      action.value = null
    }
  }

  /** Asks WeChat now (orderquery); the drawer shows what it learned. */
  const queryNow = () => run('query', queryOrderNow)

  /** Closes the order at WeChat. Only for NOTPAY; the caller has asked for confirmation. */
  function close(): Promise<OrderDetail | null> {
    if (detail.value?.order.state !== 'NOTPAY') return Promise.resolve(null)
    return run('close', closeOrder)
  }

  // Re-read the open order when the shell says it changed (not while an action is running:
  // the action's own answer is the fresher one).
  const stop = watch(
    () => store.changeSeq,
    () => {
      const no = outTradeNo.value
      if (visible.value && no && !action.value && store.lastChanged.includes(no)) void load()
    },
  )
  // `refunds-changed` names refunds, not orders: a new refund of the open order is not in its list
  // yet, so any refund change re-reads the open order (one call, only while the drawer is open).
  const stopRefunds = watch(
    () => refundsStore.changeSeq,
    () => {
      if (visible.value && outTradeNo.value && !action.value) void load()
    },
  )
  onScopeDispose(() => {
    stop()
    stopRefunds()
  })

  return { visible, outTradeNo, detail, loading, error, action, actionError, canClose, refundable, open, hide, load, queryNow, close }
}
