import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { encodeBase64Json } from '../../examples/local-stack/http.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// payfetch as a newcomer gets it: the packed tarball unpacked into an empty project's
// node_modules (viem linked in as the peer they would install), used from ESM and CommonJS against
// servers that overcharge, loop and redirect.
const root = join(import.meta.dirname, '../..')
let project = ''
let merchant: Merchant
let elsewhere: Merchant

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/index.js'))) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' })
  project = await mkdtemp(join(tmpdir(), 'payfetch-newcomer-'))
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', project], { cwd: root, encoding: 'utf8' }),
  ) as { filename: string }[]
  const installed = join(project, 'node_modules/payfetch')
  await mkdir(installed, { recursive: true })
  execFileSync('tar', ['xzf', join(project, packed[0]?.filename ?? ''), '-C', installed, '--strip-components=1'])
  await symlink(join(root, 'node_modules/viem'), join(project, 'node_modules/viem'), 'dir')
  await writeFile(join(project, 'package.json'), '{ "name": "newcomer", "private": true }')

  elsewhere = await startMerchant({
    '/landing': (request, response) =>
      void response.end(`proof: ${request.headers['payment-signature'] ? 'yes' : 'no'}`),
  })
  merchant = await startMerchant({
    '/weather': (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('sunny')),
    '/pricey': (request, response, self) =>
      self.charge(request, response, [requirement({ amount: '5000000' })], () => response.end('never')),
    '/loop': (request, response) => {
      const challenge = {
        x402Version: 2,
        error: request.headers['payment-signature'] ? 'try again' : 'pay',
        accepts: [requirement()],
      }
      response.writeHead(402, { 'payment-required': encodeBase64Json(challenge) }).end()
    },
    '/away': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(307, { location: `${elsewhere.url}/landing` }).end(),
      ),
  })
})

afterAll(async () => {
  await merchant?.close()
  await elsewhere?.close()
  if (project) await rm(project, { recursive: true, force: true })
})

// The newcomer's script: four calls, each outcome printed as JSON.
const script = (load: string) => `${load}
const fetchPaid = createPayingFetch({ signers: [evm({ account: privateKeyToAccount(process.env.KEY) })] })
const outcomes = {}
for (const path of ['/weather', '/pricey', '/loop', '/away']) {
  try {
    const response = await fetchPaid(process.env.BASE + path)
    outcomes[path] = { status: response.status, body: await response.text(), paid: getReceipt(response)?.amount?.toString() }
  } catch (error) {
    outcomes[path] = { code: isPayfetchError(error) ? error.code : String(error) }
  }
}
console.log(JSON.stringify(outcomes))`

// Asynchronous: the servers live in this process and must keep answering while the script runs.
async function run(file: string): Promise<Record<string, unknown>> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], {
    cwd: project,
    encoding: 'utf8',
    env: { ...process.env, KEY: generatePrivateKey(), BASE: merchant.url },
  })
  expect(stderr).toBe('')
  return JSON.parse(stdout) as Record<string, unknown>
}

describe('the packed tarball in an empty project', () => {
  const expected = {
    '/weather': { status: 200, body: 'sunny', paid: '10000' },
    '/pricey': { code: 'CAP_EXCEEDED' },
    '/loop': { code: 'PAYMENT_REJECTED' },
    '/away': { status: 200, body: 'proof: no', paid: '10000' },
  }

  test('behavior: ESM import pays, refuses the overcharge and the loop, keeps the proof home', async () => {
    await writeFile(
      join(project, 'main.mjs'),
      script(`import { createPayingFetch, getReceipt, isPayfetchError } from 'payfetch'
import { evm } from 'payfetch/evm'
import { privateKeyToAccount } from 'viem/accounts'`),
    )
    const before = merchant.seen.filter((entry) => entry.path === '/loop' && entry.headers['payment-signature']).length
    expect(await run('main.mjs')).toEqual(expected)
    // The loop got exactly one proof: no second payment.
    expect(
      merchant.seen.filter((entry) => entry.path === '/loop' && entry.headers['payment-signature']).length - before,
    ).toBe(1)
  })

  test('behavior: CommonJS require works the same', async () => {
    await writeFile(
      join(project, 'main.cjs'),
      `const { createPayingFetch, getReceipt, isPayfetchError } = require('payfetch')
const { evm } = require('payfetch/evm')
const { privateKeyToAccount } = require('viem/accounts')
;(async () => {
${script('')}
})()`,
    )
    expect(await run('main.cjs')).toEqual(expected)
  })

  test('behavior: the ESM and CommonJS copies loaded together share receipts and errors', async () => {
    await writeFile(
      join(project, 'mixed.mjs'),
      `import { createRequire } from 'node:module'
import { createPayingFetch, getReceipt, isPayfetchError } from 'payfetch'
import { evm } from 'payfetch/evm'
import { privateKeyToAccount } from 'viem/accounts'
const cjs = createRequire(import.meta.url)('payfetch')
const signers = [evm({ account: privateKeyToAccount(process.env.KEY) })]
const response = await createPayingFetch({ signers })(process.env.BASE + '/weather')
await response.text()
const refusal = await cjs.createPayingFetch({ signers })(process.env.BASE + '/pricey').catch((error) => error)
console.log(JSON.stringify({
  copies: cjs.getReceipt !== getReceipt,
  esmReceipt: getReceipt(response)?.amount?.toString(),
  cjsReceipt: cjs.getReceipt(response)?.amount?.toString(),
  cjsErrorSeenByEsm: isPayfetchError(refusal, 'CAP_EXCEEDED'),
}))`,
    )
    expect(await run('mixed.mjs')).toEqual({
      copies: true,
      esmReceipt: '10000',
      cjsReceipt: '10000',
      cjsErrorSeenByEsm: true,
    })
  })

  test('behavior: the packed CLI asks for payfetch by version, never by a path that resolves inside the tarball', async () => {
    // npm packs the manifest as written: `file:..` installed from a tarball links payfetch to the CLI itself.
    const cli = JSON.parse(await readFile(join(root, 'cli/package.json'), 'utf8')) as Record<
      'dependencies' | 'peerDependencies',
      Record<string, string> | undefined
    >
    const own = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }
    const shipped = { ...cli.dependencies, ...cli.peerDependencies }
    expect(Object.entries(shipped).filter(([, spec]) => /^(file|link|workspace):/.test(spec))).toEqual([])
    expect(cli.peerDependencies?.payfetch).toBe(`^${own.version}`)
  })

  test('behavior: every subpath in the exports map resolves to a built file', async () => {
    const check = `const pkg = require('payfetch/package.json')
const fs = require('node:fs'), path = require('node:path')
const dir = path.dirname(require.resolve('payfetch/package.json'))
const missing = []
for (const [entry, target] of Object.entries(pkg.exports)) for (const file of typeof target === 'string' ? [target] : Object.values(target).flatMap((t) => typeof t === 'string' ? [t] : Object.values(t)))
  if (!fs.existsSync(path.join(dir, file))) missing.push(entry + ' ' + file)
console.log(JSON.stringify({ entries: Object.keys(pkg.exports).length, missing }))`
    await writeFile(join(project, 'exports.cjs'), check)
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: object }
    expect(await run('exports.cjs')).toEqual({ entries: Object.keys(manifest.exports).length, missing: [] })
  })
})
