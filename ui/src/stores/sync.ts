// Status sync: the latest SyncStatus, from `sync_status`, `sync_now` or the `sync-status` event.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { BackendError, SyncStatus } from '@/backend'
import { normalizeError } from '@/backend'
import { getSyncStatus, onSyncStatus, syncNow } from '@/api/sync'

export const useSyncStore = defineStore('sync', () => {
  const status = ref<SyncStatus | null>(null)
  const loading = ref(false)
  const syncing = ref(false)
  const error = ref<BackendError | null>(null)
  /** Increases whenever a new SyncStatus arrives (event or call). */
  const seq = ref(0)

  function set(next: SyncStatus): void {
    status.value = next
    seq.value++
  }

  async function refresh(): Promise<void> {
    loading.value = true
    try {
      set(await getSyncStatus())
      error.value = null
    } catch (e) {
      error.value = normalizeError(e)
    } finally {
      loading.value = false
    }
  }

  /** One sync round now; resolves when the shell has finished it. */
  async function runNow(): Promise<boolean> {
    syncing.value = true
    try {
      set(await syncNow())
      error.value = null
      return true
    } catch (e) {
      error.value = normalizeError(e)
      return false
    } finally {
      syncing.value = false
    }
  }

  async function listen(): Promise<void> {
    await onSyncStatus(set)
  }

  return { status, loading, syncing, error, seq, set, refresh, runNow, listen }
})
