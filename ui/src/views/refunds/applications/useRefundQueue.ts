// The refund application queue: PENDING (oldest first) or ALL (newest first, at most 200). Kept
// fresh on `refunds-changed`, `orders-changed` (an order's money moved) and `applications-new`.
import { computed, onScopeDispose, ref, watch } from 'vue'
import type { ApplicationRow } from '@/backend'
import { useLatestRead } from '@/composables/useLatestRead'
import { listApplications, type ApplicationListStatus } from '@/api/refunds'
import { useAppStore } from '@/stores/app'
import { useOrdersStore } from '@/stores/orders'
import { useRefundsStore } from '@/stores/refunds'

export function useRefundQueue() {
  const app = useAppStore()
  const orders = useOrdersStore()
  const refunds = useRefundsStore()

  const status = ref<ApplicationListStatus>('PENDING')
  const rows = ref<ApplicationRow[]>([])

  /** Approve and reject are the owner's; staff only see the queue and add applications. */
  const canDecide = computed(() => !app.isStaff)

  /** Reads the list for the current status; only the latest answer is kept. */
  const { loading, loaded, error, load } = useLatestRead(
    () => {
      const which = status.value
      return listApplications(which).then((next) => ({ which, next }))
    },
    ({ which, next }) => {
      rows.value = next
      if (which === 'PENDING') refunds.setPendingCount(next.length)
    },
  )

  function setStatus(next: ApplicationListStatus): Promise<boolean> {
    status.value = next
    return load()
  }

  /** A decision was made here: show it at once, then read the list again. */
  function decided(row: ApplicationRow): Promise<boolean> {
    if (status.value === 'PENDING') rows.value = rows.value.filter((r) => r.id !== row.id)
    else rows.value = rows.value.map((r) => (r.id === row.id ? row : r))
    return load()
  }

  /** A new application was added at the desk. */
  function added(row: ApplicationRow): Promise<boolean> {
    if (!rows.value.some((r) => r.id === row.id)) {
      // PENDING is oldest first (the new one goes last); ALL is newest first
      rows.value = status.value === 'PENDING' ? [...rows.value, row] : [row, ...rows.value]
    }
    return load()
  }

  const stop = watch([() => refunds.changeSeq, () => orders.changeSeq, () => refunds.newSeq], () => {
    if (loaded.value) void load()
  })
  onScopeDispose(stop)

  return { status, rows, loading, loaded, error, canDecide, load, setStatus, decided, added }
}
