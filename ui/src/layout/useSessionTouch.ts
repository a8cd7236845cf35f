// Tells the shell the owner is active (`session_touch`), so its idle lock counts from the last
// mouse or key use in the window — at most once every TOUCH_INTERVAL_MS, and only while unlocked.
import { onScopeDispose } from 'vue'
import { touchSession } from '@/api/app'
import { useAppStore } from '@/stores/app'

export const TOUCH_INTERVAL_MS = 30_000
export const ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel'] as const

export function useSessionTouch(options: { now?: () => number; target?: EventTarget } = {}) {
  const now = options.now ?? Date.now
  const target = options.target ?? globalThis.window
  const app = useAppStore()
  let last = Number.NEGATIVE_INFINITY

  function activity(): void {
    if (app.vault !== 'unlocked') return
    const at = now()
    if (at - last < TOUCH_INTERVAL_MS) return
    last = at
    // A failure only means the idle timer was not reset; `vault-locked` reports a real lock.
    void touchSession().catch(() => undefined)
  }

  for (const e of ACTIVITY_EVENTS) target?.addEventListener(e, activity, { passive: true })
  onScopeDispose(() => {
    for (const e of ACTIVITY_EVENTS) target?.removeEventListener(e, activity)
  })

  return { activity }
}
