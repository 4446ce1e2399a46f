import { decodeBase64Json } from '../../utils/base64.js'
import { isRecord, isShortString, parseAtomicAmount } from '../../utils/guards.js'
import { networkFromV1 } from './networks.js'

/** What an x402 server reports about settlement in `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`. */
export type Settlement = {
  readonly success: boolean
  readonly transaction?: string | undefined
  /** CAIP-2 network id. */
  readonly network?: string | undefined
  readonly payer?: string | undefined
  /** The settled amount, when the server reports one (`upto`). */
  readonly amount?: bigint | undefined
  readonly errorReason?: string | undefined
  /** The report's `extensions` as the server sent them (a signed receipt rides in `offer-receipt`). */
  readonly extensions?: unknown
  /** `batch-settlement`: `extra.chargedAmount` and `extra.channelState`. */
  readonly channel?:
    | { charged?: bigint | undefined; cumulative?: bigint | undefined; id?: string | undefined }
    | undefined
}

/** Reads the settlement header of an x402 response; `undefined` when absent or unreadable. */
export function readSettlement(headers: Headers): Settlement | undefined {
  const header = headers.get('payment-response') ?? headers.get('x-payment-response')
  if (header === null || header.length > 16 * 1024) return undefined
  // The ledger, the receipt and signed terms each ask: one header is decoded once.
  const known = read.get(headers)
  if (known?.header === header) return known.settlement
  const settlement = decodeSettlement(header)
  read.set(headers, { header, settlement })
  return settlement
}

const read = new WeakMap<Headers, { header: string; settlement: Settlement | undefined }>()

function decodeSettlement(header: string): Settlement | undefined {
  const value = decodeBase64Json(header)
  if (!isRecord(value) || typeof value.success !== 'boolean') return undefined
  const text = (field: unknown) => (isShortString(field, 512) ? field : undefined)
  const network = text(value.network)
  return {
    success: value.success,
    transaction: text(value.transaction),
    network: network === undefined ? undefined : networkFromV1(network),
    payer: text(value.payer),
    // `upto` may settle nothing: "0" is a real report.
    amount: value.amount === '0' ? 0n : parseAtomicAmount(value.amount),
    errorReason: text(value.errorReason) ?? text(value.errorMessage),
    extensions: value.extensions,
    channel: isRecord(value.extra) ? channelOf(value.extra) : undefined,
  }
}

// A charge of "0" is a real report.
const atomic = (value: unknown) => (value === '0' ? 0n : parseAtomicAmount(value))

function channelOf({ chargedAmount, channelState }: Record<string, unknown>) {
  const state = isRecord(channelState) ? channelState : {}
  const id = isShortString(state.channelId, 66) ? state.channelId : undefined
  return chargedAmount === undefined && !isRecord(channelState)
    ? undefined
    : { charged: atomic(chargedAmount), cumulative: atomic(state.chargedCumulativeAmount), id }
}
