// The reject dialog: a reason is required (the shell keeps it with the decision).
import { ref } from 'vue'
import type { ApplicationRow, BackendError } from '@/backend'
import { normalizeError } from '@/backend'
import { rejectApplication } from '@/api/refunds'
import { useAppStore } from '@/stores/app'

export function useReject() {
  const app = useAppStore()
  const visible = ref(false)
  const application = ref<ApplicationRow | null>(null)
  const reason = ref('')
  /** i18n key of the form's problem */
  const problem = ref<string | null>(null)
  const submitting = ref(false)
  const error = ref<BackendError | null>(null)

  function open(row: ApplicationRow): void {
    application.value = row
    reason.value = ''
    problem.value = null
    error.value = null
    visible.value = true
  }

  /** Rejects; on success closes and returns the decided application. */
  async function submit(): Promise<ApplicationRow | null> {
    const a = application.value
    if (!a || submitting.value || app.isStaff) return null
    const text = reason.value.trim()
    if (!text) {
      problem.value = 'refunds.reject.reasonRequired'
      return null
    }
    problem.value = null
    submitting.value = true
    error.value = null
    try {
      const row = await rejectApplication(a.id, text)
      visible.value = false
      return row
    } catch (e) {
      error.value = normalizeError(e)
      return null
    } finally {
      submitting.value = false
    }
  }

  return { visible, application, reason, problem, submitting, error, open, submit }
}
