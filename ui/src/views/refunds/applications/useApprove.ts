// The approve dialog: the amount (typed yuan → exact fen, 1 fen … the application's amount), the
// description the customer sees (≤ 80 characters), the guards `refund_approve` will apply (asked
// again whenever the amount changes), and the owner's password when the amount needs it.
// Every failure keeps the dialog open with the shell's message.
import { computed, onScopeDispose, reactive, ref, watch } from 'vue'
import type { ApplicationRow, BackendError, GuardCheck, RefundView } from '@/backend'
import { normalizeError } from '@/backend'
import { approveRefund, checkRefundGuards } from '@/api/refunds'
import { useAppStore } from '@/stores/app'
import { fenToYuanText, formatFen, parseYuan } from '@/utils/money'

/** WeChat shows refund_desc to the customer; the contract allows 80 characters. */
export const REFUND_DESC_MAX = 80
/** Guards are asked again this long after the owner stops typing an amount. */
export const GUARD_DEBOUNCE_MS = 300

export type AmountCheck =
  | { ok: true; fen: number }
  | { ok: false; key: string; params?: Record<string, string> }

/** Typed yuan → fen for a refund of 1 fen … maxFen. Pure; never goes through a float. */
export function parseRefundAmount(text: string, maxFen: number): AmountCheck {
  const r = parseYuan(text)
  if (!r.ok) return { ok: false, key: `money.${r.error}` }
  if (r.fen < 1) return { ok: false, key: 'refunds.amount.tooSmall' }
  if (r.fen > maxFen) return { ok: false, key: 'refunds.amount.tooLarge', params: { max: formatFen(maxFen) } }
  return { ok: true, fen: r.fen }
}

/** Characters as the owner counts them (an emoji is one), not UTF-16 code units. */
export function charCount(text: string): number {
  return [...text].length
}

export function useApprove(options: { debounceMs?: number } = {}) {
  const debounceMs = options.debounceMs ?? GUARD_DEBOUNCE_MS
  const app = useAppStore()

  const visible = ref(false)
  const application = ref<ApplicationRow | null>(null)
  const form = reactive({ amountYuan: '', desc: '', password: '' })

  const guards = ref<GuardCheck | null>(null)
  /** the amount (fen) `guards` answers for */
  const guardsFor = ref<number | null>(null)
  const checking = ref(false)
  const guardsError = ref<BackendError | null>(null)
  /** The shell answered `password_required`: ask for the password whatever the guards said. */
  const passwordAsked = ref(false)
  const submitting = ref(false)
  const error = ref<BackendError | null>(null)

  const amount = computed<AmountCheck | null>(() =>
    application.value ? parseRefundAmount(form.amountYuan, application.value.amount_fen) : null,
  )
  const amountProblem = computed(() => (amount.value && !amount.value.ok ? amount.value : null))
  const descLength = computed(() => charCount(form.desc.trim()))
  const descTooLong = computed(() => descLength.value > REFUND_DESC_MAX)

  /** The order's remainder, capped at the application's amount (what may be approved here). */
  const remainderFen = computed(() => {
    const a = application.value
    if (!a) return 0
    return Math.max(0, Math.min(a.amount_fen, a.order.remaining_fen))
  })

  /** The guard answer for the amount now in the box (null while it is being asked). */
  const currentGuards = computed(() => {
    const a = amount.value
    return a?.ok && guardsFor.value === a.fen ? guards.value : null
  })
  const blockedGuards = computed(() => currentGuards.value?.guards.filter((g) => !g.ok) ?? [])
  const needsPassword = computed(() => passwordAsked.value || (currentGuards.value?.needs_password ?? false))

  const canApprove = computed(
    () =>
      !app.isStaff &&
      amount.value?.ok === true &&
      !descTooLong.value &&
      currentGuards.value?.ok === true &&
      !checking.value &&
      !submitting.value &&
      (!needsPassword.value || form.password !== ''),
  )

  let generation = 0
  /** the amount of the latest guard request (asked or answered) */
  let requestedFen: number | null = null
  let timer: ReturnType<typeof setTimeout> | null = null

  function cancelTimer(): void {
    if (timer) clearTimeout(timer)
    timer = null
  }

  /** Asks the guards for the amount in the box now. */
  async function checkGuards(): Promise<void> {
    cancelTimer()
    const a = application.value
    const amt = amount.value
    if (!a || !amt?.ok) {
      generation++
      requestedFen = null
      checking.value = false
      return
    }
    const mine = ++generation
    requestedFen = amt.fen
    checking.value = true
    try {
      const g = await checkRefundGuards(a.id, amt.fen)
      if (mine !== generation) return
      guards.value = g
      guardsFor.value = amt.fen
      guardsError.value = null
    } catch (e) {
      if (mine !== generation) return
      guards.value = null
      guardsFor.value = null
      guardsError.value = normalizeError(e)
    } finally {
      if (mine === generation) checking.value = false
    }
  }

  const stop = watch(
    () => form.amountYuan,
    () => {
      if (!visible.value) return
      const amt = amount.value
      if (!amt?.ok) {
        cancelTimer()
        generation++ // an answer for an older amount must not show up as current
        requestedFen = null
        checking.value = false
        return
      }
      if (amt.fen === requestedFen) return
      cancelTimer()
      timer = setTimeout(() => void checkGuards(), debounceMs)
    },
  )
  onScopeDispose(() => {
    stop()
    cancelTimer()
  })

  /** Opens the dialog for one application, the amount prefilled with what was asked for. */
  function open(row: ApplicationRow): Promise<void> {
    application.value = row
    Object.assign(form, { amountYuan: fenToYuanText(row.amount_fen), desc: '', password: '' })
    guards.value = null
    guardsFor.value = null
    guardsError.value = null
    passwordAsked.value = false
    error.value = null
    visible.value = true
    return checkGuards()
  }

  function close(): void {
    visible.value = false
    cancelTimer()
    generation++
    checking.value = false
  }

  /** "Full remainder": the order's remainder, at most the application's amount. */
  function fillRemainder(): void {
    if (remainderFen.value > 0) form.amountYuan = fenToYuanText(remainderFen.value)
  }

  /** Approves; on success closes and returns what the shell knows about the refund. */
  async function submit(): Promise<RefundView | null> {
    const a = application.value
    const amt = amount.value
    if (!a || !amt?.ok || !canApprove.value) return null
    submitting.value = true
    error.value = null
    try {
      const view = await approveRefund({
        applicationId: a.id,
        amountFen: amt.fen,
        refundDesc: form.desc.trim() === '' ? null : form.desc.trim(),
        password: needsPassword.value ? form.password : null,
      })
      close()
      return view
    } catch (e) {
      const err = normalizeError(e)
      error.value = err
      if (err.code === 'password_required') passwordAsked.value = true
      if (err.code === 'refund_guard') void checkGuards() // show which guard says no now
      return null
    } finally {
      submitting.value = false
    }
  }

  return {
    visible,
    application,
    form,
    amount,
    amountProblem,
    descLength,
    descTooLong,
    remainderFen,
    guards: currentGuards,
    blockedGuards,
    checking,
    guardsError,
    needsPassword,
    canApprove,
    submitting,
    error,
    open,
    close,
    checkGuards,
    fillRemainder,
    submit,
  }
}
