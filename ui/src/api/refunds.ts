// Refunds (contract § "Refunds"): the application queue, the guards, approve / reject, and the
// refunds themselves (query now, retry, mark done). Owner-only commands reject `forbidden` for staff.
import { backend, type EventMap, type RefundApproveArgs } from '@/backend'

export type ApplicationListStatus = 'PENDING' | 'ALL'
export type RefundScope = 'active' | 'all'

/** PENDING: oldest first; ALL: newest first, at most 200. */
export const listApplications = (status: ApplicationListStatus) => backend().call('refund_applications_list', { status })
/** An application entered at the desk (owner or staff). */
export const createApplication = (outTradeNo: string, amountFen: number, reason: string) =>
  backend().call('refund_application_create', { outTradeNo, amountFen, reason })
/** The checks `refund_approve` makes, without changing anything. */
export const checkRefundGuards = (applicationId: number, amountFen: number) =>
  backend().call('refund_guards', { applicationId, amountFen })
/** Writes the refund and sends it once; rejects `password_required`, `wrong_password`, `refund_guard`, `forbidden`. */
export const approveRefund = (args: RefundApproveArgs) => backend().call('refund_approve', args)
export const rejectApplication = (applicationId: number, reason: string) =>
  backend().call('refund_reject', { applicationId, reason })

/** active: not final or needing the owner; all: newest 200. */
export const listRefunds = (scope: RefundScope) => backend().call('refunds_list', { scope })
export const getRefund = (outRefundNo: string) => backend().call('refund_detail', { outRefundNo })
/** Asks WeChat now (refundquery) and records what it learned. */
export const queryRefundNow = (outRefundNo: string) => backend().call('refund_query_now', { outRefundNo })
/** Sends a waiting refund again: same out_refund_no, same amount. */
export const retryRefund = (outRefundNo: string, password: string | null) =>
  backend().call('refund_retry', { outRefundNo, password })
/** The money reached the customer outside WeChat Pay (or through the merchant platform). */
export const markRefundDone = (outRefundNo: string, note: string) => backend().call('refund_mark_done', { outRefundNo, note })

export const onRefundsChanged = (handler: (payload: EventMap['refunds-changed']) => void) =>
  backend().on('refunds-changed', handler)
export const onApplicationsNew = (handler: (payload: EventMap['applications-new']) => void) =>
  backend().on('applications-new', handler)
