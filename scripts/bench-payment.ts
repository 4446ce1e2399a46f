// One paid `Payment`-scheme evm call, payfetch beside mppx's own client, against the same mppx 0.11
// server on anvil (the settlement is a mined transferWithAuthorization). Rounds alternate which
// client goes first, so drift, GC and JIT warm-up fall on both alike.
//
//   npx tsx scripts/bench-payment.ts          (writes bench/payment.md)
//   BENCH_ROUNDS=20 npx tsx scripts/bench-payment.ts
import { writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { Mppx, evm as mppxEvm } from 'mppx/client'
import { startMppxStack } from '../examples/local-stack/mppxStack.js'
import { evm } from '../src/evm/index.js'
import { createPayingFetch } from '../src/index.js'

const rounds = Number(process.env.BENCH_ROUNDS ?? 60)
const warmup = 5
const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { mean: samples.reduce((sum, value) => sum + value, 0) / samples.length, p50: at(0.5), p95: at(0.95) }
}

const loadAtStart = loadavg()[0] ?? 0
const stack = await startMppxStack()
try {
  const budget = BigInt(rounds + warmup) * 10_000n
  const payfetchAccount = await stack.evm.newPayer(budget)
  const mppxAccount = await stack.evm.newPayer(budget)
  const payfetch = createPayingFetch({
    signers: [evm({ account: payfetchAccount })],
    caps: { budgets: [{ usd: '1000' }] },
  })
  const mppx = Mppx.create({
    polyfill: false,
    methods: [
      mppxEvm.charge({
        account: mppxAccount,
        currencies: [mppxEvm.assets.baseSepolia.USDC],
        networks: [84532],
        maxAmount: '0.10',
      }),
    ],
  })
  const clients = {
    payfetch: (url: string) => payfetch(url),
    'mppx client': (url: string) => mppx.fetch(url),
    'unpaid 402 (floor: one round trip)': (url: string) => fetch(url),
  }
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(clients).map((name) => [name, []]))
  const url = `${stack.url}/weather`
  for (let round = 0; round < rounds + warmup; round++) {
    const order = Object.entries(clients)
    if (round % 2 === 1) order.reverse()
    for (const [name, call] of order) {
      const started = performance.now()
      const response = await call(url)
      await response.arrayBuffer()
      const elapsed = performance.now() - started
      const expected = name.startsWith('unpaid') ? 402 : 200
      if (response.status !== expected) throw new Error(`${name}: ${response.status}`)
      if (round >= warmup) samples[name]?.push(elapsed)
    }
  }
  const rows = Object.entries(samples).map(([name, values]) => ({ name, ...stats(values) }))
  const [ours, theirs] = rows
  const table = [
    '| client | mean ms | p50 ms | p95 ms |',
    '| ------ | ------: | -----: | -----: |',
    ...rows.map((row) => `| ${row.name} | ${row.mean.toFixed(2)} | ${row.p50.toFixed(2)} | ${row.p95.toFixed(2)} |`),
  ]
  const report = `# One paid \`Payment\`-scheme evm call: payfetch beside mppx's client

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}.
Produced by \`npx tsx scripts/bench-payment.ts\` (BENCH_ROUNDS=${rounds}, ${warmup} warm-up rounds dropped).
One run on a shared machine (1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end).

Each round calls \`GET /weather\` of one mppx 0.11 server with both clients (order alternating), each from its own
funded key: the unpaid request, the 402, an EIP-712 signature, the paid retry, and the server's HMAC check,
signature recovery, simulation and a mined \`transferWithAuthorization\` on anvil, then the 200. The last row is one
unpaid request answered 402.

${table.join('\n')}

payfetch − mppx client: ${((ours?.p50 ?? 0) - (theirs?.p50 ?? 0)).toFixed(2)} ms at the median, ${((ours?.mean ?? 0) - (theirs?.mean ?? 0)).toFixed(2)} ms on the mean.
payfetch also checks caps and a budget and keeps a ledger entry for every payment; mppx's client checks \`maxAmount\`.
`
  await writeFile(new URL('../bench/payment.md', import.meta.url), report)
  console.log(report)
} finally {
  await stack.stop()
}
