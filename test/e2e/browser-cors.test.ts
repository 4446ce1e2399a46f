import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type CorsOptions, type CorsProxy, startCorsProxy } from '../../examples/local-stack/corsProxy.js'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import type { L402Server } from '../../examples/local-stack/l402Server.js'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import { injectEthereum, injectWebln, type TestWebln } from '../support/browserWallets.js'
import {
  bundleForPage,
  type Chromium,
  openPage,
  startChromium,
  startTestPage,
  type TestPage,
} from '../support/chromium.js'
import { type TestEip1193Provider, testEip1193Provider } from '../support/eip1193Provider.js'
import type { PageWindow } from '../support/pageGlobals.js'

// CORS, which every page paying another origin meets: a page on one loopback origin pays the x402
// reference server and an L402 server on others, through CORS that exposes everything, only the
// challenge, nothing, or does not allow the proof headers in its preflight.
const challengeHeaders = ['PAYMENT-REQUIRED', 'WWW-Authenticate']
const settings = {
  everything: { expose: [...challengeHeaders, 'PAYMENT-RESPONSE'] },
  challengeOnly: { expose: challengeHeaders },
  nothing: {},
  noProofHeaders: { expose: [...challengeHeaders, 'PAYMENT-RESPONSE'], allowHeaders: [] },
} satisfies Record<string, CorsOptions>
type Setting = keyof typeof settings

let stack: EvmStack
let lightningStack: LightningStack
let l402: L402Server
let chromium: Chromium
let page: TestPage
let wallet: TestEip1193Provider
let webln: TestWebln
const x402 = {} as Record<Setting, CorsProxy>
let l402Hidden: CorsProxy
// Anvil's fourth development key: public, never funded anywhere that matters.
const payer = privateKeyToAccount('0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6')

beforeAll(async () => {
  let script: string
  ;[stack, lightningStack, chromium, script] = await Promise.all([
    startEvmStack(),
    startLightningStack(),
    startChromium(),
    bundleForPage('payfetch'),
  ])
  l402 = await lightningStack.l402Server()
  await stack.mint(stack.usdc, payer.address, 1_000_000n)
  for (const [name, options] of Object.entries(settings))
    x402[name as Setting] = await startCorsProxy(stack.v2Url, options)
  l402Hidden = await startCorsProxy(l402.url)
  page = await startTestPage(script)
  wallet = testEip1193Provider(payer, { chainId: stack.chainId })
  await injectEthereum(chromium.context, wallet)
  webln = await injectWebln(chromium.context, (invoice) => lightningStack.node.pay(invoice))
})

afterAll(async () => {
  await chromium?.close()
  await Promise.allSettled([
    page?.close(),
    l402Hidden?.close(),
    ...Object.values(x402).map((proxy) => proxy.close()),
    stack?.stop(),
    lightningStack?.stop(),
  ])
})

type Outcome = {
  status?: number
  body?: unknown
  receipt?: { amount: string; reference?: string | undefined; settlement?: string | undefined; keys: string[] }
  error?: { code: string; message: string; details: Record<string, unknown> }
}

/** One x402 call from a fresh page, paid with the injected wallet; the page's view of it. */
async function payFromPage(url: string, options: { acceptPayment?: 'always' } = {}): Promise<Outcome> {
  const tab = await openPage(chromium.context, page.url)
  try {
    return await tab.evaluate(
      async ({ url, options }) => {
        const { createPayingFetch, eip1193, evm, getReceipt, isPayfetchError } = (window as unknown as PageWindow)
          .payfetch
        const account = await eip1193((window as unknown as PageWindow).ethereum)
        const fetchPaid = createPayingFetch({ signers: [evm({ account })], ...options })
        try {
          const response = await fetchPaid(url)
          const receipt = getReceipt(response)
          return {
            status: response.status,
            body: await response.json().catch(() => undefined),
            ...(receipt && {
              receipt: {
                amount: String(receipt.amount),
                reference: receipt.reference,
                settlement: receipt.settlement,
                keys: Object.keys(receipt).sort(),
              },
            }),
          }
        } catch (error) {
          if (!isPayfetchError(error)) throw error
          return { error: { code: error.code, message: error.shortMessage, details: { ...error.details } } }
        }
      },
      { url, options },
    )
  } finally {
    await tab.close()
  }
}

const proofsTo = (proxy: CorsProxy) => proxy.forwarded.filter((request) => request.headers['payment-signature'])

describe('a page paying another origin through CORS', () => {
  test('behavior: with the challenge and settlement headers exposed, the unpaid request needs no preflight, the paid replay one, and the receipt has the settlement reference', async () => {
    const proxy = x402.everything
    const settled = stack.settlements.length
    const outcome = await payFromPage(`${proxy.url}/weather`)
    expect(outcome).toMatchObject({ status: 200, body: { weather: 'sunny', temperature: 21 } })
    expect(outcome.receipt?.reference).toBe(stack.settlements.at(-1)?.transaction)
    expect(outcome.receipt?.keys).not.toContain('settlement')
    expect(stack.settlements.length).toBe(settled + 1)
    // A simple GET first (no preflight); the proof headers are not CORS-safelisted.
    expect(proxy.preflights).toEqual([{ path: '/weather', headers: 'idempotency-key,payment-signature' }])
    expect(proxy.forwarded.map((request) => request.method)).toEqual(['GET', 'GET'])
  })

  test('behavior: with PAYMENT-RESPONSE not exposed, the page pays and its receipt says settlement: not-visible, with no reference; the chain shows the settlement', async () => {
    const proxy = x402.challengeOnly
    const settled = stack.settlements.length
    const outcome = await payFromPage(`${proxy.url}/weather`)
    expect(outcome).toMatchObject({
      status: 200,
      receipt: { amount: '10000', settlement: 'not-visible' },
    })
    expect(outcome.receipt?.reference).toBeUndefined()
    expect(stack.settlements.length).toBe(settled + 1)
    expect(stack.settlements.at(-1)?.transaction).toMatch(/^0x[0-9a-f]{64}$/)
  })

  test('error: with no header exposed, an x402 402 and an L402 402 are CHALLENGE_INVALID naming Access-Control-Expose-Headers; no wallet is asked, nothing is paid', async () => {
    const proxy = x402.nothing
    const signed = wallet.calls.filter((method) => method === 'eth_signTypedData_v4').length
    const outcome = await payFromPage(`${proxy.url}/weather`)
    expect(outcome.error).toEqual({
      code: 'CHALLENGE_INVALID',
      message:
        'The server answered 402 to a cross-origin request without a payment challenge this page can read: it must list PAYMENT-REQUIRED and WWW-Authenticate in Access-Control-Expose-Headers.',
      details: { url: `${proxy.url}/weather`, exposeHeaders: 'PAYMENT-REQUIRED, WWW-Authenticate' },
    })
    expect(proofsTo(proxy)).toEqual([])
    expect(wallet.calls.filter((method) => method === 'eth_signTypedData_v4').length).toBe(signed)

    const tab = await openPage(chromium.context, page.url)
    const l402Error = await tab.evaluate(async (url) => {
      const { createPayingFetch, lightning, webln } = (window as unknown as PageWindow).payfetch
      const fetchPaid = createPayingFetch({ signers: [lightning({ wallet: webln(), networks: ['regtest'] })] })
      return fetchPaid(url).then(
        () => undefined,
        (error: { code: string; details: Record<string, unknown> }) => ({ code: error.code, details: error.details }),
      )
    }, `${l402Hidden.url}/report`)
    await tab.close()
    expect(l402Error).toEqual({
      code: 'CHALLENGE_INVALID',
      details: { url: `${l402Hidden.url}/report`, exposeHeaders: 'PAYMENT-REQUIRED, WWW-Authenticate' },
    })
    expect(webln.invoices).toEqual([])
  })

  test('error: a preflight that does not allow the proof headers leaves the outcome unknown: the browser says only "Failed to fetch", though the proof never left', async () => {
    const proxy = x402.noProofHeaders
    const settled = stack.settlements.length
    const outcome = await payFromPage(`${proxy.url}/weather`)
    expect(outcome.error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN' })
    expect(proxy.preflights).toHaveLength(1)
    expect(proofsTo(proxy)).toEqual([])
    expect(stack.settlements.length).toBe(settled)
  })

  test("behavior: Accept-Payment goes to the page's own origin only, unless asked for always (then it costs a preflight)", async () => {
    const proxy = x402.everything
    const preflights = proxy.preflights.length
    const tab = await openPage(chromium.context, page.url)
    await tab.evaluate(
      async (urls) => {
        const { createPayingFetch, eip1193, evm } = (window as unknown as PageWindow).payfetch
        const signers = [evm({ account: await eip1193((window as unknown as PageWindow).ethereum) })]
        await createPayingFetch({ signers })('/own-origin')
        await createPayingFetch({ signers })(urls.other)
        await createPayingFetch({ signers, acceptPayment: 'always' })(urls.always)
      },
      { other: `${proxy.url}/free`, always: `${proxy.url}/free?always` },
    )
    await tab.close()
    const sent = (path: string) => proxy.forwarded.find((request) => request.path === path)?.headers['accept-payment']
    expect(page.requests.find((request) => request.path === '/own-origin')?.headers['accept-payment']).toBe(
      'evm/charge',
    )
    expect([sent('/free'), sent('/free?always')]).toEqual([undefined, 'evm/charge'])
    expect(proxy.preflights.slice(preflights)).toEqual([{ path: '/free?always', headers: 'accept-payment' }])
  })
})
