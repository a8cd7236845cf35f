import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import { REFUND_PHASES, type RefundPhase } from '@/backend'
import zhCN from '@/locales/zh-CN'
import en from '@/locales/en'
import { phaseText } from './phase'

const i18n = createI18n({ legacy: false, locale: 'zh-CN', messages: { 'zh-CN': zhCN, en }, missingWarn: false })
const say = (locale: 'zh-CN' | 'en', phase: RefundPhase, attempts = 2, max = 5) => {
  i18n.global.locale.value = locale
  const p = phaseText({ phase, attempts, max_attempts: max })
  return p.key ? i18n.global.t(p.key, p.params) : p.raw
}

describe('refund phase labels', () => {
  it('has words for every phase in both languages', () => {
    for (const phase of REFUND_PHASES) {
      for (const locale of ['zh-CN', 'en'] as const) {
        const text = say(locale, phase)
        expect(text, `${locale} ${phase}`).not.toMatch(/^refunds\.phase\./)
        expect(text.length).toBeGreaterThan(2)
      }
    }
  })

  it('says "refunded" only when WeChat said SUCCESS', () => {
    for (const phase of REFUND_PHASES) {
      const zh = say('zh-CN', phase)
      const english = say('en', phase).toLowerCase()
      if (phase === 'refunded') {
        expect(zh).toBe('已退款')
        expect(english).toBe('refunded')
      } else {
        expect(zh, phase).not.toContain('已退款')
        expect(zh, phase).not.toContain('退款成功')
        expect(english, phase).not.toContain('refunded')
      }
    }
  })

  it('says "not sent yet" for not_sent and never "processing" for it', () => {
    expect(say('en', 'not_sent')).toBe('Not sent yet')
    expect(say('zh-CN', 'not_sent')).toBe('尚未发送')
    expect(say('en', 'not_sent').toLowerCase()).not.toContain('process')
  })

  it('shows how far the automatic retries are', () => {
    expect(say('zh-CN', 'retrying', 2, 5)).toBe('发送失败，正在自动重试（已尝试 2/5 次）')
    expect(say('en', 'retrying', 3, 5)).toBe('Send failed, retrying automatically (attempt 3 of 5)')
    expect(phaseText({ phase: 'retrying' }).key).toBe('refunds.phase.retryingShort')
  })

  it('shows a phase this UI does not know as it comes', () => {
    const p = phaseText({ phase: 'escalated' as RefundPhase })
    expect(p).toMatchObject({ key: null, raw: 'escalated', tone: 'info' })
  })

  it('colours phases that need the owner loudly', () => {
    expect(phaseText({ phase: 'needs_owner' }).tone).toBe('danger')
    expect(phaseText({ phase: 'refunded' }).tone).toBe('success')
    expect(phaseText({ phase: 'done_outside' }).tone).not.toBe('success')
  })
})
