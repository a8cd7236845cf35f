// Refunds: the change feed from `refunds-changed` (lists and the open order refresh from it), the
// number of PENDING applications (the sidebar badge), and `applications-new` (the layout shows a
// notification for each batch).
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ApplicationRow } from '@/backend'
import { listApplications, onApplicationsNew, onRefundsChanged } from '@/api/refunds'
import { useAppStore } from './app'

export const useRefundsStore = defineStore('refunds', () => {
  /** Increases on every `refunds-changed`; `lastChanged` holds that event's refund numbers. */
  const changeSeq = ref(0)
  const lastChanged = ref<string[]>([])
  /** PENDING applications; null until first read. */
  const pendingCount = ref<number | null>(null)
  /** Increases on every `applications-new`; `lastNew` holds that event's applications. */
  const newSeq = ref(0)
  const lastNew = ref<ApplicationRow[]>([])

  let pendingGeneration = 0

  function noteChanged(outRefundNos: string[]): void {
    lastChanged.value = outRefundNos
    changeSeq.value++
  }

  /** The queue's own PENDING read is the freshest count there is. */
  function setPendingCount(n: number): void {
    pendingGeneration++
    pendingCount.value = n
  }

  /** Re-reads the PENDING count (only while unlocked; failures keep the last count). */
  async function refreshPending(): Promise<void> {
    if (useAppStore().vault !== 'unlocked') return
    const mine = ++pendingGeneration
    try {
      const rows = await listApplications('PENDING')
      if (mine === pendingGeneration) pendingCount.value = rows.length
    } catch {
      // the badge keeps its last value; the queue page shows errors
    }
  }

  function noteNew(applications: ApplicationRow[]): void {
    lastNew.value = applications
    newSeq.value++
    void refreshPending()
  }

  async function listen(): Promise<void> {
    await onRefundsChanged((p) => {
      noteChanged(p.out_refund_nos)
      void refreshPending()
    })
    await onApplicationsNew((p) => noteNew(p.applications))
  }

  return {
    changeSeq,
    lastChanged,
    pendingCount,
    newSeq,
    lastNew,
    noteChanged,
    setPendingCount,
    refreshPending,
    noteNew,
    listen,
  }
})
