// The first-run wizard's logic: six steps, what each one needs before "Next", the sandbox
// shortcut, certificate inspection, the connection test and `setup_complete`.
//
// Results of "inspect" and "test connection" are remembered together with the inputs they were
// made for; change an input and the old result disappears by itself (no stale green ticks).
import { computed, reactive, ref } from 'vue'
import type {
  AppStatus,
  BackendError,
  CertificateInfo,
  CertSource,
  ConnectionTest,
  MerchantInput,
  SandboxDefaults,
  SignType,
} from '@/backend'
import { normalizeError } from '@/backend'
import { completeSetup, getSandboxDefaults, inspectCertificate, testConnection } from '@/api/setup'

export const SETUP_STEPS = ['merchant', 'apiKey', 'certificate', 'connection', 'ledger', 'owner'] as const
export type SetupStep = (typeof SETUP_STEPS)[number]
export const STEP_INDEX = Object.fromEntries(SETUP_STEPS.map((s, i) => [s, i])) as Record<SetupStep, number>

export type CertKind = 'p12' | 'pem' | 'none'
export type LedgerKind = 'local' | 'postgres'

export interface SetupForm {
  appid: string
  mchId: string
  signType: SignType
  apiKey: string
  certKind: CertKind
  p12Path: string
  /** empty → null → the backend uses the mch_id, WeChat's default .p12 password */
  p12Password: string
  certPath: string
  keyPath: string
  ledgerKind: LedgerKind
  postgresUrl: string
  ownerName: string
  ownerPassword: string
  ownerPassword2: string
}

export type ProblemField = keyof SetupForm | 'certificate'

/** A validation message: an i18n key under setup.errors and its parameters. */
export interface Problem {
  field: ProblemField
  key: string
  params?: Record<string, string | number>
}

export const API_KEY_LENGTH = 32
export const MIN_PASSWORD_LENGTH = 8
/** Certificate warnings that make the certificate unusable (the others are shown but allowed). */
export const BLOCKING_CERT_WARNINGS: readonly string[] = ['expired', 'key_mismatch', 'not_yet_valid']

const APPID_RE = /^[A-Za-z0-9_-]{1,32}$/ // wxpay ids.rs: AppId ≤32, alphanumeric + _-
const MCH_ID_RE = /^[A-Za-z0-9]{1,32}$/ // MchId ≤32, alphanumeric
const POSTGRES_RE = /^postgres(ql)?:\/\/\S+$/

export function initialSetupForm(): SetupForm {
  return {
    appid: '',
    mchId: '',
    signType: 'MD5',
    apiKey: '',
    certKind: 'p12',
    p12Path: '',
    p12Password: '',
    certPath: '',
    keyPath: '',
    ledgerKind: 'local',
    postgresUrl: '',
    ownerName: '',
    ownerPassword: '',
    ownerPassword2: '',
  }
}

export function useSetupWizard() {
  const step = ref(0)
  const form = reactive<SetupForm>(initialSetupForm())
  /** Steps where the owner pressed Next at least once: only then are problems shown. */
  const attempted = reactive<Record<number, boolean>>({})

  const sandbox = ref(false)
  const sandboxDefaults = ref<SandboxDefaults | null>(null)
  const sandboxLoading = ref(false)
  const sandboxError = ref<BackendError | null>(null)

  const inspected = ref<{ key: string; info: CertificateInfo } | null>(null)
  const inspecting = ref(false)
  const certError = ref<BackendError | null>(null)

  const tested = ref<{ key: string; result: ConnectionTest } | null>(null)
  const testing = ref(false)
  const testError = ref<BackendError | null>(null)

  const finishing = ref(false)
  const finishError = ref<BackendError | null>(null)

  // ---- what would be sent ------------------------------------------------------------------

  function merchantInput(): MerchantInput {
    return { appid: form.appid.trim(), mch_id: form.mchId.trim(), sign_type: form.signType }
  }

  function certSource(): CertSource | null {
    switch (form.certKind) {
      case 'p12':
        return { kind: 'p12', path: form.p12Path.trim(), password: form.p12Password === '' ? null : form.p12Password }
      case 'pem':
        return { kind: 'pem', cert_path: form.certPath.trim(), key_path: form.keyPath.trim() }
      default:
        return null
    }
  }

  const certKey = computed(() => JSON.stringify([certSource(), form.mchId.trim()]))
  const connectionKey = computed(() =>
    JSON.stringify([merchantInput(), form.apiKey.trim(), certSource(), sandbox.value]),
  )

  /** The inspection result for the certificate as it is entered now (null if none or stale). */
  const certInfo = computed(() =>
    inspected.value && inspected.value.key === certKey.value ? inspected.value.info : null,
  )
  const blockingWarnings = computed(
    () => certInfo.value?.warnings.filter((w) => BLOCKING_CERT_WARNINGS.includes(w.code)) ?? [],
  )
  /** The connection test result for the settings as they are now (null if none or stale). */
  const testResult = computed(() =>
    tested.value && tested.value.key === connectionKey.value ? tested.value.result : null,
  )

  // ---- validation --------------------------------------------------------------------------

  function certPathProblems(): Problem[] {
    const p: Problem[] = []
    if (form.certKind === 'p12' && !form.p12Path.trim()) p.push({ field: 'p12Path', key: 'p12PathRequired' })
    if (form.certKind === 'pem') {
      if (!form.certPath.trim()) p.push({ field: 'certPath', key: 'certPathRequired' })
      if (!form.keyPath.trim()) p.push({ field: 'keyPath', key: 'keyPathRequired' })
    }
    return p
  }

  function problemsFor(index: number): Problem[] {
    const p: Problem[] = []
    switch (SETUP_STEPS[index]) {
      case 'merchant': {
        const appid = form.appid.trim()
        const mchId = form.mchId.trim()
        if (!appid) p.push({ field: 'appid', key: 'appidRequired' })
        else if (!APPID_RE.test(appid)) p.push({ field: 'appid', key: 'appidFormat' })
        if (!mchId) p.push({ field: 'mchId', key: 'mchIdRequired' })
        else if (!MCH_ID_RE.test(mchId)) p.push({ field: 'mchId', key: 'mchIdFormat' })
        break
      }
      case 'apiKey': {
        const key = form.apiKey.trim()
        if (!key) p.push({ field: 'apiKey', key: 'apiKeyRequired' })
        else if (key.length !== API_KEY_LENGTH) p.push({ field: 'apiKey', key: 'apiKeyLength', params: { n: key.length } })
        break
      }
      case 'certificate': {
        if (form.certKind === 'none') break
        p.push(...certPathProblems())
        if (p.length) break
        if (!certInfo.value) p.push({ field: 'certificate', key: 'inspectFirst' })
        else if (blockingWarnings.value.length) p.push({ field: 'certificate', key: 'certUnusable' })
        break
      }
      case 'connection':
        break // recommended, not required: finishing without a passed test asks first
      case 'ledger':
        if (form.ledgerKind === 'postgres') {
          const url = form.postgresUrl.trim()
          if (!url) p.push({ field: 'postgresUrl', key: 'postgresUrlRequired' })
          else if (!POSTGRES_RE.test(url)) p.push({ field: 'postgresUrl', key: 'postgresUrlFormat' })
        }
        break
      case 'owner':
        if (!form.ownerName.trim()) p.push({ field: 'ownerName', key: 'ownerNameRequired' })
        if (form.ownerPassword.length < MIN_PASSWORD_LENGTH) {
          p.push({ field: 'ownerPassword', key: 'passwordTooShort' })
        } else if (form.ownerPassword !== form.ownerPassword2) {
          p.push({ field: 'ownerPassword2', key: 'passwordMismatch' })
        }
        break
    }
    return p
  }

  const problems = computed(() => problemsFor(step.value))
  /** Problems of the current step, once the owner has tried to move on. */
  const shownProblems = computed(() => (attempted[step.value] ? problems.value : []))

  function problemOf(field: ProblemField): Problem | null {
    return shownProblems.value.find((p) => p.field === field) ?? null
  }

  /** The first step that still has a problem (SETUP_STEPS.length when all are fine). */
  function firstIncompleteStep(): number {
    for (let i = 0; i < SETUP_STEPS.length; i++) if (problemsFor(i).length) return i
    return SETUP_STEPS.length
  }

  // ---- navigation --------------------------------------------------------------------------

  function next(): boolean {
    attempted[step.value] = true
    if (problems.value.length) return false
    if (step.value < SETUP_STEPS.length - 1) step.value++
    return true
  }

  function prev(): void {
    if (step.value > 0) step.value--
  }

  /** Back to any step; forward only as far as every step before it is complete. */
  function goTo(index: number): void {
    if (index < 0 || index >= SETUP_STEPS.length) return
    if (index <= step.value || index <= firstIncompleteStep()) step.value = index
  }

  // ---- backend calls -----------------------------------------------------------------------

  /** Fills every field from the local simulator and jumps to the connection test. */
  async function applySandbox(): Promise<boolean> {
    sandboxLoading.value = true
    sandboxError.value = null
    try {
      const d = await getSandboxDefaults()
      sandboxDefaults.value = d
      sandbox.value = true
      form.appid = d.merchant.appid
      form.mchId = d.merchant.mch_id
      form.signType = d.merchant.sign_type
      // The contract calls it a hint; for the simulator it is the key itself (see ui/README.md).
      form.apiKey = d.api_key_hint
      form.certKind = 'p12'
      form.p12Path = d.p12_path
      form.p12Password = ''
      // Check the certificate now so the owner sees the whole picture at once; a failure is
      // shown on the certificate step and does not stop the rest.
      await inspect()
      step.value = STEP_INDEX.connection
      return true
    } catch (e) {
      sandboxError.value = normalizeError(e)
      return false
    } finally {
      sandboxLoading.value = false
    }
  }

  /** Leaves sandbox mode and starts over with empty fields. */
  function leaveSandbox(): void {
    sandbox.value = false
    sandboxDefaults.value = null
    Object.assign(form, initialSetupForm())
    inspected.value = null
    tested.value = null
    step.value = 0
    for (const k of Object.keys(attempted)) delete attempted[Number(k)]
  }

  async function inspect(): Promise<CertificateInfo | null> {
    const source = certSource()
    certError.value = null
    if (!source) return null
    if (certPathProblems().length) {
      attempted[STEP_INDEX.certificate] = true
      return null
    }
    const key = certKey.value
    inspecting.value = true
    try {
      const info = await inspectCertificate(source, form.mchId.trim())
      inspected.value = { key, info }
      return info
    } catch (e) {
      inspected.value = null
      certError.value = normalizeError(e)
      return null
    } finally {
      inspecting.value = false
    }
  }

  async function runConnectionTest(): Promise<ConnectionTest | null> {
    const key = connectionKey.value
    testing.value = true
    testError.value = null
    try {
      const result = await testConnection({
        merchant: merchantInput(),
        apiKey: form.apiKey.trim(),
        source: certSource(),
        sandbox: sandbox.value,
      })
      tested.value = { key, result }
      return result
    } catch (e) {
      tested.value = null
      testError.value = normalizeError(e)
      return null
    } finally {
      testing.value = false
    }
  }

  /** Finishing without a passed connection test is allowed but asks the owner first. */
  const finishNeedsConfirm = computed(() => !testResult.value?.ok)

  /**
   * Sends everything to `setup_complete`. If a step is incomplete, goes there and shows why
   * (returns null without calling the backend).
   */
  async function finish(): Promise<AppStatus | null> {
    const incomplete = firstIncompleteStep()
    if (incomplete < SETUP_STEPS.length) {
      step.value = incomplete
      attempted[incomplete] = true
      return null
    }
    finishing.value = true
    finishError.value = null
    try {
      return await completeSetup({
        merchant: merchantInput(),
        apiKey: form.apiKey.trim(),
        source: certSource(),
        sandbox: sandbox.value,
        ledgerUrl: form.ledgerKind === 'postgres' ? form.postgresUrl.trim() : null,
        ownerName: form.ownerName.trim(),
        ownerPassword: form.ownerPassword,
      })
    } catch (e) {
      finishError.value = normalizeError(e)
      return null
    } finally {
      finishing.value = false
    }
  }

  return {
    steps: SETUP_STEPS,
    step,
    form,
    sandbox,
    sandboxDefaults,
    sandboxLoading,
    sandboxError,
    certInfo,
    blockingWarnings,
    inspecting,
    certError,
    testResult,
    testing,
    testError,
    finishing,
    finishError,
    finishNeedsConfirm,
    problems,
    shownProblems,
    problemOf,
    problemsFor,
    firstIncompleteStep,
    certSource,
    merchantInput,
    next,
    prev,
    goTo,
    applySandbox,
    leaveSandbox,
    inspect,
    runConnectionTest,
    finish,
  }
}

export type SetupWizard = ReturnType<typeof useSetupWizard>
