// payfetch pays the `Payment` scheme's evm charge of a real mppx 0.11 server, settled on anvil by
// transferWithAuthorization (as a facilitator would), with the money rules of every other path.
import { createHash } from 'node:crypto'
import type { Address } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type MppxStack, startMppxStack } from '../../examples/local-stack/mppxStack.js'
import { evm } from '../../src/evm/index.js'
import {
  createPayingFetch,
  getReceipt,
  memorySessions,
  type PayingFetchOptions,
  type SessionStore,
} from '../../src/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { startInterceptingProxy } from '../support/interceptingProxy.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

let stack: MppxStack

beforeAll(async () => {
  stack = await startMppxStack()
})

afterAll(async () => {
  await stack?.stop()
})

const decode = (value: string) => JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))
const credentialOf = (headers: Record<string, string | string[] | undefined>) => {
  const value = headers.authorization
  return typeof value === 'string' && value.startsWith('Payment ') ? decode(value.slice('Payment '.length)) : undefined
}
const credentialsTo = (path: string) => stack.requests.to(path).filter((entry) => credentialOf(entry.headers))

async function payerWith(options: Omit<PayingFetchOptions, 'signers'> = {}) {
  const account = await stack.evm.newPayer()
  const signer = countingSigner(evm({ account }))
  return { account, signer, fetchPaid: createPayingFetch({ ...options, signers: [signer] }) }
}

async function balances(account: PrivateKeyAccount) {
  const { usdc, eurc } = stack.evm
  return {
    usdc: await stack.evm.balanceOf(usdc, account.address),
    eurc: await stack.evm.balanceOf(eurc, account.address),
    payTo: await stack.evm.balanceOf(usdc, stack.payTo as Address),
  }
}

describe('Payment scheme, evm charge, against mppx 0.11', () => {
  test('behavior: GET /weather is paid once; balances move by exactly 10000; the receipt names the mined settlement', async () => {
    const { account, signer, fetchPaid } = await payerWith()
    const before = await balances(account)
    const response = await fetchPaid(`${stack.url}/weather`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ weather: 'sunny' })
    const after = await balances(account)
    expect([after.usdc - before.usdc, after.payTo - before.payTo]).toEqual([-10_000n, 10_000n])

    const receipt = getReceipt(response)
    const settlement = stack.evm.settlements.at(-1)
    expect(receipt).toMatchObject({
      protocol: 'payment',
      network: 'eip155:84532',
      asset: stack.evm.usdc.address,
      amount: 10_000n,
      payTo: stack.payTo,
      payer: account.address,
      reference: settlement?.txHash,
    })
    expect((await stack.evm.getTransactionReceipt(settlement?.txHash as `0x${string}`)).status).toBe('success')
    expect(signer.calls).toHaveLength(1)

    // The credential: the challenge echoed, an EIP-3009 authorization bound to it, the payer's DID.
    const [sent] = credentialsTo('/weather').slice(-1)
    const credential = credentialOf(sent!.headers)
    expect(credential.source).toBe(`did:pkh:eip155:84532:${account.address}`)
    expect(credential.challenge).toMatchObject({ realm: stack.realm, method: 'evm', intent: 'charge' })
    expect(credential.payload).toMatchObject({ type: 'authorization', from: account.address, value: '10000' })
    expect(sent!.headers['idempotency-key']).toMatch(/^pf_/)
  })

  test('behavior: Accept-Payment goes only to an origin once it asked for payment; mppx offers evm without it', async () => {
    const { signer, fetchPaid } = await payerWith()
    const announced = (log: MppxStack['requests'], path: string, from: number) =>
      log
        .to(path)
        .slice(from)
        .map((entry) => entry.headers['accept-payment'])
    const free = stack.requests.to('/free').length
    const weather = stack.requests.to('/weather').length
    const other = stack.otherOriginRequests.to('/free').length
    // Never asked for payment yet: nothing tells the server a wallet is here.
    expect((await fetchPaid(`${stack.url}/free`)).status).toBe(200)
    // The first 402 offered evm without it, and was paid.
    expect((await fetchPaid(`${stack.url}/weather`)).status).toBe(200)
    expect(signer.calls).toHaveLength(1)
    // From then on, this origin is told; another origin still is not.
    expect((await fetchPaid(`${stack.url}/free`)).status).toBe(200)
    expect((await fetchPaid(`${stack.url}/weather`)).status).toBe(200)
    expect((await fetchPaid(`${stack.otherOriginUrl}/free`)).status).toBe(200)
    expect(announced(stack.requests, '/free', free)).toEqual([undefined, 'evm/charge'])
    // Each paid call: the unpaid request, then the paid one (which carries only the credential).
    expect(announced(stack.requests, '/weather', weather)).toEqual([undefined, undefined, 'evm/charge', undefined])
    expect(announced(stack.otherOriginRequests, '/free', other)).toEqual([undefined])
    expect(signer.calls).toHaveLength(2)
  })

  test("behavior: acceptPayment: 'always' announces evm/charge to every origin from the first request", async () => {
    const { fetchPaid } = await payerWith({ acceptPayment: 'always' })
    const before = stack.otherOriginRequests.to('/free').length
    expect((await fetchPaid(`${stack.otherOriginUrl}/free`)).status).toBe(200)
    expect(
      stack.otherOriginRequests
        .to('/free')
        .slice(before)
        .map((entry) => entry.headers['accept-payment']),
    ).toEqual(['evm/charge'])
  })

  test('behavior: a POST body is replayed byte for byte with its content type', async () => {
    const { fetchPaid } = await payerWith()
    const body = JSON.stringify({ city: 'Zürich', days: [1, 2, 3] })
    const response = await fetchPaid(`${stack.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(response.status).toBe(200)
    const digest = createHash('sha256').update(body).digest('hex')
    expect(response.headers.get('x-echo-sha256')).toBe(digest)
    expect(await response.text()).toBe(body)
    const [unpaid, paid] = stack.requests.to('/echo').slice(-2)
    expect([unpaid?.bodySha256, paid?.bodySha256]).toEqual([digest, digest])
    expect(paid?.headers['content-type']).toBe('application/json')
  })

  test('policy: an expired challenge is never paid: nothing signed, no credential sent', async () => {
    const { signer, fetchPaid } = await payerWith()
    const error = await failure(fetchPaid(`${stack.url}/expired`))
    expect(error.code).toBe('CHALLENGE_INVALID')
    expect(error.details.problems).toEqual(['evm: the challenge has expired'])
    expect(signer.calls).toHaveLength(0)
    expect(credentialsTo('/expired')).toHaveLength(0)
  })

  test('policy: a charge above the per-request cap is CAP_EXCEEDED; nothing signed, no credential sent', async () => {
    const { account, signer, fetchPaid } = await payerWith()
    const before = await balances(account)
    const error = await failure(fetchPaid(`${stack.url}/pricey`))
    expect(error).toMatchObject({ code: 'CAP_EXCEEDED', details: { protocol: 'payment', amount: '500000' } })
    expect(signer.calls).toHaveLength(0)
    expect(credentialsTo('/pricey')).toHaveLength(0)
    expect(await balances(account)).toEqual(before)
  })

  // EURC is refused twice over: caps do not know the asset, and the Payment challenge does not name
  // its EIP-712 domain (the signer would need evm({ tokens })). Refusals are judged before choosing.
  test('behavior: of two Payment challenges and an x402 offer, the one asset payfetch may pay (USDC) is paid, not the first (EURC)', async () => {
    for (const prefer of [['payment'], ['x402']]) {
      const { account, fetchPaid } = await payerWith({ prefer })
      const before = await balances(account)
      const quote = await fetchPaid.quote(`${stack.url}/choice`)
      expect(quote.offers.map((entry) => [entry.offer.protocol, entry.offer.amount, entry.refusal?.code])).toEqual(
        prefer[0] === 'payment'
          ? [
              ['payment', 10_000n, undefined],
              ['x402', 10_000n, undefined],
              ['x402', 20_000n, 'ASSET_NOT_ALLOWED'],
              ['payment', 20_000n, 'NO_SIGNER'],
            ]
          : [
              ['x402', 10_000n, undefined],
              ['payment', 10_000n, undefined],
              ['x402', 20_000n, 'ASSET_NOT_ALLOWED'],
              ['payment', 20_000n, 'NO_SIGNER'],
            ],
      )
      const response = await fetchPaid(`${stack.url}/choice`)
      expect(response.status).toBe(200)
      expect(getReceipt(response)).toMatchObject({ protocol: prefer[0], asset: stack.evm.usdc.address })
      const after = await balances(account)
      expect([after.usdc - before.usdc, after.eurc - before.eurc]).toEqual([-10_000n, 0n])
      const last = stack.requests.to('/choice').at(-1)
      expect(Boolean(credentialOf(last!.headers))).toBe(prefer[0] === 'payment')
      expect(Boolean(last!.headers['payment-signature'])).toBe(prefer[0] === 'x402')
    }
  })

  test('policy: a 403 after the credential is PAYMENT_REJECTED, one credential only, and the amount stays counted', async () => {
    const { account, signer, fetchPaid } = await payerWith()
    const before = await balances(account)
    const error = await failure(fetchPaid(`${stack.url}/denied`))
    expect(error.code).toBe('PAYMENT_REJECTED')
    expect(error.shortMessage).toBe('The server refused the payment with 403.')
    expect(signer.calls).toHaveLength(1)
    expect(credentialsTo('/denied')).toHaveLength(1)
    // This server settled before refusing: the ledger keeps the amount, as a refusal it cannot see through.
    expect((await balances(account)).usdc - before.usdc).toBe(-10_000n)
    const [total] = (await fetchPaid.spendReport()).totals
    expect(total).toMatchObject({ spent: 0n, unknown: 10_000n })
    expect(await fetchPaid.pendingPayments()).toEqual([])
  })

  test('policy: no credential crosses an origin: a paid answer redirected elsewhere drops it; a 402 reached by redirect is paid to its own origin', async () => {
    const { fetchPaid } = await payerWith()
    const otherBefore = stack.otherOriginRequests.all.length
    const response = await fetchPaid(`${stack.url}/paid-redirect`, { headers: { authorization: 'Bearer app-secret' } })
    expect(response.status).toBe(200)
    expect(response.url).toBe(`${stack.otherOriginUrl}/free`)
    const atOther = stack.otherOriginRequests.all.slice(otherBefore)
    expect(atOther.map((entry) => [entry.path, entry.headers.authorization])).toEqual([['/free', undefined]])

    const awayBefore = stack.otherOriginRequests.all.length
    const paid = await fetchPaid(`${stack.url}/redirect-away`)
    expect(paid.status).toBe(200)
    expect(getReceipt(paid)?.url).toBe(`${stack.otherOriginUrl}/weather`)
    // The origin that redirected never saw a credential; the one that asked got exactly one.
    expect(credentialsTo('/redirect-away')).toHaveLength(0)
    const asked = stack.otherOriginRequests.all.slice(awayBefore).filter((entry) => credentialOf(entry.headers))
    expect(asked).toHaveLength(1)
    expect(credentialOf(asked[0]!.headers).challenge.realm).not.toBe(stack.realm)
  })

  test('policy: a charge buys no session: each call pays its own fresh challenge, and the session store is never written or locked', async () => {
    const used: string[] = []
    const store = memorySessions()
    const sessions: SessionStore = {
      get: (key) => store.get(key),
      set: (key, token) => {
        used.push(`set ${key}`)
        return store.set(key, token)
      },
      delete: (key) => store.delete(key),
      lock: async (key) => {
        used.push(`lock ${key}`)
        return undefined
      },
    }
    const { account, signer, fetchPaid } = await payerWith({ sessions })
    const before = await balances(account)
    const sentBefore = credentialsTo('/weather').length
    expect((await fetchPaid(`${stack.url}/weather`)).status).toBe(200)
    expect((await fetchPaid(`${stack.url}/weather`)).status).toBe(200)
    const ids = credentialsTo('/weather')
      .slice(sentBefore)
      .map((entry) => credentialOf(entry.headers).challenge.id)
    expect(new Set(ids).size).toBe(2)
    expect(signer.calls).toHaveLength(2)
    expect((await balances(account)).usdc - before.usdc).toBe(-20_000n)
    expect(used).toEqual([])
  })

  test('policy: a budget shared by two calls refuses the one it has no room for, before signing', async () => {
    const { signer, fetchPaid } = await payerWith({ caps: { budgets: [{ usd: '0.015' }] } })
    expect((await fetchPaid(`${stack.url}/weather`)).status).toBe(200)
    const error = await failure(fetchPaid(`${stack.url}/weather`))
    expect(error).toMatchObject({ code: 'BUDGET_EXHAUSTED', details: { protocol: 'payment' } })
    expect(signer.calls).toHaveLength(1)
  })

  test('policy: approve sees the Payment offer first; a denial sends nothing', async () => {
    const seen: string[] = []
    const { signer, fetchPaid } = await payerWith({
      approve: ({ offer, usd }) => {
        seen.push(`${offer.protocol} ${offer.method?.kind} $${usd}`)
        return false
      },
    })
    const before = credentialsTo('/weather').length
    expect((await failure(fetchPaid(`${stack.url}/weather`))).code).toBe('APPROVAL_DENIED')
    expect(seen).toEqual(['payment eip3009 $0.01'])
    expect(signer.calls).toHaveLength(0)
    expect(credentialsTo('/weather')).toHaveLength(before)
  })

  test('error: the answer lost after the credential left is PAYMENT_OUTCOME_UNKNOWN; resume sends the same credential, which the server refuses as used: paid once, counted once', async () => {
    const proxy = await startInterceptingProxy(stack.url, { loseAnswer: firstCredentialed() })
    try {
      const { account, signer, fetchPaid } = await payerWith()
      const before = await balances(account)
      const error = await failure(fetchPaid(`${proxy.url}/weather`))
      expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
      expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ unknown: 10_000n })])
      const resumed = await failure((error.resume as () => Promise<Response>)())
      expect(resumed.code).toBe('PAYMENT_REJECTED')
      const [first, again] = proxy.seen.filter((entry) => entry.headers.authorization)
      expect(again?.headers.authorization).toBe(first?.headers.authorization)
      expect(signer.calls).toHaveLength(1)
      expect((await balances(account)).usdc - before.usdc).toBe(-10_000n)
      expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ spent: 0n, unknown: 10_000n })])
      expect(await fetchPaid.pendingPayments()).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  test("policy: the caller's Idempotency-Key goes with the credential; after a lost answer, a second call with that key resends the kept credential instead of signing: paid once", async () => {
    const proxy = await startInterceptingProxy(stack.url, { loseAnswer: firstCredentialed() })
    try {
      const { account, signer, fetchPaid } = await payerWith()
      const before = await balances(account)
      const init = { headers: { 'Idempotency-Key': 'agent-task-0042' } }
      expect((await failure(fetchPaid(`${proxy.url}/weather`, init))).code).toBe('PAYMENT_OUTCOME_UNKNOWN')
      // mppx keeps no answer per key: the kept credential is refused as used, and nothing is signed again.
      expect((await failure(fetchPaid(`${proxy.url}/weather`, init))).code).toBe('PAYMENT_REJECTED')
      const sent = proxy.seen.filter((entry) => entry.headers.authorization)
      expect(sent.map((entry) => entry.headers['idempotency-key'])).toEqual(['agent-task-0042', 'agent-task-0042'])
      expect(sent[1]?.headers.authorization).toBe(sent[0]?.headers.authorization)
      expect(signer.calls).toHaveLength(1)
      expect((await balances(account)).usdc - before.usdc).toBe(-10_000n)
      expect(await fetchPaid.pendingPayments()).toEqual([])
    } finally {
      await proxy.close()
    }
  })
})

/** Loses the answer to the first request that carries a credential, and to no other. */
function firstCredentialed(): (request: { headers: { authorization?: string | undefined } }) => boolean {
  let lose = true
  return (request) => Boolean(request.headers.authorization) && lose && !(lose = false)
}
