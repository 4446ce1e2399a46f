// x402 `batch-settlement` on the local stack (x402 2.27 reference server and facilitator, the channel
// contracts on anvil): client time of the deposit call and of a voucher call, payfetch beside the
// reference client (`@x402/evm/batch-settlement/client` with `@x402/fetch`), and on-chain
// transactions per N calls (one deposit, then one claim and one settle for all of them).
//
//   npx tsx scripts/bench-batch.ts          (writes bench/x402-batch.md)
//   BENCH_CALLS=20 npx tsx scripts/bench-batch.ts
import { writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { BatchSettlementEvmScheme } from '@x402/evm/batch-settlement/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import { startEvmStack } from '../examples/local-stack/evmStack.js'
import { batchSettlement, evm } from '../src/evm/index.js'
import { createPayingFetch } from '../src/index.js'

const calls = Number(process.env.BENCH_CALLS ?? 40)
const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { mean: samples.reduce((sum, value) => sum + value, 0) / samples.length, p50: at(0.5), p95: at(0.95) }
}
const ms = (value: number) => value.toFixed(2)

const loadAtStart = loadavg()[0] ?? 0
const stack = await startEvmStack()
try {
  const payfetchAccount = stack.newAccount()
  const referenceAccount = stack.newAccount()
  await stack.mint(stack.usdc, payfetchAccount.address, 10_000_000n)
  await stack.mint(stack.usdc, referenceAccount.address, 10_000_000n)
  const payfetch = createPayingFetch({
    // A deposit that covers every call of the run, like the reference client's below.
    signers: [evm({ account: payfetchAccount, batchSettlement: batchSettlement({ depositMultiplier: 100 }) })],
    caps: { budgets: [{ usd: '1000' }] },
  })
  // Its default follows the server's minDeposit (10 calls here); the strategy deposits 100 calls' worth.
  const scheme = new BatchSettlementEvmScheme(referenceAccount, { depositStrategy: () => '100000' })
  const reference = wrapFetchWithPayment(
    fetch,
    x402Client.fromConfig({ schemes: [{ network: 'eip155:*', client: scheme }] }),
  )
  const clients = { payfetch, 'reference client': reference } as Record<string, typeof fetch>
  const times: Record<string, number[]> = { payfetch: [], 'reference client': [] }
  const start = await stack.blockNumber()
  for (let call = 0; call < calls; call++) {
    // Alternate which client goes first, so drift falls on both alike.
    const order = call % 2 === 0 ? ['payfetch', 'reference client'] : ['reference client', 'payfetch']
    for (const name of order) {
      const began = performance.now()
      const response = await (clients[name] as typeof fetch)(stack.batch.weatherUrl)
      await response.arrayBuffer()
      times[name]?.push(performance.now() - began)
      if (response.status !== 200) throw new Error(`${name} got ${response.status}`)
    }
  }
  const deposits = await stack.transactionsSince(start)
  await stack.batch.claimAndSettle()
  const total = await stack.transactionsSince(start)
  const unpaid: number[] = []
  for (let call = 0; call < 20; call++) {
    const began = performance.now()
    const response = await fetch(stack.batch.weatherUrl)
    await response.arrayBuffer()
    unpaid.push(performance.now() - began)
  }
  const rows = Object.entries(times).map(([name, samples]) => {
    const vouchers = stats(samples.slice(1))
    return `| ${name} | ${ms(samples[0] ?? 0)} | ${ms(vouchers.mean)} | ${ms(vouchers.p50)} | ${ms(vouchers.p95)} |`
  })
  const floor = stats(unpaid)
  const text = `# x402 \`batch-settlement\`: one deposit, then vouchers

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, Node ${process.version}.
Produced by \`npx tsx scripts/bench-batch.ts\` (BENCH_CALLS=${calls} per client).
One run on a shared machine (1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end).

Each client calls \`GET /batch/weather\` (0.001 USDC) of the x402 2.27 reference server ${calls} times through its
own channel, alternating which goes first. The first call is the deposit call: the unpaid request, the 402, an
ERC-3009 \`receiveWithAuthorization\` and a voucher signed, the paid retry, the facilitator's deposit transaction
mined on anvil, then the 200. Every later call is a voucher call: the same without any transaction.

| client | deposit call ms | voucher call mean ms | p50 ms | p95 ms |
| --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}
| unpaid 402 (floor: one round trip) | | ${ms(floor.mean)} | ${ms(floor.p50)} | ${ms(floor.p95)} |

On-chain transactions for ${2 * calls} paid calls in two channels: ${deposits} before settlement (one deposit per
channel), ${total} after the server's claim and settle (one claim transaction covering every voucher, one settle).
Per channel of N calls: 1 deposit + at most 1 settlement, plus the server's claim.
payfetch also takes the channel's lock in its sessions, checks each answer's charge, channel id and total before
the next voucher, and keeps a ledger entry for every call; the reference client keeps its channel in memory.
`
  await writeFile(new URL('../bench/x402-batch.md', import.meta.url), text)
  console.log(text)
} finally {
  await stack.stop()
}
