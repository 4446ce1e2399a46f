import { createRequire } from 'node:module'
import { describe, expect, test } from 'vitest'
import { createLightningNode } from '../../examples/local-stack/lightningNode.js'
import { PayfetchError } from '../../src/errors/PayfetchError.js'
import { checkInvoice } from '../../src/lightning/checkInvoice.js'
import {
  coreLightning,
  type LightningWallet,
  lightning,
  lnbits,
  lnd,
  nwc,
  type PayInvoiceOptions,
  type PaymentStatus,
  webln,
} from '../../src/lightning/index.js'
import type { Bolt11Request } from '../../src/methods/Bolt11.js'
import { decodeL402 } from '../../src/protocols/l402/decode.js'
import type { MethodPayer, PayContext, Signer } from '../../src/signers/Signer.js'
import { challengeOf, mintToken } from '../protocols/l402/support.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

const bech32 = createRequire(import.meta.url)('bech32') as {
  decode(text: string, limit?: number): { prefix: string; words: number[] }
  encode(prefix: string, words: number[], limit?: number): string
}

const node = createLightningNode()

/** The invoice request of a real L402 challenge for a fresh invoice. */
function offerFor(options: Parameters<typeof node.createInvoice>[0] = {}): Bolt11Request {
  const { invoice, paymentHash } = node.createInvoice(options)
  const [offer] = decodeL402(challengeOf(`L402 macaroon="${mintToken(paymentHash)}", invoice="${invoice}"`))
  return offer?.method as Bolt11Request
}

/** The signer's invoice payer, as these tests use it. */
function payerOf(signer: Signer) {
  const payer = signer.methods.bolt11 as MethodPayer<'bolt11'>
  return {
    canPay: (request: Bolt11Request) => payer.refusal?.(request) === undefined,
    pay: (request: Bolt11Request, context: PayContext) => payer.pay(request, context),
  }
}

/** A wallet that pays through the node and records what it was asked. */
function recordingWallet(
  answer?: (invoice: string, options: PayInvoiceOptions) => Promise<{ preimage: string; feeMsat?: bigint }>,
) {
  const calls: { invoice: string; options: PayInvoiceOptions }[] = []
  const wallet: LightningWallet = {
    name: 'test',
    async payInvoice(invoice, options) {
      calls.push({ invoice, options })
      return answer ? answer(invoice, options) : node.pay(invoice)
    },
  }
  return { wallet, calls }
}

const context = { url: 'https://api.example.com/report' }

describe('lightning signer', () => {
  test('behavior: pays a checked invoice once, passing the fee limit, timeout, hash and amount, and returns the lowercase preimage', async () => {
    const offer = offerFor({ amountMsat: 42_000n })
    const { wallet, calls } = recordingWallet(async (invoice) => {
      const paid = node.pay(invoice)
      return { preimage: paid.preimage.toUpperCase(), feeMsat: 1_234n }
    })
    const signer = payerOf(lightning({ wallet, networks: ['regtest'], maxFeeSats: 7, timeoutMs: 20_000 }))
    expect(signer.canPay(offer)).toBe(true)
    const payment = await signer.pay(offer, context)
    expect(calls).toHaveLength(1)
    expect(calls[0]?.invoice).toBe(offer.invoice)
    expect(calls[0]?.options).toMatchObject({
      maxFeeMsat: 7_000n,
      timeoutSeconds: 18,
      paymentHash: offer.paymentHash,
      amountMsat: 42_000n,
    })
    expect(calls[0]?.options.signal).toBeInstanceOf(AbortSignal)
    expect(payment).toEqual({ kind: 'bolt11', preimage: expect.stringMatching(/^[0-9a-f]{64}$/), feeMsat: 1_234n })
  })

  test('policy: defaults are mainnet only, a 10 sat fee limit and a 60 s timeout', async () => {
    const { wallet, calls } = recordingWallet()
    expect(payerOf(lightning({ wallet })).canPay(offerFor())).toBe(false)
    expect(payerOf(lightning({ wallet })).canPay(offerFor({ network: 'mainnet' }))).toBe(true)
    await payerOf(lightning({ wallet, networks: ['bip122:0f9188f13cb7b2c71f2a335e3a4fc328'] })).pay(offerFor(), context)
    expect(calls[0]?.options).toMatchObject({ maxFeeMsat: 10_000n, timeoutSeconds: 54 })
  })

  test('policy: canPay verifies the invoice signature and checks the invoice against the request: amount, hash, payee, network', () => {
    const signer = payerOf(lightning({ wallet: recordingWallet().wallet, networks: ['regtest', 'mainnet'] }))
    const offer = offerFor({ withPayee: false })
    expect(signer.canPay(offer)).toBe(true)
    expect(signer.canPay({ ...offer, amountMsat: offer.amountMsat - 1n })).toBe(false)
    expect(signer.canPay({ ...offer, paymentHash: '00'.repeat(32) })).toBe(false)
    expect(signer.canPay({ ...offer, payee: `02${'11'.repeat(32)}` })).toBe(false)
    expect(signer.canPay({ ...offer, network: 'bip122:000000000019d6689c085ae165831e93' })).toBe(false)
    // An invoice re-encoded with another amount keeps a valid bech32 checksum, so the root decoder
    // reads it; its signature no longer matches the payee it names, which only payfetch/lightning sees.
    const signed = offerFor({ withPayee: true, amountMsat: 21_000n })
    const { words } = bech32.decode(signed.invoice, 10_000)
    const altered = bech32.encode('lnbcrt2u', words, 10_000)
    const [tampered] = decodeL402(challengeOf(`L402 macaroon="${mintToken(signed.paymentHash)}", invoice="${altered}"`))
    expect(tampered).toMatchObject({ amount: 200_000n, payTo: node.publicKey })
    expect(signer.canPay(tampered?.method as Bolt11Request)).toBe(false)
    expect(checkInvoice(tampered?.method as Bolt11Request)).toBe(
      'the invoice does not verify (signature does not match its payee (n field))',
    )
    const withPayee = offerFor({ withPayee: true })
    expect(withPayee.payee).toBe(node.publicKey)
    expect(signer.canPay(withPayee)).toBe(true)
  })

  test('policy: an invoice can be paid until timestamp + expiry and not from then on, at the time given', () => {
    // Far in the future, so decodeL402 takes it whatever the clock says; the check gets its time.
    const timestamp = 4_000_000_000
    const request = offerFor({ timestamp, expirySeconds: 60 })
    expect(checkInvoice(request, timestamp * 1000)).toBeUndefined()
    expect(checkInvoice(request, (timestamp + 60) * 1000 - 1)).toBeUndefined()
    expect(checkInvoice(request, (timestamp + 60) * 1000)).toBe('the invoice has expired')
    expect(checkInvoice(request, (timestamp + 3600) * 1000)).toBe('the invoice has expired')
    // canPay reads the clock itself: an invoice payable until 2096 is payable now.
    expect(payerOf(lightning({ wallet: recordingWallet().wallet, networks: ['regtest'] })).canPay(request)).toBe(true)
  })

  test('error: a wallet that reports a payment with a wrong preimage leaves the outcome unknown, with the payment hash and no preimage in the error', async () => {
    const offer = offerFor()
    const { wallet, calls } = recordingWallet(async () => ({ preimage: 'ab'.repeat(32) }))
    const error = await failure(payerOf(lightning({ wallet, networks: ['regtest'] })).pay(offer, context))
    expect(calls).toHaveLength(1)
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    expect(error.details).toEqual({ wallet: 'test', paymentHash: offer.paymentHash })
    expect(error.message).toMatchInlineSnapshot(
      `"[PAYMENT_OUTCOME_UNKNOWN] The test wallet may have paid: it reported a payment with a preimage that does not match the invoice. Look the payment up by its hash before paying again."`,
    )
    expect(JSON.stringify(error.details)).not.toContain('abab')
  })

  test('error: a missing or non-hex preimage is an unknown outcome too', async () => {
    for (const preimage of ['', 'zz'.repeat(32), 'ab', undefined]) {
      const { wallet } = recordingWallet(async () => ({ preimage }) as { preimage: string })
      expect((await failure(payerOf(lightning({ wallet, networks: ['regtest'] })).pay(offerFor(), context))).code).toBe(
        'PAYMENT_OUTCOME_UNKNOWN',
      )
    }
  })

  test('error: a wallet error that says nothing was paid stays PAYMENT_FAILED; any other thrown error is an unknown outcome', async () => {
    const offer = offerFor()
    const refusing = recordingWallet(async () => {
      throw new PayfetchError('PAYMENT_FAILED', 'no route')
    })
    expect(
      (await failure(payerOf(lightning({ wallet: refusing.wallet, networks: ['regtest'] })).pay(offer, context))).code,
    ).toBe('PAYMENT_FAILED')
    const throwing = recordingWallet(async () => {
      throw new Error('socket hang up')
    })
    const error = await failure(
      payerOf(lightning({ wallet: throwing.wallet, networks: ['regtest'] })).pay(offer, context),
    )
    expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { paymentHash: offer.paymentHash } })
    expect((error.cause as Error).message).toBe('socket hang up')
  })

  test('error: a wallet that never answers (and ignores its signal) is reported unknown at the timeout, after one call', async () => {
    const { wallet, calls } = recordingWallet(() => new Promise(() => {}))
    const started = performance.now()
    const error = await failure(
      payerOf(lightning({ wallet, networks: ['regtest'], timeoutMs: 150 })).pay(offerFor(), context),
    )
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    expect(error.shortMessage).toContain('no answer came before the timeout')
    expect(calls).toHaveLength(1)
    expect(calls[0]?.options.signal.aborted).toBe(true)
  })

  test('behavior: a request aborted before paying never reaches the wallet', async () => {
    const { wallet, calls } = recordingWallet()
    const controller = new AbortController()
    controller.abort(new Error('caller gave up'))
    await expect(
      payerOf(lightning({ wallet, networks: ['regtest'] })).pay(offerFor(), { ...context, signal: controller.signal }),
    ).rejects.toThrow('caller gave up')
    expect(calls).toHaveLength(0)
  })

  test('error: paying an offer it cannot pay fails before the wallet is called', async () => {
    const { wallet, calls } = recordingWallet()
    const error = await failure(payerOf(lightning({ wallet })).pay(offerFor(), context))
    expect(error.code).toBe('PAYMENT_FAILED')
    expect(calls).toHaveLength(0)
  })

  test('error: invalid options are refused when the signer is created', () => {
    const { wallet } = recordingWallet()
    const invalid = (run: () => unknown) =>
      expect(run).toThrowError(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
    invalid(() => lightning({ wallet: {} as LightningWallet }))
    invalid(() => lightning({ wallet, maxFeeSats: -1 }))
    invalid(() => lightning({ wallet, maxFeeSats: 1.5 }))
    invalid(() => lightning({ wallet, timeoutMs: 0 }))
    invalid(() => lightning({ wallet, networks: ['simnet'] }))
    invalid(() => lnd({ url: 'ftp://node', macaroon: 'ab' }))
    invalid(() => lnd({ url: 'https://127.0.0.1:8080', macaroon: 'not hex' }))
    invalid(() => coreLightning({ url: 'https://127.0.0.1:3010', rune: 'a b' }))
    invalid(() => lnbits({ url: 'https://lnbits.example.com', adminKey: '' }))
  })
})

describe('nwc()', () => {
  const pubkey = 'a'.repeat(64)
  const secret = 'b'.repeat(64)
  const WebSocket = class {} as never

  test('error: a malformed connection URI is refused without repeating the secret', () => {
    for (const uri of [
      'https://example.com',
      `nostr+walletconnect://${pubkey}?secret=${secret}`,
      `nostr+walletconnect://${pubkey}?relay=https%3A%2F%2Frelay&secret=${secret}`,
      `nostr+walletconnect://${pubkey.slice(1)}?relay=wss%3A%2F%2Frelay&secret=${secret}`,
      `nostr+walletconnect://${pubkey}?relay=wss%3A%2F%2Frelay&secret=${secret.slice(2)}`,
      'not a uri',
    ]) {
      try {
        nwc(uri, { WebSocket })
        expect.unreachable(uri)
      } catch (error) {
        expect(error).toMatchObject({ code: 'INVALID_OPTIONS' })
        expect(
          JSON.stringify({ message: (error as Error).message, details: (error as PayfetchError).details }),
        ).not.toContain(secret.slice(2))
      }
    }
    expect(
      nwc(
        `nostr+walletconnect://${pubkey}?relay=wss%3A%2F%2Frelay.example&relay=ws%3A%2F%2F127.0.0.1%3A7447&secret=${secret}`,
        { WebSocket },
      ).name,
    ).toBe('nwc')
  })

  test('error: without a global WebSocket (Node 20) the class must be passed', () => {
    expect(globalThis.WebSocket).toBeUndefined()
    expect(() => nwc(`nostr+walletconnect://${pubkey}?relay=wss%3A%2F%2Frelay&secret=${secret}`)).toThrowError(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    )
  })
})

describe('lightning signer: looking a payment up', () => {
  const lookupOf = (wallet: LightningWallet, options: { timeoutMs?: number } = {}) =>
    (lightning({ wallet, networks: ['regtest'], ...options }).methods.bolt11 as MethodPayer<'bolt11'>).lookup

  test('behavior: a paid payment comes back as its proof, with the lowercase preimage and the fee; the hash and timeout go to the wallet', async () => {
    const offer = offerFor()
    const paid = node.pay(offer.invoice)
    const asked: { hash: string; timeoutSeconds: number }[] = []
    const lookup = lookupOf(
      {
        payInvoice: async () => Promise.reject(new Error('never asked to pay')),
        async lookupPayment(hash, { timeoutSeconds }) {
          asked.push({ hash, timeoutSeconds })
          return { status: 'paid', preimage: paid.preimage.toUpperCase(), feeMsat: 7n }
        },
      },
      { timeoutMs: 20_000 },
    )
    expect(await lookup?.(offer, context)).toEqual({ kind: 'bolt11', preimage: paid.preimage, feeMsat: 7n })
    expect(asked).toEqual([{ hash: offer.paymentHash, timeoutSeconds: 18 }])
  })

  test('error: a preimage that does not hash to the payment hash, a pending payment and a lookup that throws are unknown; a failed one is failed', async () => {
    const offer = offerFor()
    const answers: (() => Promise<PaymentStatus>)[] = [
      async () => ({ status: 'paid', preimage: 'ab'.repeat(32) }),
      async () => ({ status: 'paid', preimage: 'not hex' }),
      async () => ({ status: 'pending' }),
      async () => Promise.reject(new Error('node unreachable')),
    ]
    for (const answer of answers) {
      const lookup = lookupOf({ payInvoice: async () => ({ preimage: '' }), lookupPayment: answer })
      const found = await lookup?.(offer, context).catch(() => 'unknown')
      expect(found).toBe('unknown')
    }
    const failed = lookupOf({
      payInvoice: async () => ({ preimage: '' }),
      lookupPayment: async () => ({ status: 'failed' }),
    })
    expect(await failed?.(offer, context)).toBe('failed')
  })

  test('error: a lookup that never answers ends at the signer timeout', async () => {
    const lookup = lookupOf(
      { payInvoice: async () => ({ preimage: '' }), lookupPayment: () => new Promise<never>(() => {}) },
      { timeoutMs: 50 },
    )
    await expect(lookup?.(offerFor(), context)).rejects.toMatchObject({ name: 'TimeoutError' })
  })

  test('behavior: a wallet without lookupPayment gives the signer no lookup', () => {
    expect(lookupOf(recordingWallet().wallet)).toBeUndefined()
  })
})

describe('webln()', () => {
  test('behavior: enables the provider and pays with sendPayment', async () => {
    const sent: string[] = []
    const provider = {
      enable: async () => {},
      sendPayment: async (invoice: string) => (sent.push(invoice), { preimage: node.pay(invoice).preimage }),
    }
    const offer = offerFor()
    const payment = await payerOf(lightning({ wallet: webln(provider), networks: ['regtest'] })).pay(offer, context)
    expect(sent).toEqual([offer.invoice])
    expect(payment).toMatchObject({ kind: 'bolt11', preimage: expect.stringMatching(/^[0-9a-f]{64}$/) })
  })

  test('error: no provider, a refused enable() and a rejected payment are PAYMENT_FAILED; a hung one is unknown', async () => {
    const pay = (wallet: LightningWallet, timeoutMs = 1000) =>
      failure(payerOf(lightning({ wallet, networks: ['regtest'], timeoutMs })).pay(offerFor(), context))
    expect((await pay(webln())).code).toBe('PAYMENT_FAILED')
    expect(
      (
        await pay(
          webln({ enable: () => Promise.reject(new Error('denied')), sendPayment: async () => ({ preimage: '' }) }),
        )
      ).code,
    ).toBe('PAYMENT_FAILED')
    const rejected = await pay(webln({ sendPayment: () => Promise.reject(new Error('User rejected')) }))
    expect(rejected).toMatchObject({ code: 'PAYMENT_FAILED', details: { wallet: 'webln', message: 'User rejected' } })
    expect((await pay(webln({ sendPayment: () => new Promise(() => {}) }), 100)).code).toBe('PAYMENT_OUTCOME_UNKNOWN')
  })
})
