// The audit log: pages newest first ("load more" with next_before), the hash-chain check when the
// page opens (a broken chain is shown loudly, naming the entry), and the CSV export.
import { computed, ref } from 'vue'
import type { AuditExport, AuditRow, BackendError, ChainReport } from '@/backend'
import { normalizeError } from '@/backend'
import { exportAuditCsv, listAudit, verifyAudit } from '@/api/audit'

export const AUDIT_PAGE_SIZE = 50

/**
 * Indents the entry's detail (JSON text) for reading, working on the text itself: values are
 * never parsed, so an amount is shown exactly as it was recorded. Not JSON → returned as is.
 */
export function indentDetail(detail: string): string {
  const text = detail.trim()
  if (!text.startsWith('{') && !text.startsWith('[')) return detail
  let out = ''
  let depth = 0
  let inString = false
  let escaped = false
  const newline = () => '\n' + '  '.repeat(depth)
  for (const ch of text) {
    if (inString) {
      out += ch
      if (escaped) escaped = false
      else if (ch === '\\') escaped = true
      else if (ch === '"') inString = false
      continue
    }
    switch (ch) {
      case '"':
        inString = true
        out += ch
        break
      case '{':
      case '[':
        depth++
        out += ch + newline()
        break
      case '}':
      case ']':
        depth = Math.max(0, depth - 1)
        out += newline() + ch
        break
      case ',':
        out += ch + newline()
        break
      case ':':
        out += ': '
        break
      default:
        if (!/\s/.test(ch)) out += ch
    }
  }
  // "{\n}" for empty objects reads badly: put them back together
  return out.replace(/([{[])\n\s*([}\]])/g, '$1$2')
}

export function useAuditLog() {
  const entries = ref<AuditRow[]>([])
  const nextBefore = ref<number | null>(null)
  const loading = ref(false)
  const loadingMore = ref(false)
  const loaded = ref(false)
  const error = ref<BackendError | null>(null)

  const report = ref<ChainReport | null>(null)
  const verifying = ref(false)
  const verifyError = ref<BackendError | null>(null)

  const exporting = ref(false)
  const exported = ref<AuditExport | null>(null)
  const exportError = ref<BackendError | null>(null)

  const hasMore = computed(() => nextBefore.value !== null)
  const chainBroken = computed(() => report.value !== null && !report.value.ok)

  let generation = 0

  /** The newest page. */
  async function load(): Promise<boolean> {
    const mine = ++generation
    loading.value = true
    try {
      const page = await listAudit(null, AUDIT_PAGE_SIZE)
      if (mine !== generation) return false
      entries.value = page.entries
      nextBefore.value = page.next_before
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

  /** The next older page, before the oldest entry shown. */
  async function loadMore(): Promise<boolean> {
    const before = nextBefore.value
    if (before === null || loadingMore.value || loading.value) return false
    const mine = generation
    loadingMore.value = true
    try {
      const page = await listAudit(before, AUDIT_PAGE_SIZE)
      if (mine !== generation) return false
      const seen = new Set(entries.value.map((e) => e.seq))
      entries.value = [...entries.value, ...page.entries.filter((e) => !seen.has(e.seq))]
      nextBefore.value = page.next_before
      error.value = null
      return true
    } catch (e) {
      if (mine === generation) error.value = normalizeError(e)
      return false
    } finally {
      loadingMore.value = false
    }
  }

  /** Checks the whole chain. */
  async function verify(): Promise<ChainReport | null> {
    verifying.value = true
    try {
      const r = await verifyAudit()
      report.value = r
      verifyError.value = null
      return r
    } catch (e) {
      verifyError.value = normalizeError(e)
      return null
    } finally {
      verifying.value = false
    }
  }

  /** Writes the CSV to the Downloads folder; `exported` says where. */
  async function exportCsv(): Promise<AuditExport | null> {
    if (exporting.value) return null
    exporting.value = true
    exportError.value = null
    try {
      const r = await exportAuditCsv()
      exported.value = r
      return r
    } catch (e) {
      exportError.value = normalizeError(e)
      return null
    } finally {
      exporting.value = false
    }
  }

  /** What the page does when it opens: the newest entries and the chain check, side by side. */
  async function open(): Promise<void> {
    await Promise.all([load(), verify()])
  }

  return {
    entries,
    nextBefore,
    hasMore,
    loading,
    loadingMore,
    loaded,
    error,
    report,
    verifying,
    verifyError,
    chainBroken,
    exporting,
    exported,
    exportError,
    load,
    loadMore,
    verify,
    exportCsv,
    open,
  }
}
