import { bytesToBase64 } from '../../utils/base64.js'
import { isRecord } from '../../utils/guards.js'

const key = 'payment-identifier'
const idPattern = /^[A-Za-z0-9_-]{16,128}$/

/**
 * The server's extensions with the call's id added to `payment-identifier` when the server
 * declares it: a server that sees the same id and payload again answers as the first time
 * instead of charging twice. Other extensions are echoed unchanged.
 */
export function withPaymentIdentifier(extensions: unknown, idempotencyKey: string): unknown {
  if (!isRecord(extensions) || !isRecord(extensions[key])) return extensions
  const declared = extensions[key]
  const id = idPattern.test(idempotencyKey) ? idempotencyKey : toPaymentId(idempotencyKey)
  return { ...extensions, [key]: { ...declared, info: { ...(isRecord(declared.info) ? declared.info : {}), id } } }
}

// A key outside the id alphabet (e.g. `order-2024.11/20:0001`) maps to one that fits, the same
// every time, so a retry with the same key still names the same payment.
function toPaymentId(key: string): string {
  const encoded = bytesToBase64(new TextEncoder().encode(key))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replaceAll('=', '')
  return `pk_${encoded}`.padEnd(16, '_').slice(0, 128)
}
