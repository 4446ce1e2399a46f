import { describe, expect, test } from 'vitest'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch } from '../../src/index.js'
import { lightning } from '../../src/lightning/index.js'
import { redisLedger, redisSessions } from '../../src/redis/index.js'
import { solana } from '../../src/solana/index.js'

// What an untyped caller gets for missing options: a typed error, never a TypeError.
describe('factories called without options', () => {
  test.each([
    ['createPayingFetch', () => (createPayingFetch as (options?: unknown) => unknown)()],
    ['evm', () => (evm as (options?: unknown) => unknown)()],
    ['solana', () => (solana as (options?: unknown) => unknown)()],
    ['lightning', () => (lightning as (options?: unknown) => unknown)()],
    ['redisLedger', () => (redisLedger as (options?: unknown) => unknown)()],
    ['redisSessions', () => (redisSessions as (options?: unknown) => unknown)()],
  ])('error: %s() is INVALID_OPTIONS', (_name, call) => {
    expect(call).toThrowError(expect.objectContaining({ name: 'PayfetchError', code: 'INVALID_OPTIONS' }))
  })
})
