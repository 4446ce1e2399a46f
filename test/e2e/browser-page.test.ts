import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hash } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { articleRoute, startArticleSite } from '../../examples/browser/site.js'
import { type CorsProxy, startCorsProxy } from '../../examples/local-stack/corsProxy.js'
import { defaultV2Routes, type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import type { L402Server } from '../../examples/local-stack/l402Server.js'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import { type MppxStack, startMppxStack } from '../../examples/local-stack/mppxStack.js'
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

// Pages paying for real, in Debian's Chromium: the example paywalled article (x402 through the
// injected window.ethereum, settled on anvil by the reference facilitator), L402 through
// window.webln (the local Lightning node pays), the Payment scheme's evm charge of a real mppx
// server, and two tabs sharing one IndexedDB budget. Every server sits on another loopback origin
// than the page, behind CORS that lists what a server author is told to list.
let evmStack: EvmStack
let lightningStack: LightningStack
let l402: L402Server
let mppx: MppxStack
let chromium: Chromium
let page: TestPage
// The same page with viem's wallet client beside the script build: the other way to window.ethereum.
let viemPage: TestPage
type ViemPageWindow = PageWindow & {
  payfetch: PageWindow['payfetch'] & { viem: typeof import('../support/viemForPages.js') }
}
let article: Awaited<ReturnType<typeof startArticleSite>>
const proxies: Record<'x402' | 'l402' | 'payment', CorsProxy> = {} as never
let payer: PrivateKeyAccount
let wallet: TestEip1193Provider
let webln: TestWebln
let shots = ''

beforeAll(async () => {
  ;[evmStack, lightningStack, mppx, chromium] = await Promise.all([
    startEvmStack({ v2Routes: [...defaultV2Routes, articleRoute] }),
    startLightningStack(),
    startMppxStack(),
    startChromium(),
  ])
  l402 = await lightningStack.l402Server()
  // One key on both chains: mppx funds it on its anvil, the x402 stack on its own.
  payer = await mppx.evm.newPayer()
  await evmStack.mint(evmStack.usdc, payer.address, 1_000_000n)
  const [x402, l402Proxy, payment, script, viemScript] = await Promise.all([
    startCorsProxy(evmStack.v2Url, { expose: ['PAYMENT-REQUIRED', 'PAYMENT-RESPONSE'] }),
    startCorsProxy(l402.url, { expose: ['WWW-Authenticate'] }),
    startCorsProxy(mppx.url, { expose: ['WWW-Authenticate', 'Payment-Receipt', 'Location'] }),
    bundleForPage('payfetch'),
    bundleForPage('payfetch', `export * as viem from './test/support/viemForPages.ts'`),
  ])
  Object.assign(proxies, { x402, l402: l402Proxy, payment })
  ;[page, viemPage, article, shots] = await Promise.all([
    startTestPage(script),
    startTestPage(viemScript),
    startArticleSite({ api: `${x402.url}/article`, chainId: evmStack.chainId, script }),
    mkdtemp(join(tmpdir(), 'payfetch-screenshots-')),
  ])
  wallet = testEip1193Provider(payer, { chainId: evmStack.chainId, rpcUrl: evmStack.rpcUrl })
  await injectEthereum(chromium.context, wallet)
  webln = await injectWebln(chromium.context, (invoice) => lightningStack.node.pay(invoice))
})

afterAll(async () => {
  await chromium?.close()
  await Promise.allSettled([
    page?.close(),
    viemPage?.close(),
    article?.close(),
    ...Object.values(proxies).map((proxy) => proxy.close()),
    evmStack?.stop(),
    lightningStack?.stop(),
    mppx?.stop(),
  ])
  if (shots) await rm(shots, { recursive: true, force: true })
})

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR')
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) }
}

describe('pages that pay, in Chromium', () => {
  test('behavior: the example article shows its price from quote() before the reader agrees, then pays through window.ethereum on "Pay and read" and shows the text', async () => {
    const settled = evmStack.settlements.length
    const before = await evmStack.balanceOf(evmStack.usdc, evmStack.payTo)
    const tab = await chromium.context.newPage()
    await tab.goto(article.url)
    await tab.locator('#price').filter({ hasText: 'Read on for 0.01 USDC.' }).waitFor()
    // The price is on screen and nothing was asked of the wallet or paid.
    expect(wallet.calls).toEqual([])
    expect(evmStack.settlements.length).toBe(settled)
    expect(await tab.locator('#body').isHidden()).toBe(true)

    await tab.locator('#pay').click()
    await tab.locator('#body').waitFor({ state: 'visible' })
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point (what a reader sees)
    expect(await tab.locator('#body').innerText()).toContain('The harbour master keeps a notebook')
    expect(await tab.locator('#paywall').isHidden()).toBe(true)
    const byline = (await tab.locator('#byline').textContent()) ?? ''
    const hash = /Paid 0\.01 USDC · (0x[0-9a-f]{64})$/.exec(byline)?.[1] as Hash | undefined
    expect(hash, byline).toBeDefined()
    expect((await evmStack.getTransactionReceipt(hash as Hash)).status).toBe('success')
    expect(evmStack.settlements.length).toBe(settled + 1)
    expect((await evmStack.balanceOf(evmStack.usdc, evmStack.payTo)) - before).toBe(10_000n)
    expect(wallet.calls).toEqual([
      'eth_requestAccounts',
      'wallet_switchEthereumChain',
      'eth_chainId',
      'eth_signTypedData_v4',
    ])

    const file = join(shots, 'article-paid.png')
    await tab.screenshot({ path: file, fullPage: true })
    const png = await readFile(file)
    expect(png.length).toBeGreaterThan(10_000)
    expect(pngSize(png)).toMatchObject({ width: 900 })
    // The text on the screenshot is the page's: the article body is laid out, not hidden.
    const box = await tab.locator('#body p').first().boundingBox()
    expect(box && box.width > 0 && box.height > 0).toBe(true)
    await tab.close()
  })

  test("behavior: viem's own WalletClient over window.ethereum (the README's other way) pays x402 from a page too", async () => {
    const tab = await openPage(chromium.context, viemPage.url)
    const settled = evmStack.settlements.length
    const outcome = await tab.evaluate(async (url) => {
      const page = window as unknown as ViemPageWindow
      const { createPayingFetch, evm, getReceipt, viem } = page.payfetch
      const { createWalletClient, custom, baseSepolia } = viem
      const [address] = (await page.ethereum.request({ method: 'eth_requestAccounts' })) as `0x${string}`[]
      const client = createWalletClient({ account: address, chain: baseSepolia, transport: custom(page.ethereum) })
      const response = await createPayingFetch({ signers: [evm({ account: client })] })(url)
      return { status: response.status, amount: String(getReceipt(response)?.amount) }
    }, `${proxies.x402.url}/weather`)
    await tab.close()
    expect(outcome).toEqual({ status: 200, amount: '10000' })
    expect(evmStack.settlements.length).toBe(settled + 1)
  })

  test('behavior: a page pays L402 through window.webln with the local node, then reuses the token from localStorage without paying', async () => {
    const tab = await openPage(chromium.context, page.url)
    const settled = lightningStack.node.settled.length
    const authorizations = l402.authorizations.length
    const outcome = await tab.evaluate(async (url) => {
      const { createPayingFetch, getReceipt, lightning, storageSessions, webln } = (window as unknown as PageWindow)
        .payfetch
      const fetchPaid = createPayingFetch({
        signers: [lightning({ wallet: webln(), networks: ['regtest'] })],
        sessions: storageSessions(),
      })
      const first = await fetchPaid(url)
      const second = await fetchPaid(url)
      const receipt = getReceipt(first)
      return {
        statuses: [first.status, second.status],
        bodies: [await first.json(), await second.json()],
        receipt: receipt && {
          protocol: receipt.protocol,
          amount: String(receipt.amount),
          reference: receipt.reference,
        },
        secondPaid: getReceipt(second) !== undefined,
        stored: Object.keys(localStorage).filter((key) => key.startsWith('payfetch:session:')).length,
      }
    }, `${proxies.l402.url}/report`)
    expect(outcome).toEqual({
      statuses: [200, 200],
      bodies: [
        { ok: true, path: '/report' },
        { ok: true, path: '/report' },
      ],
      receipt: { protocol: 'l402', amount: '21000', reference: lightningStack.node.settled.at(-1)?.paymentHash },
      secondPaid: false,
      stored: 1,
    })
    expect([webln.enabled, webln.invoices.length, lightningStack.node.settled.length - settled]).toEqual([true, 1, 1])
    // The token went out twice (the paid replay, then the reused one), each after a preflight: the
    // first, with the payment, also asks for Idempotency-Key.
    expect(l402.authorizations.length - authorizations).toBe(2)
    expect(proxies.l402.preflights.map((preflight) => preflight.headers)).toEqual([
      'authorization,idempotency-key',
      'authorization',
    ])
    await tab.close()
  })

  test("behavior: a page pays the Payment scheme's evm charge of a real mppx server through window.ethereum, with the settlement reference from Payment-Receipt", async () => {
    const tab = await openPage(chromium.context, page.url)
    const settled = mppx.evm.settlements.length
    const outcome = await tab.evaluate(async (url) => {
      const { createPayingFetch, eip1193, evm, getReceipt } = (window as unknown as PageWindow).payfetch
      const fetchPaid = createPayingFetch({
        signers: [evm({ account: await eip1193((window as unknown as PageWindow).ethereum) })],
      })
      const response = await fetchPaid(url)
      const receipt = getReceipt(response)
      return {
        status: response.status,
        body: await response.json(),
        receipt: receipt && {
          protocol: receipt.protocol,
          amount: String(receipt.amount),
          reference: receipt.reference,
        },
      }
    }, `${proxies.payment.url}/weather`)
    expect(outcome).toMatchObject({ status: 200, receipt: { protocol: 'payment', amount: '10000' } })
    expect(mppx.evm.settlements.length).toBe(settled + 1)
    expect(outcome.receipt?.reference).toBe(mppx.evm.settlements.at(-1)?.txHash)
    await tab.close()
  })

  test('behavior: a paid answer that redirects reaches a page as an opaque redirect (status 0): paid once, proof not sent on, settlement not visible', async () => {
    const tab = await openPage(chromium.context, page.url)
    const settled = mppx.evm.settlements.length
    const outcome = await tab.evaluate(async (url) => {
      const { createPayingFetch, eip1193, evm, getReceipt } = (window as unknown as PageWindow).payfetch
      const fetchPaid = createPayingFetch({
        signers: [evm({ account: await eip1193((window as unknown as PageWindow).ethereum) })],
      })
      const response = await fetchPaid(url)
      const receipt = getReceipt(response)
      return {
        status: response.status,
        type: response.type,
        receipt: receipt && {
          amount: String(receipt.amount),
          settlement: receipt.settlement,
          reference: receipt.reference,
        },
      }
    }, `${proxies.payment.url}/paid-redirect`)
    await tab.close()
    // Browsers hide a manual redirect's Location, even when exposed, and following it would carry
    // the proof to the other origin: the page gets the redirect it cannot read, and the payment.
    expect(outcome).toEqual({
      status: 0,
      type: 'opaqueredirect',
      receipt: { amount: '10000', settlement: 'not-visible', reference: undefined },
    })
    expect(mppx.evm.settlements.length).toBe(settled + 1)
    expect(mppx.otherOriginRequests.to('/free')).toEqual([])
  })

  test('policy: two tabs paying at once against one IndexedDB budget of $0.05 pay exactly five $0.01 calls between them; the chain agrees', async () => {
    const [a, b] = await Promise.all([openPage(chromium.context, page.url), openPage(chromium.context, page.url)])
    const settled = evmStack.settlements.length
    const before = await evmStack.balanceOf(evmStack.usdc, evmStack.payTo)
    const payFour = (tab: typeof a) =>
      tab.evaluate(async (url) => {
        const { createPayingFetch, eip1193, evm, storageLedger } = (window as unknown as PageWindow).payfetch
        const fetchPaid = createPayingFetch({
          signers: [evm({ account: await eip1193((window as unknown as PageWindow).ethereum) })],
          ledger: storageLedger({ name: 'two-tabs' }),
          caps: { budgets: [{ usd: '0.05' }] },
        })
        return Promise.all(
          Array.from({ length: 4 }, () =>
            fetchPaid(url).then(
              (response) => String(response.status),
              (error: { code?: string }) => String(error.code),
            ),
          ),
        )
      }, `${proxies.x402.url}/weather`)
    const usedIn = (tab: typeof a) =>
      tab.evaluate(async () => {
        const { createPayingFetch, storageLedger } = (window as unknown as PageWindow).payfetch
        const fetchPaid = createPayingFetch({
          signers: [],
          ledger: storageLedger({ name: 'two-tabs' }),
          caps: { budgets: [{ usd: '0.05' }] },
        })
        return String((await fetchPaid.spendReport()).budgets[0]?.used)
      })
    const [fromA, fromB] = await Promise.all([payFour(a), payFour(b)])
    const outcomes = [...fromA, ...fromB].sort()
    expect(outcomes).toEqual(['200', '200', '200', '200', '200', ...Array(3).fill('BUDGET_EXHAUSTED')])
    expect(evmStack.settlements.length - settled).toBe(5)
    expect((await evmStack.balanceOf(evmStack.usdc, evmStack.payTo)) - before).toBe(50_000n)
    // Both tabs read the same budget, used up to the cent: $0.05 in nano-dollars.
    expect(await Promise.all([usedIn(a), usedIn(b)])).toEqual(['50000000', '50000000'])
    await Promise.all([a.close(), b.close()])
  })
})
