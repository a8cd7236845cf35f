// Importing a bill exported from the merchant platform, three ways: the native "open file" dialog
// (bill_pick_file → bill_import), a path pasted into a small field, or files dragged from the
// desktop onto the window (Tauri's webview drag-drop, through api/ → backend/). Files are imported
// one after another. On a day's page the import is for that day (the shell refuses a bill whose rows
// are of another day, and a bill without rows can only be imported this way); elsewhere the shell
// reads the day from the rows (day: null). The outcomes are kept in the close store and stay on screen.
import { onScopeDispose, ref } from 'vue'
import type { BillFetch, FileDropEvent } from '@/backend'
import { normalizeError } from '@/backend'
import { importBill, onFileDrop, pickBillFile } from '@/api/close'
import { useCloseStore, type ImportOutcome } from '@/stores/close'

export interface BillImportOptions {
  /** called with every import the shell answered (imported, already_imported, no_bill, not_yet) */
  onImported?: (result: BillFetch) => void
  /** listen to files dropped onto the window while this scope lives (default true) */
  acceptDrops?: boolean
  /** the day the bill is for (a day's page), or null to read it from the rows */
  day?: () => string | null
}

export function useBillImport(options: BillImportOptions = {}) {
  const close = useCloseStore()
  /** what was typed into the path field */
  const path = ref('')
  /** an i18n key: why nothing was sent */
  const problem = ref<string | null>(null)
  /** files are being dragged over the window */
  const dragging = ref(false)
  const picking = ref(false)

  /** Imports the files in order; resolves to their outcomes (also kept in the store). */
  async function importPaths(paths: string[]): Promise<ImportOutcome[]> {
    const files = paths.map((p) => p.trim()).filter((p) => p !== '')
    if (!files.length) return []
    if (close.importing || close.running) {
      problem.value = 'close.import.busy'
      return []
    }
    problem.value = null
    close.importing = true
    close.imports = []
    const out: ImportOutcome[] = []
    try {
      for (const file of files) {
        let outcome: ImportOutcome
        try {
          const day = options.day?.() ?? null
          const result = await close.track('import', day, () => importBill(file, day))
          outcome = { path: file, result, error: null }
          if (result.day) close.publishDay(result.day)
          options.onImported?.(result)
        } catch (e) {
          outcome = { path: file, result: null, error: normalizeError(e) }
        }
        out.push(outcome)
        close.imports = [...out]
      }
    } finally {
      close.importing = false
    }
    return out
  }

  /** The path typed or pasted into the field. */
  async function importTyped(): Promise<ImportOutcome[]> {
    const p = path.value.trim()
    if (!p) {
      problem.value = 'close.import.pathRequired'
      return []
    }
    const out = await importPaths([p])
    if (out.length && out.every((o) => !o.error)) path.value = ''
    return out
  }

  /** The native dialog; cancelling it does nothing. */
  async function pickAndImport(): Promise<ImportOutcome[]> {
    if (picking.value || close.importing || close.running) return []
    picking.value = true
    let picked: string | null
    try {
      picked = await pickBillFile()
    } catch (e) {
      close.imports = [{ path: '', result: null, error: normalizeError(e) }]
      return []
    } finally {
      picking.value = false
    }
    if (picked === null) return []
    return importPaths([picked])
  }

  function onDrop(e: FileDropEvent): void {
    if (e.type === 'enter') dragging.value = true
    else if (e.type === 'leave') dragging.value = false
    else {
      dragging.value = false
      void importPaths(e.paths)
    }
  }

  if (options.acceptDrops !== false) {
    let unlisten: (() => void) | null = null
    let disposed = false
    void onFileDrop(onDrop)
      .then((u) => {
        if (disposed) u()
        else unlisten = u
      })
      .catch(() => undefined) // no drag and drop: the button and the path field still work
    onScopeDispose(() => {
      disposed = true
      unlisten?.()
    })
  }

  function clearOutcomes(): void {
    close.imports = []
  }

  return { path, problem, dragging, picking, importPaths, importTyped, pickAndImport, onDrop, clearOutcomes }
}
