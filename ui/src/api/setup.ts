// The first-run setup wizard (contract § "Setup wizard").
import { backend, type CertSource, type MerchantInput, type SetupCompleteArgs } from '@/backend'

export const getSandboxDefaults = () => backend().call('setup_sandbox_defaults')
export const inspectCertificate = (source: CertSource, mchId: string) =>
  backend().call('setup_inspect_certificate', { source, mchId })
export const testConnection = (args: {
  merchant: MerchantInput
  apiKey: string
  source: CertSource | null
  sandbox: boolean
}) => backend().call('setup_test_connection', args)
export const completeSetup = (args: SetupCompleteArgs) => backend().call('setup_complete', args)
