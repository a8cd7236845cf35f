import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setBackend, type SetupCompleteArgs } from '@/backend'
import { FakeBackend } from '../../../../tests/fakeBackend'
import { appStatus, certificate, sandboxDefaults } from '../../../../tests/fixtures'
import { STEP_INDEX, useSetupWizard, type SetupWizard } from './useSetupWizard'

let fake: FakeBackend

beforeEach(() => {
  fake = new FakeBackend()
  setBackend(fake)
})
afterEach(() => setBackend(null))

const KEY32 = '192006250b4c09247ec02edce69f6a2d'

/** Fills every step with valid values (p12 certificate, local ledger). */
async function fillValid(w: SetupWizard): Promise<void> {
  Object.assign(w.form, {
    appid: 'wxd930ea5d5a258f4f',
    mchId: '10000100',
    signType: 'HMAC-SHA256',
    apiKey: KEY32,
    certKind: 'p12',
    p12Path: '/home/shop/cert/apiclient_cert.p12',
    ownerName: '王老板',
    ownerPassword: 'correct horse',
    ownerPassword2: 'correct horse',
  })
  fake.handle('setup_inspect_certificate', () => certificate())
  await w.inspect()
}

const keys = (w: SetupWizard) => w.shownProblems.value.map((p) => p.key)

describe('useSetupWizard: steps and validation', () => {
  it('starts on the merchant step and shows problems only after "Next"', () => {
    const w = useSetupWizard()
    expect(w.step.value).toBe(0)
    expect(w.shownProblems.value).toEqual([])
    expect(w.next()).toBe(false)
    expect(w.step.value).toBe(0)
    expect(keys(w)).toEqual(['appidRequired', 'mchIdRequired'])
  })

  it('checks the AppID and merchant ID against the protocol limits', () => {
    const w = useSetupWizard()
    w.form.appid = 'wx 123'
    w.form.mchId = '1900-000109'
    w.next()
    expect(keys(w)).toEqual(['appidFormat', 'mchIdFormat'])
    w.form.appid = 'x'.repeat(33)
    w.form.mchId = '1'.repeat(33)
    expect(keys(w)).toEqual(['appidFormat', 'mchIdFormat'])
    w.form.appid = ' wx2421b1c4370ec43b '
    w.form.mchId = '1900000109'
    expect(w.next()).toBe(true)
    expect(w.step.value).toBe(STEP_INDEX.apiKey)
  })

  it('wants a 32-character API key and says how long the typed one is', () => {
    const w = useSetupWizard()
    w.step.value = STEP_INDEX.apiKey
    w.form.apiKey = KEY32.slice(1)
    w.next()
    expect(w.shownProblems.value).toEqual([{ field: 'apiKey', key: 'apiKeyLength', params: { n: 31 } }])
    w.form.apiKey = `  ${KEY32}\n` // pasted with whitespace
    expect(w.next()).toBe(true)
  })

  it('needs the certificate inspected, and refuses an expired one or a wrong key', async () => {
    const w = useSetupWizard()
    w.form.mchId = '10000100'
    w.step.value = STEP_INDEX.certificate
    w.next()
    expect(keys(w)).toEqual(['p12PathRequired'])
    w.form.p12Path = '/c.p12'
    expect(keys(w)).toEqual(['inspectFirst'])

    fake.handle('setup_inspect_certificate', () =>
      certificate({
        days_until_expiry: -3,
        warnings: [
          { code: 'expired', message: '证书已于 3 天前过期' },
          { code: 'mch_id_not_in_subject', message: '证书主体中没有商户号 10000100' },
        ],
      }),
    )
    await w.inspect()
    expect(w.blockingWarnings.value.map((x) => x.code)).toEqual(['expired'])
    expect(keys(w)).toEqual(['certUnusable'])

    fake.handle('setup_inspect_certificate', () =>
      certificate({ days_until_expiry: 12, warnings: [{ code: 'expires_soon', message: '证书 12 天后过期' }] }),
    )
    await w.inspect()
    expect(w.blockingWarnings.value).toEqual([])
    expect(w.next()).toBe(true) // expiring soon is shown loudly but allowed
  })

  it('sends the .p12 password as null when left empty (the backend then uses the mch_id)', async () => {
    fake.handle('setup_inspect_certificate', () => certificate())
    const w = useSetupWizard()
    w.form.mchId = '10000100'
    w.form.p12Path = ' /c.p12 '
    await w.inspect()
    w.form.p12Password = 's3cret'
    await w.inspect()
    expect(fake.argsOf('setup_inspect_certificate')).toEqual([
      { source: { kind: 'p12', path: '/c.p12', password: null }, mchId: '10000100' },
      { source: { kind: 'p12', path: '/c.p12', password: 's3cret' }, mchId: '10000100' },
    ])
  })

  it('sends a PEM pair as cert_path + key_path, and needs both', async () => {
    fake.handle('setup_inspect_certificate', () => certificate())
    const w = useSetupWizard()
    w.form.mchId = '10000100'
    w.form.certKind = 'pem'
    w.form.certPath = '/apiclient_cert.pem'
    expect(await w.inspect()).toBeNull()
    expect(fake.calls).toHaveLength(0)
    w.form.keyPath = '/apiclient_key.pem'
    await w.inspect()
    expect(fake.argsOf('setup_inspect_certificate')[0]!.source).toEqual({
      kind: 'pem',
      cert_path: '/apiclient_cert.pem',
      key_path: '/apiclient_key.pem',
    })
  })

  it('forgets an inspection when the certificate inputs change', async () => {
    fake.handle('setup_inspect_certificate', () => certificate())
    const w = useSetupWizard()
    w.form.mchId = '10000100'
    w.form.p12Path = '/a.p12'
    await w.inspect()
    expect(w.certInfo.value).not.toBeNull()
    w.form.p12Path = '/b.p12'
    expect(w.certInfo.value).toBeNull()
    w.form.p12Path = '/a.p12'
    expect(w.certInfo.value).not.toBeNull()
  })

  it('shows a certificate that cannot be read as the backend says', async () => {
    fake.handle('setup_inspect_certificate', () => {
      throw { code: 'certificate', message: '证书密码不正确' }
    })
    const w = useSetupWizard()
    w.form.p12Path = '/a.p12'
    expect(await w.inspect()).toBeNull()
    expect(w.certError.value).toEqual({ code: 'certificate', message: '证书密码不正确' })
  })

  it('lets the owner skip the certificate', () => {
    const w = useSetupWizard()
    w.step.value = STEP_INDEX.certificate
    w.form.certKind = 'none'
    expect(w.next()).toBe(true)
    expect(w.certSource()).toBeNull()
  })

  it('checks a PostgreSQL URL only when PostgreSQL is chosen', () => {
    const w = useSetupWizard()
    w.step.value = STEP_INDEX.ledger
    expect(w.next()).toBe(true)
    w.step.value = STEP_INDEX.ledger
    w.form.ledgerKind = 'postgres'
    w.next()
    expect(keys(w)).toEqual(['postgresUrlRequired'])
    w.form.postgresUrl = 'mysql://x'
    expect(keys(w)).toEqual(['postgresUrlFormat'])
    w.form.postgresUrl = 'postgresql://paydesk:pw@db.local:5432/paydesk'
    expect(w.next()).toBe(true)
  })

  it('wants an owner name and the same password of at least 8 characters twice', () => {
    const w = useSetupWizard()
    w.step.value = STEP_INDEX.owner
    w.form.ownerPassword = 'short'
    w.next()
    expect(keys(w)).toEqual(['ownerNameRequired', 'passwordTooShort'])
    w.form.ownerName = '王老板'
    w.form.ownerPassword = 'long enough'
    w.form.ownerPassword2 = 'long enougH'
    expect(keys(w)).toEqual(['passwordMismatch'])
    w.form.ownerPassword2 = 'long enough'
    expect(w.problems.value).toEqual([])
  })

  it('goes back freely but forward only over complete steps', () => {
    const w = useSetupWizard()
    w.goTo(STEP_INDEX.owner)
    expect(w.step.value).toBe(0)
    w.form.appid = 'wx2421b1c4370ec43b'
    w.form.mchId = '1900000109'
    w.goTo(STEP_INDEX.apiKey)
    expect(w.step.value).toBe(STEP_INDEX.apiKey)
    w.goTo(STEP_INDEX.certificate) // API key still missing
    expect(w.step.value).toBe(STEP_INDEX.apiKey)
    w.goTo(0)
    expect(w.step.value).toBe(0)
  })
})

describe('useSetupWizard: sandbox', () => {
  it('fills everything from the simulator in one step and checks the certificate', async () => {
    fake.handle('setup_sandbox_defaults', () => sandboxDefaults)
    fake.handle('setup_inspect_certificate', () => certificate())
    const w = useSetupWizard()
    expect(await w.applySandbox()).toBe(true)
    expect(w.sandbox.value).toBe(true)
    expect(w.form).toMatchObject({
      appid: 'wx2421b1c4370ec43b',
      mchId: '1900000109',
      signType: 'MD5',
      apiKey: 'sandbox0key0for0paydesk0demo0001',
      certKind: 'p12',
      p12Path: sandboxDefaults.p12_path,
      p12Password: '',
    })
    expect(fake.argsOf('setup_inspect_certificate')).toEqual([
      { source: { kind: 'p12', path: sandboxDefaults.p12_path, password: null }, mchId: '1900000109' },
    ])
    expect(w.step.value).toBe(STEP_INDEX.connection)
    for (const i of [0, 1, 2]) expect(w.problemsFor(i)).toEqual([])
  })

  it('says so when no simulator is running, and changes nothing', async () => {
    fake.handle('setup_sandbox_defaults', () => {
      throw { code: 'not_found', message: '没有找到正在运行的微信支付模拟器' }
    })
    const w = useSetupWizard()
    expect(await w.applySandbox()).toBe(false)
    expect(w.sandboxError.value).toEqual({ code: 'not_found', message: '没有找到正在运行的微信支付模拟器' })
    expect(w.sandbox.value).toBe(false)
    expect(w.form.appid).toBe('')
    expect(w.step.value).toBe(0)
  })

  it('leaving sandbox mode starts over', async () => {
    fake.handle('setup_sandbox_defaults', () => sandboxDefaults)
    fake.handle('setup_inspect_certificate', () => certificate())
    const w = useSetupWizard()
    await w.applySandbox()
    w.leaveSandbox()
    expect(w.sandbox.value).toBe(false)
    expect(w.form.appid).toBe('')
    expect(w.certInfo.value).toBeNull()
    expect(w.step.value).toBe(0)
  })
})

describe('useSetupWizard: connection test and finish', () => {
  it('tests the connection with exactly what was entered, and forgets the result on edits', async () => {
    fake.handle('setup_test_connection', () => ({ ok: true, code: 'ok', message: '连接正常', elapsed_ms: 87 }))
    const w = useSetupWizard()
    await fillValid(w)
    const r = await w.runConnectionTest()
    expect(r?.ok).toBe(true)
    expect(fake.argsOf('setup_test_connection')).toEqual([
      {
        merchant: { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', sign_type: 'HMAC-SHA256' },
        apiKey: KEY32,
        source: { kind: 'p12', path: '/home/shop/cert/apiclient_cert.p12', password: null },
        sandbox: false,
      },
    ])
    expect(w.testResult.value?.message).toBe('连接正常')
    expect(w.finishNeedsConfirm.value).toBe(false)
    w.form.apiKey = KEY32.replace('1', '2')
    expect(w.testResult.value).toBeNull()
    expect(w.finishNeedsConfirm.value).toBe(true)
  })

  it('keeps a failed test result (plain words from the backend) and asks before finishing', async () => {
    fake.handle('setup_test_connection', () => ({
      ok: false,
      code: 'signature',
      message: 'API 密钥不正确：微信返回签名错误',
      elapsed_ms: 120,
    }))
    const w = useSetupWizard()
    await fillValid(w)
    await w.runConnectionTest()
    expect(w.testResult.value).toMatchObject({ ok: false, code: 'signature' })
    expect(w.finishNeedsConfirm.value).toBe(true)
  })

  it('shows a rejected test call as an error, not as a result', async () => {
    fake.handle('setup_test_connection', () => {
      throw { code: 'wechat_unreachable', message: '连不上微信' }
    })
    const w = useSetupWizard()
    await fillValid(w)
    expect(await w.runConnectionTest()).toBeNull()
    expect(w.testResult.value).toBeNull()
    expect(w.testError.value?.code).toBe('wechat_unreachable')
  })

  it('finishes with exactly the contract arguments (local ledger → ledgerUrl null)', async () => {
    fake.handle('setup_complete', () => appStatus())
    const w = useSetupWizard()
    await fillValid(w)
    const status = await w.finish()
    expect(status?.vault).toBe('unlocked')
    expect(fake.argsOf('setup_complete')).toEqual<SetupCompleteArgs[]>([
      {
        merchant: { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', sign_type: 'HMAC-SHA256' },
        apiKey: KEY32,
        source: { kind: 'p12', path: '/home/shop/cert/apiclient_cert.p12', password: null },
        sandbox: false,
        ledgerUrl: null,
        ownerName: '王老板',
        ownerPassword: 'correct horse',
      },
    ])
  })

  it('sends the PostgreSQL URL and the sandbox flag when chosen', async () => {
    fake.handle('setup_sandbox_defaults', () => sandboxDefaults)
    fake.handle('setup_inspect_certificate', () => certificate())
    fake.handle('setup_complete', () => appStatus())
    const w = useSetupWizard()
    await w.applySandbox()
    Object.assign(w.form, {
      ledgerKind: 'postgres',
      postgresUrl: ' postgres://u:p@127.0.0.1:5432/paydesk ',
      ownerName: ' 店主 ',
      ownerPassword: '12345678',
      ownerPassword2: '12345678',
    })
    await w.finish()
    expect(fake.argsOf('setup_complete')[0]).toMatchObject({
      sandbox: true,
      apiKey: 'sandbox0key0for0paydesk0demo0001',
      ledgerUrl: 'postgres://u:p@127.0.0.1:5432/paydesk',
      ownerName: '店主',
    })
  })

  it('does not send anything while a step is incomplete, and goes to that step', async () => {
    fake.handle('setup_complete', () => appStatus())
    const w = useSetupWizard()
    await fillValid(w)
    w.form.apiKey = ''
    w.step.value = STEP_INDEX.owner
    expect(await w.finish()).toBeNull()
    expect(fake.argsOf('setup_complete')).toHaveLength(0)
    expect(w.step.value).toBe(STEP_INDEX.apiKey)
    expect(keys(w)).toEqual(['apiKeyRequired'])
  })

  it('shows why setup_complete was refused and keeps every field', async () => {
    fake.handle('setup_complete', () => {
      throw { code: 'invalid_input', message: '无法连接数据库：密码错误' }
    })
    const w = useSetupWizard()
    await fillValid(w)
    expect(await w.finish()).toBeNull()
    expect(w.finishError.value).toEqual({ code: 'invalid_input', message: '无法连接数据库：密码错误' })
    expect(w.form.ownerPassword).toBe('correct horse')
    expect(w.finishing.value).toBe(false)
  })
})
