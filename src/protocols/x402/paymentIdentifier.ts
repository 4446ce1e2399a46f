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
  const id = idPattern.test(idempotencyKey) ? idempotencyKey : undefined
  if (!id) return extensions
  return { ...extensions, [key]: { ...declared, info: { ...(isRecord(declared.info) ? declared.info : {}), id } } }
}
