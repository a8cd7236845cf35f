// The sync page: what is being watched, when it was last checked, and "sync now".
import { computed } from 'vue'
import { useSyncStore } from '@/stores/sync'

export function useSyncStatus() {
  const sync = useSyncStore()
  const watched = computed(() => sync.status?.watched ?? [])
  /** A round is running: started here ("sync now") or by the shell's own schedule. */
  const busy = computed(() => sync.syncing || (sync.status?.running ?? false))

  return {
    status: computed(() => sync.status),
    watched,
    busy,
    syncing: computed(() => sync.syncing),
    loading: computed(() => sync.loading),
    error: computed(() => sync.error),
    refresh: sync.refresh,
    syncNow: sync.runNow,
  }
}
