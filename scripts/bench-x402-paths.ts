// Every x402 path but channels on the local stack (x402 2.27 reference server and facilitator on anvil,
// Permit2 and the x402 proxies at their canonical addresses): client time of one paid call, payfetch beside
// the reference client (`@x402/fetch` with `@x402/evm`'s schemes and `@x402/extensions`' sign-in-with-x
// hook), and on-chain transactions per N calls. Channels have their own bench: scripts/bench-batch.ts.
//
//   npx tsx scripts/bench-x402-paths.ts          (writes bench/x402-paths.md)
//   BENCH_CALLS=40 npx tsx scripts/bench-x402-paths.ts
import { writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { UptoEvmScheme } from '@x402/evm/upto/client'
import { createSIWxClientExtension } from '@x402/extensions/sign-in-with-x'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import type { PrivateKeyAccount } from 'viem/accounts'
import { startEvmStack, type TestToken } from '../examples/local-stack/evmStack.js'
import { startSiwxServer } from '../examples/local-stack/siwxServer.js'
import { evm } from '../src/evm/index.js'
import { type Caps, createPayingFetch, getReceipt } from '../src/index.js'

const calls = Number(process.env.BENCH_CALLS ?? 20)
// Fresh payers per client for the rows of first calls (sponsored approvals, sign-in-with-x's paying call).
const firstCallPayers = 5
// Unmeasured paid calls per client before each path is measured (the stack and the client's code warm up).
const warmUps = 3
const price = 10_000n
const ceiling = 50_000n
/** What the `upto` route charges on call `n`: 5 000 to 40 000 atomic units, always below the ceiling. */
const uptoCharge = (call: number) => 5_000n * BigInt(1 + (call % 8))

const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { mean: samples.reduce((sum, value) => sum + value, 0) / samples.length, p50: at(0.5), p95: at(0.95) }
}
const ms = (value: number) => value.toFixed(2)
const usdc = (atomic: bigint) => (Number(atomic) / 1e6).toFixed(3)

type Client = {
  readonly name: 'payfetch' | 'reference client'
  readonly account: PrivateKeyAccount
  fetch: typeof fetch
}
type Sample = { readonly ms: number; readonly transactions: number; readonly response: Response }
type Row = { path: string; client: string; calls: string; samples: number[]; transactions?: number }

const loadAtStart = loadavg()[0] ?? 0
const stack = await startEvmStack()
const siwx = await startSiwxServer({ facilitatorUrl: stack.facilitatorUrl, token: stack.usdc, payTo: stack.payTo })
const rows: Row[] = []
try {
  /** A fresh account holding 10 whole units of `token` (default USDC). */
  const funded = async (token: TestToken = stack.usdc) => {
    const account = stack.newAccount()
    await stack.mint(token, account.address, 10_000_000n)
    return account
  }
  const payfetchFor = (account: PrivateKeyAccount, caps?: Caps) =>
    createPayingFetch({ signers: [evm({ account, publicClient: stack.publicClient })], ...(caps ? { caps } : {}) })
  const referenceFor = (client: x402Client) => wrapFetchWithPayment(fetch, client)
  const exactReference = (account: PrivateKeyAccount) =>
    x402Client.fromConfig({
      schemes: [{ network: 'eip155:*', client: new ExactEvmScheme(account, { rpcUrl: stack.rpcUrl }) }],
    })

  /** One call, timed from the request to the last body byte; anything but a 200 stops the bench. */
  const paidCall = async (path: string, client: Client, url: string): Promise<Sample> => {
    const from = await stack.blockNumber()
    const began = performance.now()
    const response = await client.fetch(url)
    await response.arrayBuffer()
    const elapsed = performance.now() - began
    if (response.status !== 200) throw new Error(`${path}: ${client.name} got ${response.status} from ${url}`)
    return { ms: elapsed, transactions: await stack.transactionsSince(from), response }
  }
  /** `calls` calls per client, alternating which goes first so drift falls on both alike. */
  const alternate = async (path: string, clients: readonly Client[], urlOf: (call: number) => string) => {
    const samples = new Map<Client, Sample[]>(clients.map((client) => [client, []]))
    for (let call = 0; call < calls; call++) {
      const order = call % 2 === 0 ? clients : [...clients].reverse()
      for (const client of order) samples.get(client)?.push(await paidCall(path, client, urlOf(call)))
    }
    return samples
  }
  /** Throws unless `account` lost exactly `spent` of `token` since `before` (a bench that stops paying fails). */
  const checkSpent = async (
    path: string,
    name: string,
    token: TestToken,
    account: PrivateKeyAccount,
    before: bigint,
    spent: bigint,
  ) => {
    const moved = before - (await stack.balanceOf(token, account.address))
    if (moved !== spent) throw new Error(`${path}: ${name} moved ${moved}, expected ${spent}`)
  }
  const unpaidFloor = async (path: string, url: string) => {
    const samples: number[] = []
    for (let call = 0; call < 20; call++) {
      const began = performance.now()
      const response = await fetch(url)
      await response.arrayBuffer()
      samples.push(performance.now() - began)
      if (response.status !== 402) throw new Error(`${path}: an unpaid call got ${response.status}`)
    }
    rows.push({ path, client: 'unpaid 402 (floor: one round trip)', calls: '20', samples })
  }
  /** Warms each client up (`warmUps` unmeasured paid calls), then measures `calls` paid calls at `price` each. */
  const fixedPrice = async (path: string, clients: readonly Client[], url: string) => {
    for (const client of clients) for (let call = 0; call < warmUps; call++) await paidCall(path, client, url)
    const before = await Promise.all(clients.map((client) => stack.balanceOf(stack.usdc, client.account.address)))
    const payToBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    const samples = await alternate(path, clients, () => url)
    for (const [index, client] of clients.entries()) {
      await checkSpent(path, client.name, stack.usdc, client.account, before[index] as bigint, BigInt(calls) * price)
      const taken = samples.get(client) ?? []
      const transactions = taken.reduce((sum, sample) => sum + sample.transactions, 0)
      rows.push({ path, client: client.name, calls: `${calls} paid`, samples: taken.map((s) => s.ms), transactions })
    }
    const received = (await stack.balanceOf(stack.usdc, stack.payTo)) - payToBefore
    if (received !== BigInt(clients.length * calls) * price) throw new Error(`${path}: payTo received ${received}`)
    await unpaidFloor(path, url)
  }

  // 1. exact, EIP-3009 transferWithAuthorization: a signature, no chain read.
  {
    const [mine, theirs] = [await funded(), await funded()]
    await fixedPrice(
      'exact, EIP-3009',
      [
        { name: 'payfetch', account: mine, fetch: createPayingFetch({ signers: [evm({ account: mine })] }) },
        { name: 'reference client', account: theirs, fetch: referenceFor(exactReference(theirs)) },
      ],
      `${stack.v2Url}/weather`,
    )
  }

  // 2. exact through Permit2, the allowance approved once by each payer before anything is measured.
  {
    const [mine, theirs] = [await funded(), await funded()]
    await Promise.all([stack.approvePermit2(mine), stack.approvePermit2(theirs)])
    await fixedPrice(
      'exact, Permit2 (approved before)',
      [
        { name: 'payfetch', account: mine, fetch: payfetchFor(mine) },
        { name: 'reference client', account: theirs, fetch: referenceFor(exactReference(theirs)) },
      ],
      `${stack.v2Url}/permit2/weather`,
    )
  }

  // 2b. The first call of payers with no allowance and no ETH, the server sponsoring the grant.
  const sponsored = [
    { path: 'exact, Permit2, first call, EIP-2612 sponsored', route: '/permit2/eip2612', token: stack.usdc },
    {
      path: 'exact, Permit2, first call, ERC-20 approval sponsored',
      route: '/permit2/erc20-approval',
      token: stack.unknownToken,
    },
  ]
  for (const { path, route, token } of sponsored) {
    // The route's token is in no default list: both clients are told they may pay it.
    const caps: Caps = { assets: [{ network: stack.v2Network, asset: token.address, maxAmount: price }] }
    const allowedAssets = [{ network: stack.v2Network, asset: token.address, maxAmountPerPayment: price.toString() }]
    const clientFor = {
      payfetch: (account: PrivateKeyAccount) => payfetchFor(account, caps),
      'reference client': (account: PrivateKeyAccount) =>
        referenceFor(
          x402Client.fromConfig({
            schemes: [{ network: 'eip155:*', client: new ExactEvmScheme(account, { rpcUrl: stack.rpcUrl }) }],
            spendControls: { allowedAssets },
          }),
        ),
    }
    const samples = { payfetch: [] as Sample[], 'reference client': [] as Sample[] }
    for (let payer = 0; payer < firstCallPayers; payer++) {
      const names =
        payer % 2 === 0 ? (['payfetch', 'reference client'] as const) : (['reference client', 'payfetch'] as const)
      for (const name of names) {
        const account = await funded(token)
        const before = await stack.balanceOf(token, account.address)
        samples[name].push(
          await paidCall(path, { name, account, fetch: clientFor[name](account) }, `${stack.v2Url}${route}`),
        )
        await checkSpent(path, name, token, account, before, price)
      }
    }
    for (const [client, taken] of Object.entries(samples)) {
      const transactions = taken.reduce((sum, sample) => sum + sample.transactions, 0)
      const text = `${firstCallPayers} payers, 1 call each`
      rows.push({ path, client, calls: text, samples: taken.map((s) => s.ms), transactions })
    }
  }

  // 3. upto: a Permit2 permit for the ceiling, the handler charging less (`?charge=`), the facilitator settling that.
  {
    const path = 'upto (ceiling 0.05 USDC)'
    const [mine, theirs] = [await funded(), await funded()]
    await Promise.all([stack.approvePermit2(mine), stack.approvePermit2(theirs)])
    const clients: Client[] = [
      { name: 'payfetch', account: mine, fetch: payfetchFor(mine) },
      {
        name: 'reference client',
        account: theirs,
        fetch: referenceFor(
          x402Client.fromConfig({
            schemes: [{ network: 'eip155:*', client: new UptoEvmScheme(theirs, { rpcUrl: stack.rpcUrl }) }],
          }),
        ),
      },
    ]
    const url = (charge: bigint) => `${stack.v2Url}/upto/tokens?charge=${charge}`
    for (const client of clients) for (let call = 0; call < warmUps; call++) await paidCall(path, client, url(price))
    const before = await Promise.all(clients.map((client) => stack.balanceOf(stack.usdc, client.account.address)))
    const samples = await alternate(path, clients, (call) => url(uptoCharge(call)))
    let charged = 0n
    for (let call = 0; call < calls; call++) charged += uptoCharge(call)
    for (const [index, client] of clients.entries()) {
      await checkSpent(path, client.name, stack.usdc, client.account, before[index] as bigint, charged)
      const taken = samples.get(client) ?? []
      if (client.name === 'payfetch')
        for (const [call, sample] of taken.entries())
          if (getReceipt(sample.response)?.amount !== uptoCharge(call))
            throw new Error(`${path}: receipt ${call} is wrong`)
      const transactions = taken.reduce((sum, sample) => sum + sample.transactions, 0)
      const text = `${calls} paid: ${usdc(charged)} USDC charged of ${usdc(BigInt(calls) * ceiling)} signed for`
      rows.push({ path, client: client.name, calls: text, samples: taken.map((s) => s.ms), transactions })
    }
    await unpaidFloor(path, url(price))
  }

  // 4. sign-in-with-x: the first call pays for the path, every later call signs a SIWE message instead.
  {
    const path = 'sign-in-with-x'
    const clientsFor = (mine: PrivateKeyAccount, theirs: PrivateKeyAccount): Client[] => [
      { name: 'payfetch', account: mine, fetch: createPayingFetch({ signers: [evm({ account: mine })] }) },
      {
        name: 'reference client',
        account: theirs,
        fetch: referenceFor(exactReference(theirs).registerExtension(createSIWxClientExtension({ signers: [theirs] }))),
      },
    ]
    const report = `${siwx.url}/report`
    const clients = clientsFor(await funded(), await funded())
    // Warmed on another path of the same server (paid, then signed in to): /report is still unpaid.
    for (const client of clients)
      for (let call = 0; call < warmUps; call++) await paidCall(path, client, `${siwx.url}/other`)
    const before = await Promise.all(clients.map((client) => stack.balanceOf(stack.usdc, client.account.address)))
    const samples = await alternate(path, clients, () => report)
    // More paying calls: fresh payers, one call each, so the paying row is not a single sample.
    const paying = new Map(clients.map((client) => [client.name, [] as number[]]))
    for (let payer = 1; payer < firstCallPayers; payer++) {
      const fresh = clientsFor(await funded(), await funded())
      for (const client of payer % 2 === 0 ? fresh : fresh.reverse()) {
        const balance = await stack.balanceOf(stack.usdc, client.account.address)
        const sample = await paidCall(path, client, report)
        if (sample.transactions !== 1) throw new Error(`${path}: a fresh ${client.name} payer did not pay`)
        await checkSpent(path, client.name, stack.usdc, client.account, balance, price)
        paying.get(client.name)?.push(sample.ms)
      }
    }
    for (const [index, client] of clients.entries()) {
      await checkSpent(path, client.name, stack.usdc, client.account, before[index] as bigint, price)
      const [first, ...signIns] = samples.get(client) ?? []
      if (first?.transactions !== 1 || signIns.some((sample) => sample.transactions !== 0))
        throw new Error(`${path}: ${client.name} did not pay once and then sign in`)
      const firsts = [first.ms, ...(paying.get(client.name) ?? [])]
      rows.push({
        path,
        client: client.name,
        calls: `${firstCallPayers} payers, paying call`,
        samples: firsts,
        transactions: firstCallPayers,
      })
      const text = `1 payer, calls 2–${calls}`
      rows.push({ path, client: client.name, calls: text, samples: signIns.map((s) => s.ms), transactions: 0 })
    }
    await unpaidFloor(path, `${siwx.url}/report`)
  }

  const table = rows.map(({ path, client, calls: what, samples, transactions }) => {
    const { mean, p50, p95 } = stats(samples)
    return `| ${path} | ${client} | ${what} | ${ms(mean)} | ${ms(p50)} | ${ms(p95)} | ${transactions ?? ''} |`
  })
  const text = `# x402 per path: one paid call, and transactions per N calls

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, Node ${process.version}.
Produced by \`npx tsx scripts/bench-x402-paths.ts\` (BENCH_CALLS=${calls} per client and path).
One run on a shared machine (1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end).

Each client calls the x402 2.27 reference server (\`@x402/express\`, its facilitator settling on anvil)
${calls} times per path with its own payer, alternating which goes first, after ${warmUps} unmeasured paid
calls that warm the stack and the client up. A call is timed from the request to the last body byte: the
unpaid request, the 402, the signature, the paid retry, the facilitator's verify and its settlement mined on
anvil, then the 200. Every call is checked: a 200, and the payer's balance moved by exactly N × 0.01 USDC
(the charges, for \`upto\`; one price, for sign-in-with-x), or the bench throws. The reference client is
\`@x402/fetch\` with \`@x402/evm\`'s \`ExactEvmScheme\` or \`UptoEvmScheme\` (given the anvil RPC URL, which
they read only for sponsored approvals) and, for sign-in-with-x, \`@x402/extensions\`'
\`createSIWxClientExtension\`. Rows of first calls take ${firstCallPayers} payers per client, one first call
each (their p95 is the slowest; for sign-in-with-x, the measured payer and ${firstCallPayers - 1} fresh ones).
Transactions are those mined during a client's calls; the reference server settles before it answers, so the
count when the last call returns is final: no settlement comes later.

| path | client | calls | mean ms | p50 ms | p95 ms | transactions |
| --- | --- | --- | ---: | ---: | ---: | ---: |
${table.join('\n')}

- \`exact\`, EIP-3009: one \`transferWithAuthorization\` transaction per call.
- \`exact\`, Permit2: each payer approved Permit2 once (its own transaction, before measuring), then one
  settlement per call. payfetch reads the allowance before it signs each permit (one \`eth_call\`), so an
  allowance gone between calls is \`ALLOWANCE_REQUIRED\` before signing; the reference client signs without
  reading.
- Sponsored first calls: a payer with no allowance and no ETH. EIP-2612 (USDC): the payer also signs a permit
  for the price, and the facilitator sends one \`settleWithPermit\` transaction. ERC-20 approval (a token
  without EIP-2612): the payer also signs an \`approve\` transaction; the local facilitator sends the payer the
  gas for it, broadcasts it, then settles: three transactions, mined one after another.
- \`upto\`: each call signs a Permit2 permit for the 0.05 USDC ceiling; the route charges 0.005 to 0.04 USDC
  and the facilitator settles only that, in one transaction. payfetch's receipts carry the charge, checked
  call by call.
- sign-in-with-x: one payment per payer and path, then none: each later call is the 402, a signed SIWE
  message and the 200 (${calls} calls of one payer: 1 transaction). On the paying call the reference client
  first tries a sign-in (one more round trip, answered 402), then pays; payfetch signs in only where its
  sessions hold a payment for the path.
`
  await writeFile(new URL('../bench/x402-paths.md', import.meta.url), text)
  console.log(text)
} finally {
  await siwx.close()
  await stack.stop()
}
