import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createLightningNode } from '../../../examples/local-stack/lightningNode.js'
import type { Eip3009Proof } from '../../../src/methods/Eip3009.js'
import type { MethodProof } from '../../../src/methods/PaymentMethod.js'
import type { Offer } from '../../../src/offer/Offer.js'
import { lightningNetworks } from '../../../src/protocols/l402/networks.js'
import type { Response402 } from '../../../src/protocols/Protocol.js'
import { decodePayment } from '../../../src/protocols/payment/decodePayment.js'
import { payment } from '../../../src/protocols/payment/index.js'
import { solanaDevnet } from '../../../src/protocols/x402/networks.js'
import { thrownPayfetchError } from '../../support/thrown.js'

// A 402 captured from a real mppx 0.11 server (mpp-wire.md §2); the clock is set before it expired.
const captured =
  'Payment id="eTyz5evxlJttk-bEHx5d2qGEBiLsmtMrbc2qPchNbhM", realm="127.0.0.1:39015", method="evm", intent="charge", request="eyJhbW91bnQiOiIxMDAwMCIsImN1cnJlbmN5IjoiMHgwMzZDYkQ1Mzg0MmM1NDI2NjM0ZTc5Mjk1NDFlQzIzMThmM2RDRjdlIiwibWV0aG9kRGV0YWlscyI6eyJjaGFpbklkIjo4NDUzMiwiY3JlZGVudGlhbFR5cGVzIjpbImF1dGhvcml6YXRpb24iXSwiZGVjaW1hbHMiOjZ9LCJyZWNpcGllbnQiOiIweGE1MDA2YkQ5RTg2MUMxYjk5MjliN0IzYjExRDRmNTk5NjVlZkVGMDUifQ", description="weather report", expires="2026-12-01T03:52:55.697Z"'
const now = Date.parse('2026-12-01T03:48:00Z')
const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const recipient = '0xa5006bD9E861C1b9929b7B3b11D4f59965efEF05'

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(now)
})

afterEach(() => {
  vi.useRealTimers()
})

const response = (...lines: string[]): Response402 => ({
  url: 'https://api.example.com/weather',
  headers: new Headers(lines.map((line): [string, string] => ['www-authenticate', line])),
  body: undefined,
})
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const challenge = (method: string, request: unknown, extra: Record<string, string> = {}, intent = 'charge'): string => {
  const params = { id: `id-${method}`, realm: 'api.example.com', method, intent, request: b64url(request), ...extra }
  return `Payment ${Object.entries(params)
    .map(([name, value]) => `${name}="${value}"`)
    .join(', ')}`
}
const evmRequest = (methodDetails: Record<string, unknown> = {}) => ({
  amount: '10000',
  currency: usdc,
  recipient,
  methodDetails: { chainId: 84532, credentialTypes: ['authorization'], decimals: 6, ...methodDetails },
})
const problems = (run: () => unknown) => thrownPayfetchError(run).details.problems

describe('decodePayment', () => {
  test('behavior: the captured mppx challenge becomes an evm charge offer with an EIP-3009 request bound to the challenge', () => {
    const [offer] = decodePayment(response(captured))
    expect(offer).toMatchObject({
      protocol: 'payment',
      scheme: 'charge',
      network: 'eip155:84532',
      asset: { id: usdc, decimals: 6, symbol: 'USDC' },
      amount: 10_000n,
      payTo: recipient,
      resource: 'https://api.example.com/weather',
      description: 'weather report',
      expiresAt: Date.parse('2026-12-01T03:52:55.697Z'),
    })
    expect(offer?.method).toStrictEqual({
      kind: 'eip3009',
      chainId: 84532,
      token: usdc,
      to: recipient,
      value: 10_000n,
      validBefore: { at: Math.floor(Date.parse('2026-12-01T03:52:55.697Z') / 1000) },
      nonce: { keccak256Of: 'eTyz5evxlJttk-bEHx5d2qGEBiLsmtMrbc2qPchNbhM127.0.0.1:39015' },
    })
  })

  test('behavior: every Payment challenge of a comma-joined line is read, beside L402 and Basic ones', () => {
    const usdcLine = challenge('evm', evmRequest())
    const eurcLine = challenge('evm', { ...evmRequest(), amount: '20000', currency: recipient })
    const offers = decodePayment(
      response(`Basic realm="app", ${eurcLine}, L402 macaroon="AgE=", invoice="lnbc1", ${usdcLine}`),
    )
    expect(offers.map((offer) => [offer.asset.id, offer.amount])).toEqual([
      [recipient, 20_000n],
      [usdc, 10_000n],
    ])
  })

  test('behavior: expires may be RFC 3339 or numeric seconds; an expired challenge is no offer', () => {
    const inFuture = Math.floor(now / 1000) + 60
    const [numeric] = decodePayment(response(challenge('evm', evmRequest(), { expires: String(inFuture) })))
    expect(numeric?.expiresAt).toBe(inFuture * 1000)
    expect(
      problems(() => decodePayment(response(challenge('evm', evmRequest(), { expires: String(inFuture - 120) })))),
    ).toEqual(['evm: the challenge has expired'])
    expect(problems(() => decodePayment(response(challenge('evm', evmRequest(), { expires: 'tomorrow' }))))).toEqual([
      'evm: expires is not a date',
    ])
    // Without expires, the authorization lasts five minutes from signing.
    const [open] = decodePayment(response(challenge('evm', evmRequest())))
    expect(open?.method).toMatchObject({ validBefore: { afterSeconds: 300 } })
  })

  test('behavior: other intents and unknown methods give no offer and no error', () => {
    expect(decodePayment(response(challenge('evm', evmRequest(), {}, 'session')))).toEqual([])
    expect(decodePayment(response(challenge('stripe', evmRequest())))).toEqual([])
    expect(decodePayment(response('L402 macaroon="AgE=", invoice="lnbc1"'))).toEqual([])
  })

  test('error: malformed challenges are CHALLENGE_INVALID, each with its reason', () => {
    const cases: [string, string][] = [
      ['Payment realm="r", method="evm", intent="charge", request="e30"', 'evm: id or realm is missing'],
      [
        'Payment id="x", realm="r", method="EVM", intent="charge", request="e30"',
        'EVM: method or intent is missing or malformed',
      ],
      [
        challenge('evm', evmRequest()).replace(/request="[^"]+"/, 'request="not json!"'),
        'evm: request is not base64url JSON',
      ],
      [challenge('evm', { ...evmRequest(), amount: '0' }), 'evm: request.amount is not a positive integer string'],
      [challenge('evm', { ...evmRequest(), amount: 12 }), 'evm: request.amount is not a positive integer string'],
      [challenge('evm', { ...evmRequest(), currency: undefined }), 'evm: request.currency is missing'],
      [challenge('evm', evmRequest({ chainId: '84532' })), 'evm: methodDetails.chainId is missing'],
      [challenge('evm', { ...evmRequest(), recipient: 'bob' }), 'evm: currency or recipient is not an address'],
      [challenge('evm', evmRequest(), { header: 'Cookie' }), 'evm: the credential header Cookie is refused'],
      [challenge('evm', evmRequest(), { header: 'X Bad' }), 'evm: the credential header X Bad is refused'],
      [
        `Payment id="x", realm="r", method="evm", intent="charge", request="${'e'.repeat(17_000)}"`,
        'evm: request is missing or too large',
      ],
    ]
    for (const [line, problem] of cases)
      expect(
        problems(() => decodePayment(response(line))),
        line.slice(0, 60),
      ).toEqual([problem])
  })

  test('policy: a credential header fetch drops (set-cookie), proxies route by, or another payment header uses is refused', () => {
    const refused = ['Set-Cookie', 'forwarded', 'X-Forwarded-Host', 'x-real-ip', 'X-HTTP-Method-Override']
    refused.push('www-authenticate', 'payment-receipt', 'Payment-Response', 'accept-payment', 'x-payment-response')
    for (const header of refused)
      expect(problems(() => decodePayment(response(challenge('evm', evmRequest(), { header }))))).toEqual([
        `evm: the credential header ${header} is refused`,
      ])
    const named = decodePayment(response(challenge('evm', evmRequest(), { header: 'Payment-Authorization' })))
    expect(named).toHaveLength(1)
  })

  test('policy: asset decimals come from payfetch’s table, never from the server', () => {
    const unknownToken = '0x1111111111111111111111111111111111111111'
    const [offer] = decodePayment(
      response(challenge('evm', { ...evmRequest({ decimals: 18 }), currency: unknownToken })),
    )
    expect(offer?.asset).toEqual({ id: unknownToken, decimals: undefined, symbol: undefined })
  })

  test('behavior: an evm charge payfetch cannot sign (no authorization credential type, or splits) is an offer without a method', () => {
    for (const details of [
      { credentialTypes: ['permit2', 'transaction'] },
      { credentialTypes: undefined },
      { splits: [{ recipient, amount: '1' }] },
    ]) {
      const [offer] = decodePayment(response(challenge('evm', evmRequest(details))))
      expect(offer?.amount).toBe(10_000n)
      expect(offer?.method).toBeUndefined()
    }
  })

  test('behavior: a tempo charge becomes a Tempo transfer with the server’s memo, or one bound to the challenge; splits must leave the recipient something', () => {
    const tempo = (methodDetails: Record<string, unknown>) =>
      challenge('tempo', {
        amount: '10000',
        currency: '0x20c0000000000000000000000000000000000000',
        recipient,
        methodDetails,
      })
    const [sponsored] = decodePayment(response(tempo({ chainId: 1337, feePayer: true })))
    expect(sponsored?.network).toBe('eip155:1337')
    expect(sponsored?.method).toMatchObject({
      kind: 'tempo-transfer',
      chainId: 1337,
      amount: 10_000n,
      feePayer: true,
      memo: { challengeId: 'id-tempo', realm: 'api.example.com' },
    })
    const memo = `0x${'ab'.repeat(32)}`
    const split = { recipient: usdc, amount: '4000' }
    const [withMemo] = decodePayment(response(tempo({ memo, splits: [split] })))
    expect(withMemo?.network).toBe('eip155:42431')
    expect(withMemo?.method).toMatchObject({ memo, feePayer: false, splits: [{ to: usdc, amount: 4000n }] })
    const [pushOnly] = decodePayment(response(tempo({ supportedModes: ['push'] })))
    expect(pushOnly?.method).toBeUndefined()
    expect(problems(() => decodePayment(response(tempo({ splits: [{ ...split, amount: '10000' }] }))))).toEqual([
      'tempo: the splits leave the recipient nothing',
    ])
    expect(problems(() => decodePayment(response(tempo({ memo: 'hello' }))))).toEqual([
      'tempo: methodDetails.memo is not bytes32',
    ])
  })

  test('behavior: a lightning charge is an invoice request in msat; an invoice that contradicts the request is refused', () => {
    const node = createLightningNode()
    const { invoice, paymentHash } = node.createInvoice({ amountMsat: 100_000n, timestamp: Math.floor(now / 1000) })
    const lightning = (fields: Record<string, unknown>, details: Record<string, unknown> = {}) =>
      challenge('lightning', {
        amount: '100',
        currency: 'sat',
        methodDetails: { invoice, paymentHash, network: 'regtest', ...details },
        ...fields,
      })
    const [offer] = decodePayment(response(lightning({})))
    expect(offer).toMatchObject({
      network: lightningNetworks.regtest,
      asset: { id: 'BTC', decimals: 11 },
      amount: 100_000n,
    })
    expect(offer?.method).toMatchObject({ kind: 'bolt11', paymentHash, amountMsat: 100_000n })
    expect(problems(() => decodePayment(response(lightning({ amount: '10' }))))).toEqual([
      'lightning: the invoice amount differs from the request',
    ])
    expect(problems(() => decodePayment(response(lightning({}, { paymentHash: '00'.repeat(32) }))))).toEqual([
      'lightning: the payment hash differs from the invoice',
    ])
    expect(problems(() => decodePayment(response(lightning({}, { network: 'mainnet' }))))).toEqual([
      'lightning: the network differs from the invoice',
    ])
    expect(problems(() => decodePayment(response(lightning({ currency: 'BTC' }))))).toEqual([
      'lightning: currency is not sat',
    ])
  })

  test('behavior: a sponsored solana SPL charge is a transfer the server co-signs; native SOL and unsponsored charges have no method', () => {
    const solana = (fields: Record<string, unknown>, details: Record<string, unknown> = {}) =>
      challenge('solana', {
        amount: '10000',
        currency: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
        recipient: 'Gh9ZwEmdLJ8DscKNTkTqPbNwLNNBjuSzaG9Vp2KGtKJr',
        externalId: 'order-7',
        methodDetails: {
          network: 'devnet',
          decimals: 6,
          feePayer: true,
          feePayerKey: '9aE3Fg7HjKLmNpQr5TuVwXyZ2AbCdEf8GhiJkLmNoP1R',
          ...details,
        },
        ...fields,
      })
    const [offer] = decodePayment(response(solana({})))
    expect(offer?.network).toBe(solanaDevnet)
    expect(offer?.method).toMatchObject({
      kind: 'spl-transfer',
      feePayer: '9aE3Fg7HjKLmNpQr5TuVwXyZ2AbCdEf8GhiJkLmNoP1R',
      memo: 'order-7',
    })
    expect(decodePayment(response(solana({ currency: 'sol' })))[0]?.method).toBeUndefined()
    expect(decodePayment(response(solana({}, { feePayer: false, feePayerKey: undefined })))[0]?.method).toBeUndefined()
    expect(problems(() => decodePayment(response(solana({}, { network: 'localnet' }))))).toEqual([
      'solana: the cluster localnet is not one payfetch knows',
    ])
  })
})

describe('payment protocol', () => {
  const proof: Eip3009Proof = {
    kind: 'eip3009',
    signature: '0xabc',
    authorization: {
      from: '0x01',
      to: recipient,
      value: '10000',
      validAfter: '0',
      validBefore: '1796097184',
      nonce: '0x02',
    },
    payer: '0x00000000000000000000000000000000000000Aa',
  }
  const decodeCredential = (value: string) =>
    JSON.parse(Buffer.from(value.replace(/^Payment /, ''), 'base64url').toString())
  const offerOf = (line: string) => decodePayment(response(line))[0] as Offer

  test('behavior: the credential echoes every param received verbatim, carries the method payload and the payer DID, in the header the challenge names', () => {
    const extra = {
      description: 'a \\"quoted\\" thing',
      digest: 'sha-256=:AAAA:',
      opaque: 'eyJvIjoiMSJ9',
      expires: '2026-12-01T03:52:55.697Z',
      header: 'Payment-Authorization',
    }
    const offer = offerOf(challenge('evm', evmRequest(), extra))
    const headers = payment.proofHeaders(offer, proof, { idempotencyKey: 'k' })
    expect(Object.keys(headers)).toEqual(['payment-authorization'])
    const credential = decodeCredential(headers['payment-authorization']!)
    expect(credential).toStrictEqual({
      challenge: {
        id: 'id-evm',
        realm: 'api.example.com',
        method: 'evm',
        intent: 'charge',
        request: b64url(evmRequest()),
        expires: extra.expires,
        digest: extra.digest,
        opaque: extra.opaque,
        description: 'a "quoted" thing',
        header: 'Payment-Authorization',
      },
      payload: { type: 'authorization', ...proof.authorization, signature: '0xabc' },
      source: `did:pkh:eip155:84532:${proof.payer}`,
    })
    expect(headers['payment-authorization']).not.toMatch(/[=+/]/)
  })

  test('behavior: unknown params are ignored: the same offer as without them, and not echoed in the credential', () => {
    const plain = offerOf(challenge('evm', evmRequest()))
    const offer = offerOf(challenge('evm', evmRequest(), { 'x-future': 'ignored', amount: '1', recipient: 'bob' }))
    expect({ ...offer, raw: undefined }).toStrictEqual({ ...plain, raw: undefined })
    const { challenge: echoed } = decodeCredential(
      payment.proofHeaders(offer, proof, { idempotencyKey: 'k' }).authorization!,
    )
    expect(Object.keys(echoed).sort()).toEqual(['id', 'intent', 'method', 'realm', 'request'])
  })

  test('behavior: each method’s payload: a Tempo transaction, an SPL transaction, a preimage', () => {
    const proofs: [MethodProof, unknown][] = [
      [
        { kind: 'tempo-transfer', transaction: '0x78f9', payer: '0x00000000000000000000000000000000000000Aa' },
        { type: 'transaction', signature: '0x78f9' },
      ],
      [
        { kind: 'spl-transfer', transaction: 'AQID', payer: 'So11111111111111111111111111111111111111112' },
        { type: 'transaction', transaction: 'AQID' },
      ],
      [{ kind: 'bolt11', preimage: 'ab'.repeat(32) }, { preimage: 'ab'.repeat(32) }],
    ]
    const offer = offerOf(challenge('evm', evmRequest()))
    for (const [given, payload] of proofs) {
      const credential = decodeCredential(
        payment.proofHeaders(offer, given, { idempotencyKey: 'k' }).authorization ?? '',
      )
      expect(credential.payload).toEqual(payload)
    }
  })

  test('behavior: Payment-Receipt is read; problem details (detail or title, and type) give the refusal reason; 402 and 403 refuse', () => {
    const receipt = b64url({
      method: 'evm',
      reference: '0xabc',
      status: 'success',
      timestamp: '2026-12-01T03:48:04.742Z',
    })
    expect(payment.settlement?.(new Response('ok', { headers: { 'payment-receipt': receipt } }))).toEqual({
      success: true,
      reference: '0xabc',
    })
    expect(payment.settlement?.(new Response('ok', { headers: { 'payment-receipt': 'garbage!' } }))).toBeUndefined()
    const problem = (body: string) => payment.refusalReason({ url: 'https://a.example', headers: new Headers(), body })
    expect(
      problem(
        '{"type":"https://paymentauth.org/problems/verification-failed","title":"Verification Failed","detail":"EVM authorization amount mismatch"}',
      ),
    ).toBe('EVM authorization amount mismatch (https://paymentauth.org/problems/verification-failed)')
    expect(problem('{"title":"Payment Required"}')).toBe('Payment Required')
    expect(problem('{"type":"about:blank","title":"Forbidden"}')).toBe('Forbidden')
    expect(problem('{"type":"https://paymentauth.org/problems/payment-expired"}')).toBe(
      'https://paymentauth.org/problems/payment-expired',
    )
    expect(problem('<html>')).toBeUndefined()
    expect([401, 402, 403, 409].map((status) => payment.refuses?.(status))).toEqual([false, true, true, false])
  })

  test('behavior: Accept-Payment lists the method/intent pairs of the kinds the signers pay, once each', () => {
    expect(payment.acceptHeaders?.(new Set(['eip3009', 'bolt11', 'tempo-transfer']))).toEqual({
      'accept-payment': 'evm/charge, lightning/charge, tempo/charge',
    })
    expect(payment.acceptHeaders?.(new Set())).toBeUndefined()
  })

  test('behavior: a body digest binds the offer to that body (sha-256 and sha-512), else the request is refused', async () => {
    const body = new TextEncoder().encode('{"order":42}')
    const sha = async (algorithm: string) => Buffer.from(await crypto.subtle.digest(algorithm, body)).toString('base64')
    const bound = (digest: string) => offerOf(challenge('evm', evmRequest(), { digest }))
    expect(await payment.checkRequest?.(bound(`sha-256=:${await sha('SHA-256')}:`), body)).toBeUndefined()
    expect(
      await payment.checkRequest?.(bound(`sha-512=:${await sha('SHA-512')}:, sha-256=:${await sha('SHA-256')}:`), body),
    ).toBeUndefined()
    expect(
      await payment.checkRequest?.(bound(`sha-256=:${await sha('SHA-256')}:`), new TextEncoder().encode('{}')),
    ).toMatch(/digest/)
    expect(await payment.checkRequest?.(bound('md5=:AAAA:'), body)).toMatch(/digest/)
    expect(await payment.checkRequest?.(offerOf(challenge('evm', evmRequest())), body)).toBeUndefined()
  })
})
