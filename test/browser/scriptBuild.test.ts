import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { injectEthereum } from '../support/browserWallets.js'
import { type Chromium, startChromium } from '../support/chromium.js'
import { testEip1193Provider } from '../support/eip1193Provider.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'
import type { PageWindow } from '../support/pageGlobals.js'

// The script build as a page gets it from a CDN: the files of the packed tarball, served as they
// are, loaded by a <script> tag (the IIFE) and by an ES module import, paying a merchant that
// checks the EIP-712 signature, with the page's wallet injected as window.ethereum.
const root = join(import.meta.dirname, '../..')
const scriptFiles = ['payfetch.js', 'payfetch.global.js', 'payfetch-solana.js', 'payfetch-solana.global.js']
let unpacked = ''
let packedFiles: string[] = []
let packageJson: Record<string, unknown> = {}
let merchant: Merchant
let browser: Chromium
// Anvil's third development key: public, never funded anywhere that matters.
const account = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1d1706367c2e68ca870fc3fb9a804cdab365a')

const page = (script: string) => `<!doctype html><meta charset="utf-8"><title>script build</title>${script}`

beforeAll(async () => {
  if (!scriptFiles.every((file) => existsSync(join(root, 'dist/browser', file))))
    execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' })
  const project = await mkdtemp(join(tmpdir(), 'payfetch-script-build-'))
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', project], { cwd: root, encoding: 'utf8' }),
  ) as { filename: string; files: { path: string }[] }[]
  packedFiles = packed?.files.map((file) => file.path) ?? []
  unpacked = join(project, 'package')
  await mkdir(unpacked)
  execFileSync('tar', ['xzf', join(project, packed?.filename ?? ''), '-C', unpacked, '--strip-components=1'])
  packageJson = JSON.parse(await readFile(join(unpacked, 'package.json'), 'utf8')) as Record<string, unknown>

  const file = (name: string) => async (_request: unknown, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'text/javascript' })
    response.end(await readFile(join(unpacked, 'dist/browser', name)))
  }
  const html = (body: string) => (_request: unknown, response: ServerResponse) =>
    void response.writeHead(200, { 'content-type': 'text/html' }).end(page(body))
  merchant = await startMerchant({
    ...Object.fromEntries(scriptFiles.map((name) => [`/${name}`, file(name)])),
    '/iife.html': html('<script src="/payfetch.global.js"></script>'),
    '/esm.html': html(
      `<script type="module">import * as payfetch from '/payfetch.js'; window.payfetch = payfetch</script>`,
    ),
    '/solana-iife.html': html('<script src="/payfetch-solana.global.js"></script>'),
    '/solana-esm.html': html(
      `<script type="module">import * as payfetch from '/payfetch-solana.js'; window.payfetch = payfetch</script>`,
    ),
    '/article': (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('the article')),
  })
  browser = await startChromium()
  await injectEthereum(browser.context, testEip1193Provider(account, { chainId: 84532 }))
})

afterAll(async () => {
  await browser?.close()
  await merchant?.close()
  if (unpacked) await rm(join(unpacked, '..'), { recursive: true, force: true })
})

async function open(path: string): Promise<Page> {
  const tab = await browser.context.newPage()
  await tab.goto(`${merchant.url}${path}`)
  await tab.waitForFunction(() => (window as unknown as PageWindow).payfetch !== undefined)
  return tab
}

/** Pays the article from the page with the injected wallet; what the page saw. */
function payInPage(tab: Page) {
  return tab.evaluate(async () => {
    const page = window as unknown as PageWindow
    const { createPayingFetch, eip1193, evm, getReceipt } = page.payfetch
    const fetchPaid = createPayingFetch({ signers: [evm({ account: await eip1193(page.ethereum) })] })
    const response = await fetchPaid('/article')
    const receipt = getReceipt(response)
    return { status: response.status, text: await response.text(), amount: String(receipt?.amount) }
  })
}

describe('the script build', () => {
  test('behavior: the packed tarball has the four script files, and unpkg and jsdelivr name the IIFE that is in it', () => {
    expect(packedFiles.filter((path) => path.startsWith('dist/browser/payfetch')).sort()).toEqual(
      scriptFiles.map((name) => `dist/browser/${name}`).sort(),
    )
    expect([packageJson.unpkg, packageJson.jsdelivr]).toEqual([
      './dist/browser/payfetch.global.js',
      './dist/browser/payfetch.global.js',
    ])
    expect(packedFiles).toContain('dist/browser/payfetch.global.js')
  })

  test('behavior: the IIFE from a <script> tag sets window.payfetch, which pays through window.ethereum', async () => {
    const tab = await open('/iife.html')
    const before = merchant.settled.length
    expect(await payInPage(tab)).toEqual({ status: 200, text: 'the article', amount: '10000' })
    expect(merchant.settled.slice(before)).toMatchObject([{ from: account.address, value: '10000' }])
    await tab.close()
  })

  test('behavior: the ES module file imports with nothing beside it and pays the same way', async () => {
    const tab = await open('/esm.html')
    expect(await payInPage(tab)).toEqual({ status: 200, text: 'the article', amount: '10000' })
    await tab.close()
  })

  test('behavior: each build exports what its page needs and nothing of the other chain', async () => {
    const names = async (path: string) => {
      const tab = await open(path)
      const exported = await tab.evaluate(() => Object.keys((window as unknown as PageWindow).payfetch).sort())
      await tab.close()
      return exported
    }
    const [evmIife, evmEsm, solanaIife, solanaEsm] = [
      await names('/iife.html'),
      await names('/esm.html'),
      await names('/solana-iife.html'),
      await names('/solana-esm.html'),
    ]
    expect(evmEsm).toEqual(evmIife)
    expect(solanaEsm).toEqual(solanaIife)
    const common = ['createPayingFetch', 'getReceipt', 'isPayfetchError', 'payment', 'storageLedger', 'storageSessions']
    expect(evmIife).toEqual(expect.arrayContaining([...common, 'evm', 'eip1193', 'lightning', 'webln', 'l402']))
    expect(solanaIife).toEqual(expect.arrayContaining([...common, 'solana', 'walletAdapter']))
    expect(
      evmIife.filter((name) => ['solana', 'walletAdapter', 'nwc', 'lnd', 'lnbits', 'coreLightning'].includes(name)),
    ).toEqual([])
    expect(solanaIife.filter((name) => ['evm', 'eip1193', 'lightning', 'webln'].includes(name))).toEqual([])
  })
})
