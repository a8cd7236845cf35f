// Orders (contract § "Orders").
import { backend, type EventMap, type OrderFilter } from '@/backend'

export const listOrders = (filter: OrderFilter, cursor: string | null, limit: number) =>
  backend().call('orders_list', { filter, cursor, limit })
export const getOrderDetail = (outTradeNo: string) => backend().call('order_detail', { outTradeNo })
/** Asks WeChat now (orderquery) and records what it learned. */
export const queryOrderNow = (outTradeNo: string) => backend().call('order_query_now', { outTradeNo })
/** Closes a NOTPAY order at WeChat (closeorder); the customer can no longer pay it. */
export const closeOrder = (outTradeNo: string) => backend().call('order_close', { outTradeNo })

export const onOrdersChanged = (handler: (payload: EventMap['orders-changed']) => void) =>
  backend().on('orders-changed', handler)
