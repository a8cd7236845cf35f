import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import MoneyText from './MoneyText.vue'

describe('MoneyText', () => {
  it('shows fen as yuan and keeps the exact fen in data-fen', () => {
    const w = mount(MoneyText, { props: { fen: 123456 }, attrs: { 'data-testid': 'amount' } })
    expect(w.text()).toBe('¥1,234.56')
    expect(w.attributes('data-fen')).toBe('123456')
    expect(w.attributes('data-testid')).toBe('amount')
  })

  it('shows a placeholder for a missing amount and never rounds an unsafe one', () => {
    expect(mount(MoneyText, { props: { fen: null } }).text()).toBe('—')
    const bad = mount(MoneyText, { props: { fen: 2 ** 53 + 2 } })
    expect(bad.classes()).toContain('money-text--invalid')
    expect(bad.text()).toBe(String(2 ** 53 + 2))
  })

  it('marks refunds and other signed amounts', () => {
    expect(mount(MoneyText, { props: { fen: -500 } }).text()).toBe('-¥5.00')
    expect(mount(MoneyText, { props: { fen: 500, signed: true } }).text()).toBe('+¥5.00')
  })
})
