import type { Ledger } from '../ledger/Ledger.js'

/**
 * Renews the lease of reservation `id` for `owner` every third of the ledger's `leaseMs` while
 * the owner works (approving, signing, waiting for an answer), so a live owner never loses it
 * however long that takes, and a dead one stops renewing. Returns what stops it.
 *
 * A renewal that fails (the ledger unreachable) is tried again at the next tick; a lease lost
 * anyway (the process stalled for a whole lease) shows when `savePending` refuses, before any
 * proof leaves.
 */
export function keepLease(ledger: Ledger, id: string, owner: string): () => void {
  const { leaseMs } = ledger
  if (typeof ledger.claim !== 'function' || !(leaseMs >= 3)) return () => {}
  const timer = setInterval(() => void ledger.claim(id, owner).catch(() => {}), Math.floor(leaseMs / 3))
  // A renewal must not keep a Node process alive on its own.
  ;(timer as { unref?: () => void }).unref?.()
  return () => clearInterval(timer)
}
