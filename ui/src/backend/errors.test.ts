import { describe, expect, it } from 'vitest'
import { isBackendError, normalizeError } from './errors'

describe('normalizeError', () => {
  it('keeps { code, message } from the shell and drops anything else', () => {
    expect(normalizeError({ code: 'wrong_password', message: '密码不正确', extra: 1 })).toEqual({
      code: 'wrong_password',
      message: '密码不正确',
    })
  })
  it('reads a JSON string and wraps a plain one as internal', () => {
    expect(normalizeError('{"code":"not_found","message":"没有这笔订单"}')).toEqual({
      code: 'not_found',
      message: '没有这笔订单',
    })
    expect(normalizeError('boom')).toEqual({ code: 'internal', message: 'boom' })
  })
  it('wraps JS errors and odd values as internal', () => {
    expect(normalizeError(new TypeError('ipc down'))).toEqual({ code: 'internal', message: 'ipc down' })
    expect(normalizeError(42)).toEqual({ code: 'internal', message: '42' })
    expect(isBackendError({ code: 1, message: 'x' })).toBe(false)
  })
})
