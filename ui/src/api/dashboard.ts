// The dashboard figures (contract § "dashboard").
import { backend } from '@/backend'

export const getDashboard = () => backend().call('dashboard')
