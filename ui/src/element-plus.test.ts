// The app registers Element Plus component by component (src/element-plus.ts): every <el-…> a
// template uses must be in that list, or it silently renders as an unknown element.
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const SRC = __dirname

function vueFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return vueFiles(path)
    return name.endsWith('.vue') ? [path] : []
  })
}

const pascal = (tag: string) => 'El' + tag.split('-').map((p) => p[0]!.toUpperCase() + p.slice(1)).join('')

describe('src/element-plus.ts', () => {
  it('registers every Element Plus component the templates use', () => {
    const registry = readFileSync(join(SRC, 'element-plus.ts'), 'utf8')
    const registered = new Set(registry.match(/\bEl[A-Z][A-Za-z]+/g))
    const used = new Map<string, string>()
    for (const file of vueFiles(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/<el-([a-z-]+)/g)) used.set(pascal(m[1]!), file.slice(SRC.length + 1))
    }
    expect(used.size).toBeGreaterThan(20)
    const missing = [...used].filter(([name]) => !registered.has(name)).map(([name, file]) => `${name} (${file})`)
    expect(missing).toEqual([])
    // and only those (ElLoading is the v-loading directive)
    const unused = [...registered].filter((name) => name !== 'ElLoading' && !used.has(name))
    expect(unused).toEqual([])
  })
})
