// The Tauri implementation of Backend: the only file in the UI that imports @tauri-apps/api.
import { invoke, isTauri } from '@tauri-apps/api/core'
import { listen } from '@tauri-apps/api/event'
import type { Backend, FileDropEvent } from './backend'
import { NO_BACKEND, normalizeError } from './errors'

export function createTauriBackend(): Backend {
  return {
    async call(command, ...args) {
      if (!isTauri()) throw { ...NO_BACKEND }
      try {
        // Argument keys are camelCase as the contract says; Tauri maps them to the Rust parameters.
        return await invoke(command, (args[0] ?? {}) as Record<string, unknown>)
      } catch (e) {
        throw normalizeError(e)
      }
    },
    async on(event, handler) {
      if (!isTauri()) return () => {}
      return listen<Parameters<typeof handler>[0]>(event, (e) => handler(e.payload))
    },
    async onFileDrop(handler) {
      if (!isTauri()) return () => {}
      // Loaded when a page first asks (only the daily close does), not at start-up.
      const { getCurrentWebview } = await import('@tauri-apps/api/webview')
      return getCurrentWebview().onDragDropEvent((e) => {
        const p = e.payload
        let out: FileDropEvent | null = null
        if (p.type === 'enter') out = { type: 'enter', paths: p.paths }
        else if (p.type === 'drop') out = { type: 'drop', paths: p.paths }
        else if (p.type === 'leave') out = { type: 'leave' }
        // 'over' only moves the cursor: nothing to show
        if (out) handler(out)
      })
    },
  }
}
