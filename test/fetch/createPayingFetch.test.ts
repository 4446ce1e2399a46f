import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { decodeBase64Json, encodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import {
  createPayingFetch,
  getReceipt,
  isPayfetchError,
  PayfetchError,
  type PayfetchEvent,
  type Receipt,
  type SessionStore,
} from '../../src/index.js'
import { wrapPayers } from '../support/countingSigner.js'
import { type Merchant, payTo, requirement, startMerchant, usdc } from '../support/merchant.js'

const account = privateKeyToAccount(generatePrivateKey())
const signers = [evm({ account })]

let merchant: Merchant
let other: Merchant

beforeAll(async () => {
  other = await startMerchant({
    '/landing': (_request, response) =>
      void response.writeHead(200, { 'content-type': 'text/plain' }).end('landed elsewhere'),
    '/paid': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('other paid')),
  })
  merchant = await startMerchant({
    '/free': (_request, response) => void response.writeHead(200, { 'x-free': 'yes' }).end('free content'),
    '/weather': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('sunny')),
    'POST /echo': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => {
        response.writeHead(200, { 'content-type': request.headers['content-type'] ?? '' })
        response.end(request.body)
      }),
    '/two-offers': async (request, response, self) =>
      self.charge(
        request,
        response,
        [
          requirement({ amount: '20000' }),
          requirement({
            network: 'eip155:8453',
            asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
            extra: { name: 'USD Coin', version: '2' },
            amount: '15000',
          }),
        ],
        () => response.end('cheapest paid'),
      ),
    '/pricey': async (request, response, self) =>
      self.charge(request, response, [requirement({ amount: '5000000' })], () => response.end('expensive')),
    '/unknown-asset': async (request, response, self) =>
      self.charge(
        request,
        response,
        [requirement({ asset: '0x1111111111111111111111111111111111111111', extra: { name: 'Test', version: '1' } })],
        () => response.end('unknown paid'),
      ),
    '/solana-only': async (request, response, self) =>
      self.charge(
        request,
        response,
        [
          requirement({
            network: 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1',
            asset: '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU',
          }),
        ],
        () => response.end('never'),
      ),
    '/always-402': async (request, response, self) => {
      // Takes the proof, then refuses anyway: a second 402 after paying.
      if (request.headers['payment-signature']) {
        const challenge = { x402Version: 2, error: 'settlement failed', accepts: [requirement()] }
        response.writeHead(402, {
          'payment-required': encodeBase64Json(challenge),
          'payment-response': encodeBase64Json({
            success: false,
            errorReason: 'insufficient_funds',
            transaction: '',
            network: 'eip155:84532',
          }),
        })
        return void response.end('{}')
      }
      await self.charge(request, response, [requirement()], () => response.end('unreachable'))
    },
    '/redirect-same': async (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(302, { location: '/after-redirect' }).end(),
      ),
    '/after-redirect': (request, response) =>
      void response.writeHead(200).end(`proof here: ${request.headers['payment-signature'] ? 'yes' : 'no'}`),
    '/redirect-away': async (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(307, { location: `${other.url}/landing` }).end(),
      ),
    '/hang-up': async (request, response, self) => {
      if (request.headers['payment-signature']) return void response.socket?.destroy()
      await self.charge(request, response, [requirement()], () => {})
    },
    '/liar': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => {
        // Claims a bigger amount on another chain than the offer it was paid for.
        response.setHeader(
          'payment-response',
          encodeBase64Json({
            success: true,
            transaction: '0xfeed',
            network: 'eip155:1',
            amount: '999999999',
            payer: '0x0000000000000000000000000000000000000001',
          }),
        )
        response.end('paid, lying')
      }),
    '/garbage': (_request, response) => void response.writeHead(402, { 'payment-required': 'not base64!' }).end(),
    '/plain-402': (_request, response) => void response.writeHead(402).end('pay me somehow'),
  })
})

afterAll(async () => {
  await merchant.close()
  await other.close()
})

const proofsAt = (path: string, target = merchant) =>
  target.seen.filter((entry) => entry.path === path && entry.headers['payment-signature'])

describe('createPayingFetch', () => {
  test('behavior: a response that is not 402 passes through untouched', async () => {
    const response = await createPayingFetch({ signers })(`${merchant.url}/free`)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-free')).toBe('yes')
    expect(await response.text()).toBe('free content')
    expect(getReceipt(response)).toBeUndefined()
  })

  test('behavior: pays a v2 challenge once and returns the paid response with its receipt', async () => {
    const events: PayfetchEvent[] = []
    const before = merchant.settled.length
    const response = await createPayingFetch({ signers, onEvent: (event) => events.push(event) })(
      `${merchant.url}/weather`,
    )
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('sunny')
    expect(merchant.settled.length).toBe(before + 1)
    const settled = merchant.settled.at(-1)
    expect(settled?.from).toBe(account.address)
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({
      protocol: 'x402',
      network: 'eip155:84532',
      asset: usdc,
      amount: 10000n,
      payTo,
      payer: account.address,
      url: `${merchant.url}/weather`,
    })
    expect(receipt?.reference).toMatch(/^0x[0-9a-f]{64}$/)
    expect(events.map((event) => event.type)).toEqual(['challenge', 'offer.chosen', 'payment.sent', 'receipt'])
    expect(
      JSON.stringify(events, (_key, value) => (typeof value === 'bigint' ? value.toString() : value)),
    ).not.toContain(proofsAt('/weather').at(-1)?.headers['payment-signature'])
  })

  test('behavior: the replay sends the same bytes for a stream body', async () => {
    const bytes = new Uint8Array(200_000).map((_, index) => index % 251)
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 100_000))
        controller.enqueue(bytes.slice(100_000))
        controller.close()
      },
    })
    const response = await createPayingFetch({ signers })(`${merchant.url}/echo`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(200)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes)
    const sends = merchant.seen.filter((entry) => entry.path === '/echo').slice(-2)
    expect(sends.map((entry) => entry.body.equals(Buffer.from(bytes)))).toEqual([true, true])
  })

  test('behavior: a Request object keeps its method, headers and body on the replay', async () => {
    const request = new Request(`${merchant.url}/echo`, {
      method: 'POST',
      body: '{"q":"räksmörgås"}',
      headers: { 'content-type': 'application/json', 'x-trace': 'abc' },
    })
    const response = await createPayingFetch({ signers })(request)
    expect(await response.text()).toBe('{"q":"räksmörgås"}')
    const replay = proofsAt('/echo').at(-1)
    expect(replay?.headers['x-trace']).toBe('abc')
    expect(replay?.headers['content-type']).toBe('application/json')
  })

  test('behavior: a string body is replayed byte for byte, with the content type fetch gives a string', async () => {
    const response = await createPayingFetch({ signers })(`${merchant.url}/echo`, {
      method: 'post',
      body: 'räksmörgås',
    })
    expect(await response.text()).toBe('räksmörgås')
    expect(response.headers.get('content-type')).toBe('text/plain;charset=UTF-8')
    const sends = merchant.seen.filter((entry) => entry.path === '/echo').slice(-2)
    expect(sends.map((entry) => [entry.method, entry.body.toString('utf8')])).toEqual([
      ['POST', 'räksmörgås'],
      ['POST', 'räksmörgås'],
    ])
  })

  test('behavior: a typed-array body is copied when the call starts: the caller reusing its buffer does not change the replay', async () => {
    const buffer = new Uint8Array([1, 2, 3, 4, 5, 6])
    const response = await createPayingFetch({
      signers,
      // Runs between the first send and the replay.
      approve: () => {
        buffer.fill(9)
        return true
      },
    })(`${merchant.url}/echo`, { method: 'POST', body: buffer.subarray(1, 4) })
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([2, 3, 4])
  })

  test('behavior: the caller’s headers are copied when the call starts, as fetch does: changing them afterwards changes no send', async () => {
    const headers = new Headers({ 'x-trace': 'first' })
    const call = createPayingFetch({ signers })(`${merchant.url}/weather`, { headers })
    headers.set('x-trace', 'changed')
    headers.set('x-late', 'yes')
    expect(await (await call).text()).toBe('sunny')
    const sends = merchant.seen.filter((entry) => entry.path === '/weather').slice(-2)
    expect(sends.map((entry) => entry.headers['x-trace'])).toEqual(['first', 'first'])
    expect(sends.map((entry) => entry.headers['x-late'])).toEqual([undefined, undefined])
  })

  test('behavior: the caller’s init is read when the call starts, as fetch reads it: changing it afterwards changes no send', async () => {
    const init: RequestInit = { method: 'GET' }
    const call = createPayingFetch({ signers })(`${merchant.url}/weather`, init)
    init.method = 'DELETE'
    expect(await (await call).text()).toBe('sunny')
    const sends = merchant.seen.filter((entry) => entry.path === '/weather').slice(-2)
    expect(sends.map((entry) => entry.method)).toEqual(['GET', 'GET'])
  })

  test('behavior: a session store that answers with any thenable (not a native promise) is waited for: a live token is sent, an expired one is not', async () => {
    const thenable = (expiresAt?: number) => {
      const token = { protocol: 'l402', headers: { authorization: 'L402 stored-token' }, expiresAt }
      return {
        // A thenable on purpose: what a store built on another promise library returns.
        // biome-ignore lint/suspicious/noThenProperty: the point of the test
        get: () => ({ then: (resolve: (value: typeof token) => void) => resolve(token) }),
        set: () => {},
        delete: () => {},
      } as unknown as SessionStore
    }
    const sentAuthorization = async (sessions: SessionStore) => {
      const response = await createPayingFetch({ signers, sessions })(`${merchant.url}/free`)
      expect(await response.text()).toBe('free content')
      return merchant.seen.filter((entry) => entry.path === '/free').at(-1)?.headers.authorization
    }
    expect(await sentAuthorization(thenable())).toBe('L402 stored-token')
    expect(await sentAuthorization(thenable(Date.now() - 1_000))).toBeUndefined()
  })

  test('behavior: RequestInit fields payfetch does not know (an undici dispatcher) reach the wrapped fetch on every send', async () => {
    const dispatcher = { name: 'a dispatcher' }
    const seen: unknown[] = []
    const fetchPaid = createPayingFetch({
      signers,
      fetch: (input, init) => {
        const { dispatcher: given, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown }
        seen.push(given)
        return fetch(input, rest)
      },
    })
    const response = await fetchPaid(`${merchant.url}/weather`, { dispatcher } as RequestInit)
    expect(await response.text()).toBe('sunny')
    expect(seen).toEqual([dispatcher, dispatcher])
  })

  test('behavior: a receipt read later is the one of the paid answer: dated when it arrived, the same the event carried', async () => {
    const arrived = Date.UTC(2026, 11, 1, 12)
    vi.useFakeTimers({ toFake: ['Date'], now: arrived })
    try {
      const quiet = await createPayingFetch({ signers })(`${merchant.url}/weather`)
      let carried: Receipt | undefined
      const observed = await createPayingFetch({
        signers,
        onEvent: (event) => {
          if (event.type === 'receipt') carried = event.receipt
        },
      })(`${merchant.url}/weather`)
      vi.setSystemTime(arrived + 60_000)
      expect(getReceipt(quiet)).toMatchObject({ time: arrived, amount: 10000n, payer: account.address })
      expect(getReceipt(quiet)).toBe(getReceipt(quiet))
      expect(getReceipt(observed)).toBe(carried)
      expect(carried?.time).toBe(arrived)
    } finally {
      vi.useRealTimers()
    }
  })

  test('policy: a settlement report for another network or a bigger amount does not make the receipt', async () => {
    const response = await createPayingFetch({ signers })(`${merchant.url}/liar`)
    expect(await response.text()).toBe('paid, lying')
    expect(getReceipt(response)).toMatchObject({
      network: 'eip155:84532',
      amount: 10000n,
      payer: account.address,
      reference: undefined,
    })
  })

  test('behavior: picks the cheapest offer it can pay', async () => {
    const response = await createPayingFetch({ signers })(`${merchant.url}/two-offers`)
    expect(await response.text()).toBe('cheapest paid')
    expect(getReceipt(response)).toMatchObject({ network: 'eip155:8453', amount: 15000n })
  })

  /** A paying fetch over origins whose `/charge` answers 402, and what each origin was last told. */
  const announcing = (acceptPayment?: 'never') => {
    const announced = new Map<string, string | null>()
    const fetchPaid = createPayingFetch({
      signers,
      acceptPayment,
      fetch: async (input, init) => {
        const url = new URL(String(input))
        announced.set(url.origin, new Headers(init?.headers).get('accept-payment'))
        return new Response(null, { status: url.pathname === '/charge' ? 402 : 200 })
      },
    })
    const told = async (at: string) => {
      await fetchPaid(`${at}/free`)
      return announced.get(at)
    }
    return { fetchPaid, told }
  }

  test('privacy: Accept-Payment goes only to the last 1,024 origins that answered 402 (a call or a quote), never to others', async () => {
    const { fetchPaid, told } = announcing()
    const origin = (index: number) => `http://h${index}.test`
    expect(await told(origin(0))).toBeNull()
    for (let index = 0; index < 1024; index++)
      await expect(fetchPaid(`${origin(index)}/charge`)).rejects.toMatchObject({ code: 'CHALLENGE_INVALID' })
    expect([await told(origin(0)), await told(origin(1023))]).toEqual(['evm/charge', 'evm/charge'])
    // Asking again makes an origin the latest: the next new one pushes out origin 1, not origin 0.
    await expect(fetchPaid(`${origin(0)}/charge`)).rejects.toMatchObject({ code: 'CHALLENGE_INVALID' })
    await expect(fetchPaid.quote(`${origin(1024)}/charge`)).rejects.toMatchObject({ code: 'CHALLENGE_INVALID' })
    expect([await told(origin(0)), await told(origin(1)), await told(origin(1024))]).toEqual([
      'evm/charge',
      null,
      'evm/charge',
    ])
    expect(await told('http://never-charged.test')).toBeNull()
  })

  test("privacy: acceptPayment: 'never' sends no Accept-Payment, also to an origin that answered 402", async () => {
    const { fetchPaid, told } = announcing('never')
    await expect(fetchPaid('http://charging.test/charge')).rejects.toMatchObject({ code: 'CHALLENGE_INVALID' })
    expect(await told('http://charging.test')).toBeNull()
  })

  test('behavior: quote decodes the offers and pays nothing', async () => {
    const before = merchant.settled.length
    const quote = await createPayingFetch({ signers }).quote(`${merchant.url}/two-offers`)
    expect(quote.status).toBe(402)
    expect(
      quote.offers.map(({ offer, signer, refusal }) => [offer.network, offer.amount, signer, refusal?.code]),
    ).toEqual([
      ['eip155:8453', 15000n, 'evm', undefined],
      ['eip155:84532', 20000n, 'evm', undefined],
    ])
    expect(quote.best?.network).toBe('eip155:8453')
    expect(merchant.settled.length).toBe(before)
    expect(await createPayingFetch({ signers }).quote(`${merchant.url}/free`)).toEqual({
      url: `${merchant.url}/free`,
      status: 200,
      offers: [],
    })
  })

  test('error: a body over maxBodyBytes is refused before anything is sent', async () => {
    const before = merchant.seen.length
    const call = createPayingFetch({ signers, maxBodyBytes: 1000 })(`${merchant.url}/echo`, {
      method: 'POST',
      body: 'x'.repeat(1001),
    })
    await expect(call).rejects.toMatchObject({ code: 'REQUEST_TOO_LARGE' })
    expect(merchant.seen.length).toBe(before)
  })

  test('error: a second 402 after paying is PAYMENT_REJECTED with the server reason, and no second payment', async () => {
    const events: PayfetchEvent[] = []
    const call = createPayingFetch({ signers, onEvent: (event) => events.push(event) })(`${merchant.url}/always-402`)
    await expect(call).rejects.toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [PAYMENT_REJECTED] The server answered 402 again after payment: insufficient_funds.]`,
    )
    expect(proofsAt('/always-402')).toHaveLength(1)
    expect(events.at(-1)).toMatchObject({ type: 'payment.failed', error: { code: 'PAYMENT_REJECTED' } })
  })

  test('behavior: maxPayments above 1 lets a call pay again after a second 402', async () => {
    const before = proofsAt('/always-402').length
    await expect(createPayingFetch({ signers, maxPayments: 2 })(`${merchant.url}/always-402`)).rejects.toMatchObject({
      code: 'PAYMENT_REJECTED',
    })
    expect(proofsAt('/always-402').length - before).toBe(2)
  })

  test('behavior: a same-origin redirect after paying keeps the proof', async () => {
    const response = await createPayingFetch({ signers })(`${merchant.url}/redirect-same`)
    expect(await response.text()).toBe('proof here: yes')
    expect(getReceipt(response)?.reference).toMatch(/^0x/)
  })

  test('policy: a cross-origin redirect after paying drops the proof', async () => {
    const before = other.seen.length
    const response = await createPayingFetch({ signers })(`${merchant.url}/redirect-away`)
    expect(await response.text()).toBe('landed elsewhere')
    const landed = other.seen.slice(before)
    expect(landed).toHaveLength(1)
    expect(landed[0]?.headers['payment-signature']).toBeUndefined()
    expect(getReceipt(response)?.reference).toMatch(/^0x/)
  })

  test('error: a lost connection after the proof was sent is PAYMENT_OUTCOME_UNKNOWN, not a retry', async () => {
    const call = createPayingFetch({ signers })(`${merchant.url}/hang-up`)
    await expect(call).rejects.toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN' })
    expect(proofsAt('/hang-up')).toHaveLength(1)
  })

  test('policy: an offer over the per-request cap is refused and nothing is signed', async () => {
    const events: PayfetchEvent[] = []
    const call = createPayingFetch({ signers, onEvent: (event) => events.push(event) })(`${merchant.url}/pricey`)
    await expect(call).rejects.toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [CAP_EXCEEDED] Offer of $5 exceeds the per-request limit of $0.10.]`,
    )
    expect(proofsAt('/pricey')).toHaveLength(0)
    expect(events.map((event) => event.type)).toEqual(['challenge', 'refusal'])
  })

  test('policy: an unknown asset is refused unless listed, and paid within its limit when listed', async () => {
    await expect(createPayingFetch({ signers })(`${merchant.url}/unknown-asset`)).rejects.toMatchObject({
      code: 'ASSET_NOT_ALLOWED',
    })
    expect(proofsAt('/unknown-asset')).toHaveLength(0)
    const asset = { network: 'eip155:84532', asset: '0x1111111111111111111111111111111111111111' }
    await expect(
      createPayingFetch({ signers, caps: { assets: [{ ...asset, maxAmount: 9999n }] } })(
        `${merchant.url}/unknown-asset`,
      ),
    ).rejects.toMatchObject({ code: 'CAP_EXCEEDED' })
    const response = await createPayingFetch({ signers, caps: { assets: [{ ...asset, maxAmount: 10000n }] } })(
      `${merchant.url}/unknown-asset`,
    )
    expect(await response.text()).toBe('unknown paid')
    expect(proofsAt('/unknown-asset')).toHaveLength(1)
  })

  test('policy: networks and hosts outside the allow lists are refused', async () => {
    await expect(
      createPayingFetch({ signers, caps: { networks: ['eip155:8453'] } })(`${merchant.url}/weather`),
    ).rejects.toMatchObject({ code: 'NETWORK_NOT_ALLOWED' })
    await expect(
      createPayingFetch({ signers, caps: { hosts: { deny: ['127.0.0.1'] } } })(`${merchant.url}/weather`),
    ).rejects.toMatchObject({ code: 'HOST_NOT_ALLOWED' })
    await expect(
      createPayingFetch({ signers, caps: { hosts: { allow: ['api.example.com'] } } })(`${merchant.url}/weather`),
    ).rejects.toMatchObject({ code: 'HOST_NOT_ALLOWED' })
  })

  test('error: no signer for the offered network is NO_SIGNER', async () => {
    const error = await createPayingFetch({ signers })(`${merchant.url}/solana-only`).catch((caught: unknown) => caught)
    expect(isPayfetchError(error, 'NO_SIGNER')).toBe(true)
    expect((error as PayfetchError).details.offers).toEqual([
      expect.objectContaining({ network: 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1', refusal: 'NO_SIGNER' }),
    ])
  })

  test('error: a garbage challenge or a 402 without one is CHALLENGE_INVALID', async () => {
    await expect(createPayingFetch({ signers })(`${merchant.url}/garbage`)).rejects.toMatchObject({
      code: 'CHALLENGE_INVALID',
    })
    await expect(createPayingFetch({ signers })(`${merchant.url}/plain-402`)).rejects.toMatchObject({
      code: 'CHALLENGE_INVALID',
      details: { body: 'pay me somehow' },
    })
  })

  test('error: a signer that fails is PAYMENT_FAILED with the cause kept', async () => {
    const broken = evm({
      account: {
        address: account.address,
        signTypedData: async () => Promise.reject(new Error('hardware wallet unplugged')),
      },
    })
    const error = await createPayingFetch({ signers: [broken] })(`${merchant.url}/weather`).catch(
      (caught: unknown) => caught as PayfetchError,
    )
    expect(error).toBeInstanceOf(PayfetchError)
    expect(error).toMatchObject({ code: 'PAYMENT_FAILED', cause: { message: 'hardware wallet unplugged' } })
  })

  test('error: wrapping a paying fetch again is refused', () => {
    const paying = createPayingFetch({ signers })
    expect(() => createPayingFetch({ signers, fetch: paying })).toThrow(PayfetchError)
  })

  test('behavior: an aborted call before paying rejects with the abort reason and pays nothing', async () => {
    const controller = new AbortController()
    // The caller aborts while the signer works; the signer sees the caller's signal.
    const slow = wrapPayers(
      evm({ account }),
      () => (_, context) =>
        new Promise<never>((_, reject) => {
          context.signal?.addEventListener('abort', () => reject(context.signal?.reason))
          controller.abort()
        }),
    )
    const fetchPaid = createPayingFetch({ signers: [slow] })
    const before = proofsAt('/weather').length
    await expect(fetchPaid(`${merchant.url}/weather`, { signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    })
    expect(proofsAt('/weather')).toHaveLength(before)
    expect((await fetchPaid.spendReport()).totals).toEqual([])
  })

  test('behavior: the v2 proof echoes the accepted requirement verbatim', async () => {
    await createPayingFetch({ signers })(`${merchant.url}/weather`)
    const proof = decodeBase64Json(String(proofsAt('/weather').at(-1)?.headers['payment-signature'])) as Record<
      string,
      unknown
    >
    expect(proof.x402Version).toBe(2)
    expect(proof.accepted).toEqual(requirement())
  })
})
