// "New refund application" at the desk (owner or staff): out_trade_no, amount (yuan → fen
// exactly), reason. Also opened from the order drawer, prefilled with the order.
import { reactive, ref } from 'vue'
import type { ApplicationRow, BackendError } from '@/backend'
import { normalizeError } from '@/backend'
import { createApplication } from '@/api/refunds'
import { useRefundsStore } from '@/stores/refunds'
import { fenToYuanText, formatFen, parseYuan } from '@/utils/money'

/** WeChat's out_trade_no: at most 32 of digits, letters and _ - | * @ */
const OUT_TRADE_NO_RE = /^[0-9A-Za-z_\-|*@]{1,32}$/

export type NewApplicationField = 'outTradeNo' | 'amountYuan' | 'reason'
export interface NewApplicationProblem {
  field: NewApplicationField
  key: string
  params?: Record<string, string>
}

export interface NewApplicationPrefill {
  outTradeNo: string
  /** suggested amount (e.g. what is left on the order) */
  amountFen?: number | null
  /** upper bound when known (the order's total − refunded) */
  maxFen?: number | null
}

export function useNewApplication() {
  const refunds = useRefundsStore()
  const visible = ref(false)
  const form = reactive({ outTradeNo: '', amountYuan: '', reason: '' })
  const maxFen = ref<number | null>(null)
  const problems = ref<NewApplicationProblem[]>([])
  const submitting = ref(false)
  const error = ref<BackendError | null>(null)

  function open(prefill?: NewApplicationPrefill): void {
    Object.assign(form, {
      outTradeNo: prefill?.outTradeNo ?? '',
      amountYuan: prefill?.amountFen ? fenToYuanText(prefill.amountFen) : '',
      reason: '',
    })
    maxFen.value = prefill?.maxFen ?? null
    problems.value = []
    error.value = null
    visible.value = true
  }

  function validate(): { outTradeNo: string; amountFen: number; reason: string } | null {
    const out: NewApplicationProblem[] = []
    const no = form.outTradeNo.trim()
    if (!no) out.push({ field: 'outTradeNo', key: 'refunds.create.orderRequired' })
    else if (!OUT_TRADE_NO_RE.test(no)) out.push({ field: 'outTradeNo', key: 'refunds.create.orderFormat' })
    const r = parseYuan(form.amountYuan)
    let fen = 0
    if (!r.ok) out.push({ field: 'amountYuan', key: `money.${r.error}` })
    else if (r.fen < 1) out.push({ field: 'amountYuan', key: 'refunds.amount.tooSmall' })
    else if (maxFen.value !== null && r.fen > maxFen.value)
      out.push({ field: 'amountYuan', key: 'refunds.amount.tooLarge', params: { max: formatFen(maxFen.value) } })
    else fen = r.fen
    const reason = form.reason.trim()
    if (!reason) out.push({ field: 'reason', key: 'refunds.create.reasonRequired' })
    problems.value = out
    return out.length ? null : { outTradeNo: no, amountFen: fen, reason }
  }

  /** Registers the application; on success closes and returns it (the badge is refreshed). */
  async function submit(): Promise<ApplicationRow | null> {
    if (submitting.value) return null
    const v = validate()
    if (!v) return null
    submitting.value = true
    error.value = null
    try {
      const row = await createApplication(v.outTradeNo, v.amountFen, v.reason)
      visible.value = false
      void refunds.refreshPending()
      return row
    } catch (e) {
      error.value = normalizeError(e)
      return null
    } finally {
      submitting.value = false
    }
  }

  const problemOf = (field: NewApplicationField) => problems.value.find((p) => p.field === field) ?? null

  return { visible, form, maxFen, problems, submitting, error, open, submit, validate, problemOf }
}
