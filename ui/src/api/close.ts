// The daily close (contract § "Daily close"): the month calendar, one day's close, the 30-day
// chart, getting the bill (download or a file), reconciling, discrepancy actions and CSV export;
// the `close-progress` event; files dropped onto the window (Tauri's drag-drop, via backend/).
import {
  backend,
  type DiscrepancyAction,
  type CloseExportWhat,
  type EventMap,
  type FileDropEvent,
} from '@/backend'

/** Every Beijing day of the month ("YYYY-MM"), oldest first. */
export const getCloseCalendar = (month: string) => backend().call('close_calendar', { month })
/** What is known about a day; changes nothing. */
export const getCloseDay = (day: string) => backend().call('close_day', { day })
/** Takings and refunds per day from the ledger, oldest first, days without business as zeros. */
export const getCloseChart = (days: number) => backend().call('close_chart', { days })
/** downloadbill ALL for the day, then import and reconcile; `not_yet` / `no_bill` are outcomes, not errors. */
export const fetchBill = (day: string) => backend().call('bill_fetch', { day })
/** The native "open file" dialog; null when cancelled. */
export const pickBillFile = () => backend().call('bill_pick_file')
/** A bill exported from the merchant platform (plain or gzip); day null = read it from the rows. */
export const importBill = (path: string, day: string | null) => backend().call('bill_import', { path, day })
/** Reconciles the day again against its newest bill. */
export const runRecon = (day: string) => backend().call('recon_run', { day })
/** Through the normal flows, audited; the day is reconciled again afterwards. */
export const actOnDiscrepancy = (id: number, action: DiscrepancyAction, note: string | null) =>
  backend().call('discrepancy_action', { id, action, note })
/** UTF-8 CSV with a BOM in the Downloads folder. */
export const exportCloseCsv = (day: string, what: CloseExportWhat) => backend().call('close_export_csv', { day, what })

export const onCloseProgress = (handler: (payload: EventMap['close-progress']) => void) =>
  backend().on('close-progress', handler)
export const onFileDrop = (handler: (event: FileDropEvent) => void) => backend().onFileDrop(handler)
