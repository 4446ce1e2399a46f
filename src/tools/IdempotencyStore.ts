import type { PayFetchOutput } from './toolSchemas.js'

/** A finished paid call, kept under its idempotency key so a retry returns it instead of paying. */
export type IdempotentRecord = {
  /** Method, URL and body digest of the call that used the key. */
  readonly fingerprint: string
  readonly output: PayFetchOutput
  /** Unix time in ms. */
  readonly time: number
}

/** Where finished calls are kept by idempotency key: memory by default, a file in the CLI. */
export type IdempotencyStore = {
  get(key: string): IdempotentRecord | undefined | Promise<IdempotentRecord | undefined>
  set(key: string, record: IdempotentRecord): void | Promise<void>
}

/**
 * Keeps finished calls in a `Map` for `ttlMs` (default 24 h).
 *
 * @example
 * ```ts
 * import { createPayfetchTools, memoryIdempotency } from 'payfetch/tools'
 *
 * const tools = createPayfetchTools({ payfetch: { signers }, idempotency: memoryIdempotency({ ttlMs: 3_600_000 }) })
 * ```
 */
export function memoryIdempotency(options: { ttlMs?: number; now?: () => number } = {}): IdempotencyStore {
  const ttlMs = options.ttlMs ?? 24 * 3_600_000
  const now = options.now ?? Date.now
  const records = new Map<string, IdempotentRecord>()
  return {
    get(key) {
      const record = records.get(key)
      if (record && record.time + ttlMs <= now()) {
        records.delete(key)
        return undefined
      }
      return record
    },
    set(key, record) {
      records.set(key, record)
    },
  }
}
