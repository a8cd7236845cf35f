// The two owner actions on a refund that need more than a click:
// - retry: says what will happen (same out_refund_no, same amount), sends, and when the shell
//   answers `password_required` asks for the owner's password in the same dialog;
// - mark done: the money reached the customer another way; a note is required (audited).
import { reactive, ref } from 'vue'
import type { BackendError, RefundView } from '@/backend'
import { normalizeError } from '@/backend'
import { markRefundDone, retryRefund } from '@/api/refunds'
import { useAppStore } from '@/stores/app'

export function useRetryDialog(onDone?: (v: RefundView) => void) {
  const app = useAppStore()
  const visible = ref(false)
  const refund = ref<RefundView | null>(null)
  const password = ref('')
  /** the shell said the amount needs the owner's password */
  const passwordAsked = ref(false)
  const problem = ref<string | null>(null)
  const submitting = ref(false)
  const error = ref<BackendError | null>(null)

  function open(v: RefundView): void {
    refund.value = v
    password.value = ''
    passwordAsked.value = false
    problem.value = null
    error.value = null
    visible.value = true
  }

  async function submit(): Promise<RefundView | null> {
    const v = refund.value
    if (!v || submitting.value || app.isStaff) return null
    if (passwordAsked.value && !password.value) {
      problem.value = 'refunds.password.required'
      return null
    }
    problem.value = null
    submitting.value = true
    error.value = null
    try {
      const next = await retryRefund(v.out_refund_no, passwordAsked.value ? password.value : null)
      visible.value = false
      onDone?.(next)
      return next
    } catch (e) {
      const err = normalizeError(e)
      error.value = err
      if (err.code === 'password_required') passwordAsked.value = true
      return null
    } finally {
      submitting.value = false
    }
  }

  return { visible, refund, password, passwordAsked, problem, submitting, error, open, submit }
}

export function useMarkDoneDialog(onDone?: (v: RefundView) => void) {
  const app = useAppStore()
  const visible = ref(false)
  const refund = ref<RefundView | null>(null)
  const form = reactive({ note: '' })
  const problem = ref<string | null>(null)
  const submitting = ref(false)
  const error = ref<BackendError | null>(null)

  function open(v: RefundView): void {
    refund.value = v
    form.note = ''
    problem.value = null
    error.value = null
    visible.value = true
  }

  async function submit(): Promise<RefundView | null> {
    const v = refund.value
    if (!v || submitting.value || app.isStaff) return null
    const note = form.note.trim()
    if (!note) {
      problem.value = 'refunds.markDone.noteRequired'
      return null
    }
    problem.value = null
    submitting.value = true
    error.value = null
    try {
      const next = await markRefundDone(v.out_refund_no, note)
      visible.value = false
      onDone?.(next)
      return next
    } catch (e) {
      error.value = normalizeError(e)
      return null
    } finally {
      submitting.value = false
    }
  }

  return { visible, refund, form, problem, submitting, error, open, submit }
}
