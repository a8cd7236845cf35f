// A refund's phase in plain words. The rule from the contract: never say "refunded" before WeChat
// said SUCCESS, never "processing" when nothing was accepted. The words live in the locale files
// under refunds.phase.*; this file picks the key, its parameters and the tag colour.
import { REFUND_PHASES, type RefundPhase, type RefundView } from '@/backend'

export type PhaseTone = 'success' | 'info' | 'warning' | 'danger' | 'primary'

export interface PhaseText {
  /** i18n key (refunds.phase.<phase>), or null for a phase this UI does not know yet */
  key: string | null
  params: Record<string, string | number>
  tone: PhaseTone
  /** the raw value, shown as is when key is null */
  raw: string
}

const TONE: Record<RefundPhase, PhaseTone> = {
  not_sent: 'info',
  retrying: 'warning',
  needs_owner: 'danger',
  processing: 'primary',
  refunded: 'success',
  closed: 'info',
  failed: 'danger',
  done_outside: 'info',
}

export function isKnownPhase(phase: string): phase is RefundPhase {
  return (REFUND_PHASES as readonly string[]).includes(phase)
}

/** `retrying` says how far the automatic retries are: attempt 2 of 5. */
export function phaseText(v: Pick<RefundView, 'phase'> & Partial<Pick<RefundView, 'attempts' | 'max_attempts'>>): PhaseText {
  const phase: string = v.phase
  if (!isKnownPhase(phase)) return { key: null, params: {}, tone: 'info', raw: phase }
  if (phase === 'retrying' && v.attempts !== undefined && v.max_attempts !== undefined) {
    return { key: 'refunds.phase.retrying', params: { attempts: v.attempts, max: v.max_attempts }, tone: TONE[phase], raw: phase }
  }
  // retrying without the counts (an application's short refund summary) uses the short form
  const key = phase === 'retrying' ? 'refunds.phase.retryingShort' : `refunds.phase.${phase}`
  return { key, params: {}, tone: TONE[phase], raw: phase }
}
