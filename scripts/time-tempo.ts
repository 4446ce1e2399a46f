// How long one paid Tempo call takes, end to end, against the mppx server of the local stack:
// the unpaid request, the 402, preparing the transaction through anvil, signing, the paid replay,
// and the server's co-signing (when it sponsors), broadcast and wait for the receipt.
//
//   npx tsx scripts/time-tempo.ts            (TEMPO_CALLS=10 for more samples per route)
//
// Each call has a fresh payer (anvil mines one expiring-nonce transaction per sender); funding it
// is not timed. The first call of each route warms up viem, mppx and the JIT and is not counted.
import { type MppxStack, pathUsd, startMppxStack } from '../examples/local-stack/mppxStack.js'
import { createPayingFetch } from '../src/index.js'
import { tempo } from '../src/tempo/index.js'

const calls = Number(process.env.TEMPO_CALLS ?? 5)
const local = 'eip155:1337'

async function paidCall(stack: MppxStack, path: string): Promise<number> {
  const account = await stack.tempo.newPayer()
  const fetchPaid = createPayingFetch({
    signers: [tempo({ account, rpc: stack.tempo.getClient(), networks: [local] })],
    caps: { assets: [{ network: local, asset: pathUsd, maxAmount: 100_000n }] },
  })
  const started = performance.now()
  const response = await fetchPaid(`${stack.url}${path}`)
  await response.arrayBuffer()
  const elapsed = performance.now() - started
  if (response.status !== 200) throw new Error(`${path} answered ${response.status}`)
  return elapsed
}

const stack = await startMppxStack()
try {
  for (const path of ['/tempo/weather', '/tempo/unsponsored']) {
    await paidCall(stack, path)
    const samples: number[] = []
    for (let call = 0; call < calls; call++) samples.push(await paidCall(stack, path))
    const sorted = [...samples].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
    console.log(
      `${path}: median ${median.toFixed(0)} ms over ${calls} paid calls (min ${sorted[0]?.toFixed(0)}, max ${sorted.at(-1)?.toFixed(0)})`,
    )
  }
} finally {
  await stack.stop()
}
