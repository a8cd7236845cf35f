// Every message key written out in the source exists in the locale files (the type already makes
// zh-CN and en have the same keys; templates are not type-checked, so this catches a typo there).
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import zhCN from './zh-CN'
import en from './en'

const SRC = join(__dirname, '..')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path)
    return /\.(vue|ts)$/.test(name) && !name.endsWith('.test.ts') ? [path] : []
  })
}

function lookup(messages: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), messages)
}

const TOP = new Set(Object.keys(zhCN))

describe('message keys in the source', () => {
  const found = new Map<string, string>()
  for (const file of files(SRC)) {
    if (file.includes(`${join('src', 'locales')}`)) continue
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/'([a-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+)'/g)) {
      const key = m[1]!
      if (TOP.has(key.split('.')[0]!)) found.set(key, file.slice(SRC.length + 1))
    }
  }

  it('finds keys to check', () => {
    expect(found.size).toBeGreaterThan(100)
  })

  it('each one is a message in zh-CN and en', () => {
    const missing = [...found.entries()]
      .filter(([key]) => typeof lookup(zhCN, key) !== 'string' || typeof lookup(en, key) !== 'string')
      .map(([key, file]) => `${key} (${file})`)
    expect(missing).toEqual([])
  })
})
