import type { Charge } from '../../src/caps/budgets.js'
import type { PendingPayment, Reservation } from '../../src/ledger/Ledger.js'

// Builders shared by the ledger tests and their child processes (no vitest import here).

export const usdcBase = { network: 'eip155:8453', asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' }
export const t0 = 1_700_000_000_000

let sequence = 0
export type ReservationOptions = {
  id?: string
  time?: number
  key?: string
  limit?: bigint
  windowMs?: number
  host?: string
  network?: string
  asset?: string
  charges?: Charge[]
}

/** A reservation of `amount` against one budget (`key`, `limit`, `windowMs`) unless `charges` says otherwise. */
export function reservation(amount: bigint, options: ReservationOptions = {}): Reservation {
  const charges = options.charges ?? [
    { key: options.key ?? 'total', limit: options.limit ?? 1000n, amount, windowMs: options.windowMs },
  ]
  return {
    id: options.id ?? `r${++sequence}-${Math.random().toString(36).slice(2, 8)}`,
    time: options.time ?? Date.now(),
    spend: {
      network: options.network ?? usdcBase.network,
      asset: options.asset ?? usdcBase.asset,
      amount,
      host: options.host ?? 'api.example.com',
      nanoUsd: amount * 1000n,
    },
    charges,
  }
}

/** A pending payment for reservation `id`, with every field filled. */
export function pendingFor(id: string): PendingPayment {
  return {
    id,
    idempotencyKey: `pf_${id.replace(/[^A-Za-z0-9]/g, '')}0000000000000000`,
    protocol: 'x402',
    url: 'https://api.example.com/report?q=1',
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: '*/*' },
    proof: { 'payment-signature': 'eyJ4NDAyVmVyc2lvbiI6Mn0=', 'idempotency-key': `pf_${id}` },
    body: 'eyJxdWVyeSI6MX0=',
    network: usdcBase.network,
    asset: usdcBase.asset,
    amount: '18446744073709551617',
    payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    payer: '0x857b06519E91e3A54538791bDbb0E22373e36b66',
    time: t0,
  }
}

/**
 * A Lightning payment kept before its wallet answered: no proof yet, the 402's challenge and the
 * payment hash instead (what `resume` asks the wallet by). `proven` is the same payment once the
 * wallet's preimage is known.
 */
export function unprovenFor(id: string): { unproven: PendingPayment; proven: PendingPayment } {
  const paymentHash = 'a1'.repeat(32)
  const base = {
    id,
    idempotencyKey: `pf_${id.replace(/[^A-Za-z0-9]/g, '')}0000000000000000`,
    protocol: 'l402',
    scheme: 'l402',
    url: 'https://api.example.com/report',
    method: 'GET',
    headers: { accept: '*/*' },
    network: 'bip122:000000000019d6689c085ae165831e93',
    asset: 'BTC',
    amount: '21000',
    reserved: '31000',
    payTo: paymentHash,
    reference: paymentHash,
    paidOnSigning: true,
    time: t0,
  }
  return {
    unproven: {
      ...base,
      proof: {},
      challenge: { 'www-authenticate': 'L402 macaroon="AgEEbHNhdAJCAAA=", invoice="lnbc210n1pjtest"' },
    },
    proven: { ...base, proof: { authorization: `L402 AgEEbHNhdAJCAAA=:${'b2'.repeat(32)}` }, fee: '1000' },
  }
}

/** A clock a test moves by hand: `now` for a ledger's option, `set` for the contract's `setNow`. */
export function testClock(start: number | undefined): { now?: () => number; set?: (now: number) => Promise<void> } {
  if (start === undefined) return {}
  let value = start
  return {
    now: () => value,
    set: async (now) => {
      value = now
    },
  }
}
