// What `payfetch mcp` costs: its start-up, and the time one paid call through MCP adds over a
// direct createPayingFetch call.
//
//   npm run build && npx tsx scripts/bench-mcp.ts          (writes bench/mcp.md)
//   BENCH_CALLS=50 BENCH_STARTS=10 npx tsx scripts/bench-mcp.ts
//
// Start-up: spawn the built CLI, MCP initialize, tools/list, through the SDK's own stdio client.
// Paid calls go to the loopback x402 merchant of test/support (it verifies every EIP-712
// signature), one at a time, the two paths alternated call by call so drift, GC and JIT warm-up
// fall on both alike. Both use a file ledger and file sessions, as `payfetch mcp` does by default.
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { connectMcp } from '../cli/test/support/mcpClient.js'
import { evm } from '../src/evm/index.js'
import { createPayingFetch } from '../src/index.js'
import { fileLedger, fileSessions } from '../src/node/index.js'
import { requirement, startMerchant } from '../test/support/merchant.js'

const calls = Number(process.env.BENCH_CALLS ?? 100)
const starts = Number(process.env.BENCH_STARTS ?? 15)
const warmUp = 10

const stats = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { mean: times.reduce((sum, time) => sum + time, 0) / times.length, p50: at(0.5), p95: at(0.95) }
}
const ms = (value: number) => value.toFixed(1)

const merchant = await startMerchant({
  '/report': (request, response, self) =>
    self.charge(request, response, [requirement()], () =>
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"report":"all quiet"}'),
    ),
})
const dir = await mkdtemp(join(tmpdir(), 'payfetch-bench-mcp-'))
const load = loadavg()[0] ?? 0
try {
  // Start-up, two configurations alternated: one EVM key; every kind of key (libraries load lazily).
  const evmKey = generatePrivateKey()
  const solanaKey = JSON.stringify(Array.from({ length: 64 }, (_, index) => (index * 7) % 256))
  const configurations = {
    'EVM key only': { PAYFETCH_EVM_PRIVATE_KEY: evmKey },
    'EVM + Solana + NWC': {
      PAYFETCH_EVM_PRIVATE_KEY: evmKey,
      PAYFETCH_SOLANA_SECRET_KEY: solanaKey,
      PAYFETCH_NWC_URL: `nostr+walletconnect://${'b'.repeat(64)}?relay=ws%3A%2F%2F127.0.0.1%3A1&secret=${'c'.repeat(64)}`,
    },
  }
  const startTimes: Record<string, number[]> = Object.fromEntries(Object.keys(configurations).map((name) => [name, []]))
  for (let round = 0; round < starts + 1; round++)
    for (const [name, env] of Object.entries(configurations)) {
      const started = performance.now()
      const session = await connectMcp({ ...env, PAYFETCH_STATE_DIR: join(dir, `start-${name.length}-${round}`) })
      await session.client.listTools()
      const elapsed = performance.now() - started
      await session.close()
      if (round > 0) startTimes[name]?.push(elapsed) // the first spawn warms the disk cache
    }

  // Paid calls: MCP pay_fetch against a direct paying fetch with the same kind of ledger.
  const mcp = await connectMcp({ PAYFETCH_EVM_PRIVATE_KEY: generatePrivateKey(), PAYFETCH_STATE_DIR: join(dir, 'mcp') })
  const direct = createPayingFetch({
    signers: [evm({ account: privateKeyToAccount(generatePrivateKey()) })],
    ledger: await fileLedger(join(dir, 'direct-ledger.jsonl')),
    sessions: await fileSessions(join(dir, 'direct-sessions.json')),
  })
  const times = { direct: [] as number[], mcp: [] as number[] }
  for (let call = 0; call < calls + warmUp; call++) {
    let started = performance.now()
    const response = await direct(`${merchant.url}/report`)
    await response.text()
    const directTime = performance.now() - started
    started = performance.now()
    const result = await mcp.call('pay_fetch', { url: `${merchant.url}/report` })
    const mcpTime = performance.now() - started
    if (result.isError || !result.value.paid) throw new Error(`MCP call failed: ${result.text}`)
    if (call >= warmUp) {
      times.direct.push(directTime)
      times.mcp.push(mcpTime)
    }
  }
  await mcp.close()

  const direct_ = stats(times.direct)
  const mcp_ = stats(times.mcp)
  const lines = [
    '# `payfetch mcp`: start-up and the cost of a paid call through MCP',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}.`,
    `Produced by \`npx tsx scripts/bench-mcp.ts\` (BENCH_STARTS=${starts}, BENCH_CALLS=${calls}) after \`npm run build\`.`,
    `One run on a shared machine (1-minute load average ${load.toFixed(1)} at the start, ${loadavg()[0]?.toFixed(1)} at the end).`,
    '',
    '## Start-up',
    '',
    'Spawn `node cli/dist/cli.js mcp`, MCP `initialize`, `tools/list`, through the SDK client over stdio.',
    '',
    '| keys set | mean ms | p50 ms | p95 ms |',
    '| --- | ---: | ---: | ---: |',
    ...Object.entries(startTimes).map(([name, list]) => {
      const value = stats(list)
      return `| ${name} | ${ms(value.mean)} | ${ms(value.p50)} | ${ms(value.p95)} |`
    }),
    '',
    '## One paid call',
    '',
    `${calls} paid x402 calls per path after ${warmUp} warm-up calls, alternated. A call is the unpaid request, the 402, policy,`,
    'the file ledger, an EIP-712 signature, the paid replay and the merchant verifying the signature, all on loopback.',
    '',
    '| path | mean ms | p50 ms | p95 ms |',
    '| --- | ---: | ---: | ---: |',
    `| direct \`createPayingFetch\` (file ledger) | ${ms(direct_.mean)} | ${ms(direct_.p50)} | ${ms(direct_.p95)} |`,
    `| MCP \`pay_fetch\` over stdio | ${ms(mcp_.mean)} | ${ms(mcp_.p50)} | ${ms(mcp_.p95)} |`,
    `| added by MCP and the tool layer | ${ms(mcp_.mean - direct_.mean)} | ${ms(mcp_.p50 - direct_.p50)} | |`,
    '',
  ]
  const report = new URL('../bench/mcp.md', import.meta.url)
  await writeFile(report, lines.join('\n'))
  // Biome aligns the tables, as it checks bench/ in npm test.
  execFileSync('npx', ['biome', 'format', '--write', report.pathname], { stdio: 'ignore' })
  console.log(lines.join('\n'))
} finally {
  await merchant.close()
  await rm(dir, { recursive: true, force: true })
}
