// A read that can be asked for again before the last answer arrived (the filter changed, an event
// came): only the latest request's answer (or error) is kept; older ones are dropped when they land.
import { ref } from 'vue'
import type { BackendError } from '@/backend'
import { normalizeError } from '@/backend'

export function useLatestRead<T>(read: () => Promise<T>, take: (value: T) => void) {
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<BackendError | null>(null)
  let generation = 0

  /** Reads again; resolves true when this answer was taken. */
  async function load(): Promise<boolean> {
    const mine = ++generation
    loading.value = true
    try {
      const value = await read()
      if (mine !== generation) return false
      take(value)
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

  /** A fresher value arrived another way: any read still in flight is older than it. */
  function supersede(): void {
    generation++
    loaded.value = true
    loading.value = false
    error.value = null
  }

  return { loading, loaded, error, load, supersede }
}
