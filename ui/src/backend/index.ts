// Which Backend the app talks to: Tauri by default; tests install a fake with setBackend().
import type { Backend } from './backend'
import { createTauriBackend } from './tauri'

export type { Backend, FileDropEvent, Unlisten } from './backend'
export * from './contract'
export { isBackendError, normalizeError } from './errors'

let current: Backend | null = null

export function backend(): Backend {
  current ??= createTauriBackend()
  return current
}

/** For unit tests of composables (and a future browser preview): replace the backend. */
export function setBackend(b: Backend | null): void {
  current = b
}
