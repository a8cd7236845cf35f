// The daily close, what outlives one page of the area:
// - progress: the latest `close-progress` event, and the bill operations this desk started
//   (download, import, reconcile). While one runs, the bar shows (indeterminate until the shell
//   says a total); when the shell reports progress on its own (e.g. a scheduled fetch) the bar
//   shows it and goes away shortly after the events stop.
// - the last import (file picked, pasted or dropped): its outcome stays on screen when the import
//   moves the owner from the calendar to the bill's day;
// - `publishDay`: a day's close another part of the area produced (an import), for the day view.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { BackendError, BillFetch, CloseProgress, CloseStage, DayClose } from '@/backend'
import { onCloseProgress } from '@/api/close'

/** Progress the shell reports without this desk asking is cleared this long after the last event. */
export const PROGRESS_IDLE_MS = 4000

export interface ImportOutcome {
  path: string
  result: BillFetch | null
  error: BackendError | null
}

export const useCloseStore = defineStore('close', () => {
  const progress = ref<CloseProgress | null>(null)
  /** the stage of the operation this desk is running (null: none) */
  const runningStage = ref<CloseStage | null>(null)
  const running = computed(() => runningStage.value !== null)

  const imports = ref<ImportOutcome[]>([])
  const importing = ref(false)

  const latestDay = ref<DayClose | null>(null)
  const daySeq = ref(0)

  let idleTimer: ReturnType<typeof setTimeout> | null = null
  function clearIdle(): void {
    if (idleTimer) clearTimeout(idleTimer)
    idleTimer = null
  }

  function noteProgress(p: CloseProgress): void {
    progress.value = p
    clearIdle()
    if (!running.value) {
      idleTimer = setTimeout(() => {
        idleTimer = null
        if (!running.value) progress.value = null
      }, PROGRESS_IDLE_MS)
    }
  }

  /**
   * Runs one bill operation (one at a time: a second is refused with `busy`); the bar shows from
   * the start and goes away when it ends, whatever the outcome.
   */
  async function track<T>(stage: CloseStage, day: string | null, op: () => Promise<T>): Promise<T> {
    if (running.value) throw { code: 'busy', message: 'another bill operation is running' } satisfies BackendError
    clearIdle()
    runningStage.value = stage
    progress.value = { day: day ?? '', stage, done: 0, total: null }
    try {
      return await op()
    } finally {
      runningStage.value = null
      progress.value = null
    }
  }

  /** Whole percent, or null while the total is unknown (an indeterminate bar). */
  const percent = computed<number | null>(() => {
    const p = progress.value
    if (!p || p.total === null || p.total <= 0) return null
    return Math.max(0, Math.min(100, Math.floor((p.done * 100) / p.total)))
  })

  const visible = computed(() => running.value || progress.value !== null)

  function publishDay(d: DayClose): void {
    latestDay.value = d
    daySeq.value++
  }

  async function listen(): Promise<void> {
    await onCloseProgress(noteProgress)
  }

  return {
    progress,
    runningStage,
    running,
    percent,
    visible,
    imports,
    importing,
    latestDay,
    daySeq,
    noteProgress,
    track,
    publishDay,
    listen,
  }
})
