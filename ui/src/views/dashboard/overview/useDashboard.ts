// The overview's logic: load `dashboard`, and load it again (coalesced) whenever the shell says
// orders changed or a sync round finished.
import { computed, onScopeDispose, ref, watch } from 'vue'
import type { BackendError, Dashboard } from '@/backend'
import { normalizeError } from '@/backend'
import { getDashboard } from '@/api/dashboard'
import { useOrdersStore } from '@/stores/orders'
import { useSyncStore } from '@/stores/sync'

/** Events often come in bursts (a sync round touching many orders): refresh once after them. */
export const REFRESH_DEBOUNCE_MS = 400

export function useDashboard() {
  const data = ref<Dashboard | null>(null)
  const loading = ref(false)
  const error = ref<BackendError | null>(null)
  const orders = useOrdersStore()
  const sync = useSyncStore()

  let seq = 0
  async function refresh(): Promise<void> {
    const mine = ++seq
    loading.value = true
    try {
      const d = await getDashboard()
      if (mine !== seq) return
      data.value = d
      error.value = null
    } catch (e) {
      if (mine === seq) error.value = normalizeError(e)
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  let timer: ReturnType<typeof setTimeout> | null = null
  function scheduleRefresh(): void {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      void refresh()
    }, REFRESH_DEBOUNCE_MS)
  }
  watch([() => orders.changeSeq, () => sync.seq], scheduleRefresh)
  onScopeDispose(() => {
    if (timer) clearTimeout(timer)
  })

  /** The later of the dashboard's and the latest sync event's time. */
  const lastSyncAt = computed(() => {
    const a = data.value?.last_sync_at ?? null
    const b = sync.status?.last_sync_at ?? null
    if (!a) return b
    if (!b) return a
    return Date.parse(a) >= Date.parse(b) ? a : b
  })

  return { data, loading, error, lastSyncAt, refresh, scheduleRefresh }
}
