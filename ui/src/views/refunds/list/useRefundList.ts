// The refunds: active (not final, or waiting for the owner) or all (newest 200), refreshed on
// `refunds-changed` and `orders-changed`. Row buttons come from each refund's `actions`; staff
// only get "query now" (the shell refuses retry and mark-done with `forbidden`).
import { computed, onScopeDispose, reactive, ref, watch } from 'vue'
import type { BackendError, RefundAction, RefundView } from '@/backend'
import { normalizeError } from '@/backend'
import { useLatestRead } from '@/composables/useLatestRead'
import { listRefunds, queryRefundNow, type RefundScope } from '@/api/refunds'
import { useAppStore } from '@/stores/app'
import { useOrdersStore } from '@/stores/orders'
import { useRefundsStore } from '@/stores/refunds'

/** The owner-only actions. */
export const OWNER_ACTIONS: readonly RefundAction[] = ['retry', 'mark_done']

export function useRefundList() {
  const app = useAppStore()
  const orders = useOrdersStore()
  const refunds = useRefundsStore()

  const scope = ref<RefundScope>('active')
  const rows = ref<RefundView[]>([])
  /** per refund: the action running, and the last action's error */
  const busy = reactive<Record<string, RefundAction>>({})
  const actionErrors = reactive<Record<string, BackendError>>({})

  const { loading, loaded, error, load } = useLatestRead(
    () => listRefunds(scope.value),
    (next) => {
      rows.value = next
    },
  )


  function setScope(next: RefundScope): Promise<boolean> {
    scope.value = next
    return load()
  }

  /** The buttons a refund offers to the person signed in. */
  function actionsOf(v: RefundView): RefundAction[] {
    return app.isStaff ? v.actions.filter((a) => !OWNER_ACTIONS.includes(a)) : [...v.actions]
  }
  const isStaff = computed(() => app.isStaff)

  /** Puts a fresher view of one refund in place (an action's answer). */
  function updateRow(v: RefundView): void {
    rows.value = rows.value.map((r) => (r.out_refund_no === v.out_refund_no ? v : r))
  }

  /** "Query now": refundquery at WeChat; the row shows what it learned. */
  async function queryNow(outRefundNo: string): Promise<RefundView | null> {
    if (busy[outRefundNo]) return null
    busy[outRefundNo] = 'query'
    delete actionErrors[outRefundNo]
    try {
      const v = await queryRefundNow(outRefundNo)
      updateRow(v)
      return v
    } catch (e) {
      actionErrors[outRefundNo] = normalizeError(e)
      return null
    } finally {
      delete busy[outRefundNo]
    }
  }

  const stop = watch([() => refunds.changeSeq, () => orders.changeSeq], () => {
    if (loaded.value) void load()
  })
  onScopeDispose(stop)

  return { scope, rows, loading, loaded, error, busy, actionErrors, isStaff, load, setScope, actionsOf, updateRow, queryNow }
}
