import type { Bolt11Request } from '../methods/Bolt11.js'
import { invoiceExpiresAt } from '../protocols/l402/readInvoice.js'
import { verifyInvoiceSignature } from './verifyInvoiceSignature.js'

// Requests are read-only: the signature check (the costly part) runs once per request, not again in pay().
const checked = new WeakMap<Bolt11Request, string | number>()

/**
 * Reads the invoice, checks its signature (`verifyInvoiceSignature`) and checks it against what
 * the request says: network, amount, payment hash, payee and expiry at `now` (ms). Returns why it
 * cannot be paid, or `undefined` when it can.
 */
export function checkInvoice(request: Bolt11Request, now = Date.now()): string | undefined {
  let result = checked.get(request)
  if (result === undefined) {
    result = decodeAgainst(request)
    checked.set(request, result)
  }
  return typeof result === 'string' ? result : result <= now ? 'the invoice has expired' : undefined
}

/** Why the invoice does not match the request, or the time (ms) it expires. */
function decodeAgainst(request: Bolt11Request): string | number {
  const { invoice, paymentHash } = request
  const decoded = verifyInvoiceSignature(invoice)
  if (typeof decoded === 'string') return `the invoice does not verify (${decoded})`
  if (decoded.network !== request.network) return 'the invoice is for another network than the offer'
  if (decoded.amount !== request.amountMsat) return 'the invoice amount differs from the offer'
  if (decoded.paymentHash !== paymentHash) return 'the invoice payment hash differs from the offer'
  if (request.payee !== undefined && decoded.payee !== request.payee) return 'the invoice is signed by another node'
  return invoiceExpiresAt(decoded)
}
