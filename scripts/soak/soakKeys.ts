import { randomBytes } from 'node:crypto'
import type { PendingPayment } from '../../src/index.js'

/**
 * The idempotency key of one try of a soak call: `pf_` and 32 hex digits (valid as an x402
 * payment id) that name the worker and the call, so a restarted worker knows which pending
 * payments are its own. Each try gets fresh random digits: a retried call is a new payment.
 */
export function callKey(worker: number, generation: number, index: number): string {
  const hex = (value: number, digits: number) => value.toString(16).padStart(digits, '0')
  return `pf_${hex(worker, 4)}${hex(generation, 8)}${hex(index, 8)}${randomBytes(6).toString('hex')}`
}

/** The worker and call a {@link callKey} names, or `undefined` for another key. */
export function callIndex(key: string): { worker: number; index: number } | undefined {
  if (!/^pf_[0-9a-f]{32}$/.test(key)) return undefined
  return { worker: Number.parseInt(key.slice(3, 7), 16), index: Number.parseInt(key.slice(15, 23), 16) }
}

/** What the merchant knows the payment by: the EIP-3009 nonce (x402) or the payment hash (L402). */
export function paymentRef(pending: PendingPayment): string {
  if (pending.protocol === 'l402') return `l402:${pending.reference}`
  const header = pending.proof['payment-signature'] ?? ''
  const proof = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as {
    payload: { authorization: { nonce: string } }
  }
  return `x402:${proof.payload.authorization.nonce}`
}
