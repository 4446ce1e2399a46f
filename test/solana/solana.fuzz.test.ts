import { type Address, generateKeyPairSigner, isBlockhash } from '@solana/kit'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { PayfetchError } from '../../src/errors/PayfetchError.js'
import { resolveBlockhash } from '../../src/solana/blockhash.js'
import { solana } from '../../src/solana/index.js'
import { fetchMint } from '../../src/solana/mint.js'
import type { SolanaRpc } from '../../src/solana/rpc.js'
import { countingSigner, devnet, type Ledger, offerFor, payerOf, startLedger } from './support.js'

// Whatever a server offers and whatever an RPC answers, only payfetch's own errors escape, and an
// offer canPay refuses is never read or signed.
const numRuns = 300
const json = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' })
const base58 = fc.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{30,46}$/)

let ledger: Ledger

beforeAll(async () => {
  ledger = await startLedger()
})

afterAll(async () => {
  await ledger?.close()
})

/** An RPC that answers every call with `answer` (a value, or a rejection). */
function answering(answer: () => unknown): SolanaRpc {
  const pending = () => ({ send: async () => answer() as never })
  return { getAccountInfo: pending, getLatestBlockhash: pending }
}

describe('solana signer: fuzzed offers and RPC answers', () => {
  test('policy: the refusal never throws; when it refuses, pay throws PAYMENT_FAILED without reading or signing', async () => {
    const key = await generateKeyPairSigner()
    const counting = countingSigner(key)
    const signer = payerOf(solana({ signer: counting, rpc: ledger.rpc.url, networks: [devnet] }))
    const calls = ledger.rpc.calls.length
    const text = (maxLength: number) => fc.oneof(base58, fc.string({ maxLength }))
    const request = fc.record({
      network: fc.oneof(fc.constant(devnet), fc.string({ maxLength: 50 })),
      mint: text(60),
      amount: fc.oneof(fc.bigInt({ min: -10n, max: 2n ** 70n }), fc.constantFrom(0n, 2n ** 64n - 1n, 2n ** 64n)),
      payTo: text(60),
      feePayer: text(60),
      memo: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
      recentBlockhash: fc.option(text(60), { nil: undefined }),
    })
    await fc.assert(
      fc.asyncProperty(request, async (fields) => {
        const candidate = offerFor(ledger, fields)
        const payable = signer.canPay(candidate)
        if (payable) return
        const error = await signer.pay(candidate, { url: 'http://127.0.0.1/' }).catch((caught: unknown) => caught)
        expect(error).toBeInstanceOf(PayfetchError)
        expect((error as PayfetchError).code).toBe('PAYMENT_FAILED')
      }),
      { numRuns },
    )
    expect(counting.calls).toBe(0)
    expect(ledger.rpc.calls.length).toBe(calls)
  })

  test('policy: any getAccountInfo answer yields a mint with a token program or PAYMENT_FAILED', async () => {
    const mint = (await generateKeyPairSigner()).address as Address
    const answer = fc.oneof(
      json,
      fc.record({
        value: fc.oneof(
          json,
          fc.record({
            owner: fc.oneof(
              fc.constantFrom(
                'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA',
                'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb',
              ),
              json,
            ),
            data: fc.oneof(json, fc.tuple(fc.base64String({ maxLength: 400 }), fc.constantFrom('base64', 'base58'))),
          }),
        ),
      }),
    )
    await fc.assert(
      fc.asyncProperty(answer, fc.boolean(), async (value, reject) => {
        const rpc = answering(() => (reject ? Promise.reject(new Error('rpc down')) : value))
        try {
          const read = await fetchMint(rpc, mint)
          expect([
            'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA',
            'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb',
          ]).toContain(read.tokenProgram)
          expect(read.decimals).toBeGreaterThanOrEqual(0)
          expect(read.decimals).toBeLessThanOrEqual(255)
        } catch (error) {
          expect(error).toBeInstanceOf(PayfetchError)
          expect((error as PayfetchError).code).toBe('PAYMENT_FAILED')
        }
      }),
      // An owner whose own toString is not callable once threw TypeError (a CI seed found it).
      { numRuns, examples: [[{ value: { owner: { toString: null }, data: ['', 'base64'] } }, false]] },
    )
  })

  test('policy: any named blockhash and getLatestBlockhash answer yields a valid blockhash or PAYMENT_FAILED', async () => {
    const extra = fc.record(
      {
        recentBlockhash: fc.oneof(base58, fc.string({ maxLength: 60 })),
        lastValidBlockHeight: fc.bigInt({ min: 0n, max: 2n ** 64n }),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(extra, json, fc.oneof(base58, json), async (given, height, blockhash) => {
        const rpc = answering(() => ({ value: { blockhash, lastValidBlockHeight: height } }))
        try {
          const lifetime = await resolveBlockhash(given, rpc)
          expect(isBlockhash(lifetime.blockhash)).toBe(true)
          expect(typeof lifetime.lastValidBlockHeight).toBe('bigint')
        } catch (error) {
          expect(error).toBeInstanceOf(PayfetchError)
          expect((error as PayfetchError).code).toBe('PAYMENT_FAILED')
        }
      }),
      { numRuns },
    )
  })
})
