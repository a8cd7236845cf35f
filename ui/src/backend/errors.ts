// Normalizes whatever a rejected command produced into `{ code, message }`.
// The shell rejects with that shape already; a plain string (a Rust `Err(String)`), a JS Error
// (IPC failure) or anything else becomes `internal` with the best message we have.
import type { BackendError } from './contract'

export function isBackendError(e: unknown): e is BackendError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { message?: unknown }).message === 'string'
  )
}

export function normalizeError(e: unknown): BackendError {
  if (isBackendError(e)) return { code: e.code, message: e.message }
  if (typeof e === 'string') {
    try {
      const parsed: unknown = JSON.parse(e)
      if (isBackendError(parsed)) return { code: parsed.code, message: parsed.message }
    } catch {
      // not JSON: a plain sentence
    }
    return { code: 'internal', message: e }
  }
  if (e instanceof Error) return { code: 'internal', message: e.message || e.name }
  return { code: 'internal', message: String(e) }
}

/** Raised when the page runs in a plain browser (e.g. `npm run dev` without `tauri dev`). */
export const NO_BACKEND: BackendError = {
  code: 'no_backend',
  message: '未在 Paydesk 桌面程序中运行（not running inside the Paydesk desktop app）',
}
