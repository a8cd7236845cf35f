// Status sync: the orders under watch and the polling rounds (contract § "Status sync").
import { backend, type SyncStatus } from '@/backend'

export const getSyncStatus = () => backend().call('sync_status')
export const syncNow = () => backend().call('sync_now')
export const onSyncStatus = (handler: (payload: SyncStatus) => void) => backend().on('sync-status', handler)
