// The cost payfetch adds to a call, next to raw fetch and @x402/fetch, in one run.
//
//   npm run build && npx tsx scripts/bench-hotpath.ts   (writes bench/hotpath.md)
//   BENCH_CALLS=100 npx tsx scripts/bench-hotpath.ts   (paid calls; passthrough and in-process take 5 and 10 times more)
//
// Two kinds of call on a loopback server, keep-alive on:
// - passthrough: GET /free answers 200; raw fetch is the floor.
// - paid: GET /item answers an x402 v2 402, then 200 for a valid EIP-3009 proof (the merchant of
//   test/support recovers every signature). The floor is the least a client can do: read the
//   header, sign once with viem, send again.
// Every round runs each client once, in an order that rotates, so drift, GC and JIT warm-up fall
// on all of them alike.
// Then the same calls in process, against a fetch that answers at once (the 402, then a 200 for any
// proof), with an account that returns one signature made beforehand: what each client costs in CPU
// alone, without the loopback's noise or the signature's.
// payfetch is measured as it ships, from dist/, as the peer is: the source run through tsx pays for
// its keep-names helper on every closure a call makes.
import { cpus, loadavg, totalmem } from 'node:os'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import type { Address, Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { decodeBase64Json, encodeBase64Json } from '../examples/local-stack/http.js'
import { transferWithAuthorizationTypes } from '../test/support/eip3009.js'
import { type Requirement, requirement, startMerchant } from '../test/support/merchant.js'

const built = async <Entry>(path: string): Promise<Entry> =>
  import(new URL(path, import.meta.url).href).catch((error) => {
    throw new Error(`${path} could not be loaded: run npm run build first.`, { cause: error })
  })
const { createPayingFetch } = await built<typeof import('../src/index.js')>('../dist/index.js')
const { evm, privateKeyAccount } = await built<typeof import('../src/evm/index.js')>('../dist/evm/index.js')

// A paid call's signature check on the server varies by ±1 ms: a difference of 0.1 ms needs a thousand samples.
const calls = Number(process.env.BENCH_CALLS ?? 1000)
const warmup = Math.max(20, Math.round(calls / 10))
const passthroughCalls = calls * 5
const reportFile = new URL('../bench/hotpath.md', import.meta.url)

const merchant = await startMerchant({
  '/free': (_request, response) => void response.writeHead(200, { 'content-type': 'text/plain' }).end('free'),
  '/item': (request, response, self) => self.charge(request, response, [requirement()], () => response.end('item')),
})
const key = generatePrivateKey()
const account = privateKeyToAccount(key)

/** A fetch answering in process: 200 for /free, the 402 for /item until a proof comes, then 200. */
const challengeHeader = encodeBase64Json({
  x402Version: 2,
  error: 'PAYMENT-SIGNATURE header is required',
  resource: { url: 'http://bench.test/item', description: 'bench', mimeType: 'text/plain' },
  accepts: [requirement()],
})
const settlement = encodeBase64Json({
  success: true,
  transaction: `0x${'ab'.repeat(32)}`,
  network: 'eip155:84532',
  payer: account.address,
})
const instantFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const request = new Request(input, init)
  if (request.url.endsWith('/free')) return new Response('free')
  if (!request.headers.has('payment-signature'))
    return new Response('{}', { status: 402, headers: { 'payment-required': challengeHeader } })
  return new Response('item', { headers: { 'payment-response': settlement } })
}) as typeof fetch

/** Signs nothing: every call gets one signature made beforehand (the instant fetch checks none). */
const signature = await account.signMessage({ message: 'bench' })
const presigned = { ...account, signTypedData: async () => signature } as typeof account

const clientsOver = (fetchImpl: typeof fetch, signer = account): Client[] => {
  const payfetch = createPayingFetch({ signers: [evm({ account: signer })], fetch: fetchImpl })
  const x402Fetch = wrapFetchWithPayment(
    fetchImpl,
    x402Client.fromConfig({ schemes: [{ network: 'eip155:*', client: new ExactEvmScheme(signer) }] }),
  )
  return [
    { name: 'raw fetch', call: (url) => fetchImpl(url) },
    { name: 'payfetch', call: (url) => payfetch(url) },
    { name: '@x402/fetch', call: (url) => x402Fetch(url) },
  ]
}
const paidOver = (fetchImpl: typeof fetch, clients: Client[], signer = account): Client[] => [
  { name: 'floor (sign + 2 round trips)', call: (url) => floorPaid(fetchImpl, url, signer) },
  ...clients.slice(1),
]
/** payfetch with its own key account, which hashes the typed data itself: only where signing is real. */
const withKeyAccount = (clients: Client[], fetchImpl: typeof fetch): Client[] => {
  const keyed = createPayingFetch({ signers: [evm({ account: privateKeyAccount(key) })], fetch: fetchImpl })
  return [...clients, { name: 'payfetch, privateKeyAccount', call: (url) => keyed(url) }]
}

/** What payfetch announces to an origin that asked for payment (by default), or to every one with `'always'`. */
let announced = ''
await createPayingFetch({
  signers: [evm({ account })],
  acceptPayment: 'always',
  fetch: async (_input, init) => {
    announced = new Headers(init?.headers).get('accept-payment') ?? ''
    return new Response('free')
  },
})('http://bench.test/free')
/**
 * Both sending `Accept-Payment`: raw fetch with the same header (what the header costs without
 * payfetch's code), and payfetch as it calls an origin that has answered it 402 (`'always'` sends
 * the same bytes to every origin).
 */
const announcing = (fetchImpl: typeof fetch): Client[] => {
  const told = createPayingFetch({ signers: [evm({ account })], fetch: fetchImpl, acceptPayment: 'always' })
  return [
    { name: 'raw fetch + Accept-Payment', call: (url) => fetchImpl(url, { headers: { 'accept-payment': announced } }) },
    { name: 'payfetch, sending Accept-Payment', call: (url) => told(url) },
  ]
}

/** The least a client can do for a paid call: one signature, two round trips, nothing checked. */
async function floorPaid(fetchImpl: typeof fetch, url: string, signer: typeof account): Promise<Response> {
  const first = await fetchImpl(url)
  await first.arrayBuffer()
  const required = decodeBase64Json(first.headers.get('payment-required') ?? '') as {
    resource: unknown
    accepts: Requirement[]
  }
  const accepted = required.accepts[0] as Requirement & { network: string; asset: Address; payTo: Address }
  const now = Math.floor(Date.now() / 1000)
  const authorization = {
    from: account.address,
    to: accepted.payTo,
    value: String(accepted.amount),
    validAfter: String(now - 600),
    validBefore: String(now + 60),
    nonce: `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex')}` as Hex,
  }
  const signature = await signer.signTypedData({
    domain: {
      ...(accepted.extra as { name: string; version: string }),
      chainId: Number(accepted.network.split(':')[1]),
      verifyingContract: accepted.asset,
    },
    types: transferWithAuthorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message: {
      ...authorization,
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
    },
  })
  const proof = { x402Version: 2, resource: required.resource, accepted, payload: { signature, authorization } }
  return fetchImpl(url, { headers: { 'payment-signature': encodeBase64Json(proof) } })
}

type Client = { name: string; call: (url: string) => Promise<Response> }

type Stats = { mean: number; p50: number; p95: number }
const stats = (samples: number[]): Stats => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { mean: samples.reduce((sum, value) => sum + value, 0) / samples.length, p50: at(0.5), p95: at(0.95) }
}

/** Alternated rounds; every response is read to the end and must be a 200. */
async function measure(list: Client[], url: string, count = calls): Promise<Stats[]> {
  const samples = list.map(() => [] as number[])
  for (let round = 0; round < warmup + count; round++) {
    for (let turn = 0; turn < list.length; turn++) {
      const index = (round + turn) % list.length
      const started = performance.now()
      const response = await (list[index] as Client).call(url)
      await response.arrayBuffer()
      const elapsed = performance.now() - started
      if (response.status !== 200) throw new Error(`${list[index]?.name}: unexpected ${response.status}`)
      if (round >= warmup) samples[index]?.push(elapsed)
    }
  }
  return samples.map(stats)
}

const loadAtStart = loadavg()[0] ?? 0
try {
  const clients = clientsOver(fetch)
  const paidClients = withKeyAccount(paidOver(fetch, clients), fetch)
  const freeClients = [...clients, ...announcing(fetch)]
  const free = await measure(freeClients, `${merchant.url}/free`, passthroughCalls)
  const paid = await measure(paidClients, `${merchant.url}/item`)
  const instant = clientsOver(instantFetch, presigned)
  const instantPaid = paidOver(instantFetch, instant, presigned)
  const cpuFree = await measure(instant, 'http://bench.test/free', calls * 10)
  const cpuPaid = await measure(instantPaid, 'http://bench.test/item', calls * 10)
  const table = (list: Client[], rows: Stats[], baseName: string) => {
    const base = rows[0] as Stats
    return [
      `| client | mean ms | p50 ms | p95 ms | mean over ${baseName} | p50 over ${baseName} |`,
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((row, index) => {
        const over = (a: number, b: number) =>
          index === 0 ? '—' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(3)} ms (${(((a - b) / b) * 100).toFixed(1)} %)`
        return `| ${list[index]?.name} | ${row.mean.toFixed(3)} | ${row.p50.toFixed(3)} | ${row.p95.toFixed(3)} | ${over(row.mean, base.mean)} | ${over(row.p50, base.p50)} |`
      }),
    ]
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`
  const report = [
    '# The hot path: payfetch next to raw fetch and @x402/fetch',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`,
    `Produced by \`npm run build && npx tsx scripts/bench-hotpath.ts\` (payfetch from \`dist/\`, as it ships; BENCH_CALLS=${calls}:`,
    `${passthroughCalls} passthrough and ${calls} paid rounds after ${warmup} warm-up rounds), one run on a shared`,
    `machine (1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end): read the differences, not the third decimal.`,
    'Loopback HTTP/1.1 with keep-alive; every round runs each client once, in a rotating order; every body is read.',
    '',
    '## Passthrough: a 200, no payment',
    '',
    "payfetch sends `Accept-Payment` only to an origin that has answered it 402 (`acceptPayment: 'after-402'`, the",
    'default outside a page): the second row calls an origin that never did, the last two send the header.',
    '',
    ...table(freeClients, free, 'raw fetch'),
    '',
    '## Paid: one x402 v2 `exact` payment on EVM',
    '',
    'The floor reads the 402, signs one EIP-3009 authorization with viem and sends again: nothing decoded beyond the',
    'header, no policy, no ledger. The merchant recovers every signature, for every client alike. The floor, payfetch',
    "and @x402/fetch sign through viem's account (`privateKeyToAccount`); the last row signs with payfetch's own",
    '`privateKeyAccount`, which hashes the typed data itself with the domain separator kept: the same signature.',
    '',
    ...table(paidClients, paid, 'the floor'),
    '',
    '## In process: the CPU each client spends',
    '',
    'The same clients over a fetch that answers at once, in process (the 402, then a 200 with a settlement for any',
    'proof, nothing verified), and an account that returns one signature made beforehand: what remains is each',
    `client's own work. Passthrough ${calls * 10} calls, paid ${calls * 10}.`,
    '',
    ...table(instant, cpuFree, 'raw fetch'),
    '',
    ...table(instantPaid, cpuPaid, 'the floor'),
    '',
  ].join('\n')
  const { writeFile } = await import('node:fs/promises')
  await writeFile(reportFile, report)
  console.log(report)
} finally {
  await merchant.close()
}
