import { createServer } from 'node:http'
import { createPublicClient, createWalletClient, type Hex, http, maxUint256 } from 'viem'
import { mainnet } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { close, decodeBase64Json, encodeBase64Json, listen } from '../../examples/local-stack/http.js'
import { permit2Address } from '../../examples/local-stack/permit2.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, type PayfetchEvent } from '../../src/index.js'
import { startInterceptingProxy } from '../support/interceptingProxy.js'

// x402 `exact` through Permit2 against the reference server and facilitator on anvil: Permit2 deployed
// at its canonical address from Uniswap's bytecode, the x402 exact proxy at its own, a TestUSDC with
// EIP-2612. Every path of the allowance: already granted, granted by the payer's own approval
// (opt-in), sponsored by the server (EIP-2612 permit, or the payer's signed approve), or missing.
let stack: EvmStack

beforeAll(async () => {
  stack = await startEvmStack()
})

afterAll(async () => {
  await stack?.stop()
})

type Proof = {
  payload: {
    signature: Hex
    permit2Authorization: { spender: string; nonce: string; witness: { to: string }; permitted: { amount: string } }
  }
  extensions?: Record<string, { info?: Record<string, string> }>
}

/** A funded payer and everything its fetch sent and reported. */
async function payer(options: { funds?: bigint; token?: 'usdc' | 'unknownToken' } = {}) {
  const account = stack.newAccount()
  const token = stack[options.token ?? 'usdc']
  await stack.mint(token, account.address, options.funds ?? 1_000_000n)
  const proofs: string[] = []
  const events: PayfetchEvent[] = []
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const proof = request.headers.get('payment-signature')
    if (proof) proofs.push(proof)
    return fetch(request)
  }
  return { account, token, proofs, events, recording, onEvent: (event: PayfetchEvent) => events.push(event) }
}

const decoded = (proof: string | undefined) => decodeBase64Json(proof as string) as Proof

describe('x402 exact through Permit2, settled on a local chain', () => {
  test('behavior: a payer that approved Permit2 pays; balances move by exactly the price; the receipt is the mined settlement', async () => {
    const { account, token, proofs, events, recording, onEvent } = await payer()
    await stack.approvePermit2(account, { token })
    const before = await stack.balanceOf(token, stack.payTo)
    const started = performance.now()
    const response = await createPayingFetch({
      signers: [evm({ account, publicClient: stack.publicClient })],
      fetch: recording,
      onEvent,
    })(`${stack.v2Url}/permit2/weather`)
    const elapsed = performance.now() - started

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', via: 'permit2' })
    expect(await stack.balanceOf(token, account.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.balanceOf(token, stack.payTo)).toBe(before + 10_000n)
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({
      protocol: 'x402',
      network: 'eip155:84532',
      amount: 10_000n,
      payer: account.address,
    })
    expect((await stack.getTransactionReceipt(receipt?.reference as Hex)).status).toBe('success')
    // The spender is the x402 exact proxy and nothing else; the witness pays the server's payTo.
    const { permit2Authorization } = decoded(proofs[0]).payload
    expect(permit2Authorization.spender).toBe('0x402085c248EeA27D92E8b30b2C58ed07f9E20001')
    expect(permit2Authorization.witness.to.toLowerCase()).toBe(stack.payTo.toLowerCase())
    expect(permit2Authorization.nonce).toMatch(/^[0-9]+$/)
    expect(proofs).toHaveLength(1)
    expect(events.map((event) => event.type)).toEqual(['challenge', 'offer.chosen', 'payment.sent', 'receipt'])
    console.info(
      `e2e: one paid x402 Permit2 call (allowance read, permit, settle on anvil) took ${elapsed.toFixed(0)} ms`,
    )
  })

  test('policy: the same permit sent again is refused and moves nothing', async () => {
    const { account, token, proofs, recording } = await payer()
    await stack.approvePermit2(account, { token })
    await createPayingFetch({ signers: [evm({ account, publicClient: stack.publicClient })], fetch: recording })(
      `${stack.v2Url}/permit2/weather`,
    )
    const balance = await stack.balanceOf(token, account.address)
    const replay = await fetch(`${stack.v2Url}/permit2/weather`, {
      headers: { 'payment-signature': proofs[0] as string },
    })
    expect(replay.status).toBe(402)
    expect(await stack.balanceOf(token, account.address)).toBe(balance)
  })

  test('policy: no allowance, no sponsoring, no approvePermit2: ALLOWANCE_REQUIRED before anything is signed, and the reservation is freed', async () => {
    const { account, proofs, recording, events, onEvent } = await payer()
    const fetchPaid = createPayingFetch({
      signers: [evm({ account, publicClient: stack.publicClient })],
      fetch: recording,
      onEvent,
    })
    const error = await fetchPaid(`${stack.v2Url}/permit2/weather`).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'ALLOWANCE_REQUIRED' })
    expect((error as Error).message).toMatch(/approvePermit2/)
    expect(proofs).toEqual([])
    expect((await fetchPaid.spendReport()).totals.every((total) => total.spent === 0n && total.reserved === 0n)).toBe(
      true,
    )
    expect(events.map((event) => event.type)).not.toContain('payment.sent')
  })

  test('policy: without a publicClient a Permit2 offer is refused before signing, saying what to do', async () => {
    const { account, proofs, recording } = await payer()
    const error = await createPayingFetch({ signers: [evm({ account })], fetch: recording })(
      `${stack.v2Url}/permit2/weather`,
    ).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'NO_SIGNER' })
    expect((error as Error).message).toMatch(/evm\(\{ publicClient \}\)/)
    expect(proofs).toEqual([])
  })

  test('policy: a publicClient bound to another chain is refused before anything is read or signed: NO_SIGNER', async () => {
    const { account, proofs, recording } = await payer()
    // The anvil node, read as if it were mainnet: its allowance would say nothing about chain 84532.
    const calls: string[] = []
    const elsewhere = createPublicClient({
      chain: mainnet,
      transport: http(stack.rpcUrl, { onFetchRequest: async (request) => void calls.push(await request.text()) }),
    })
    const error = await createPayingFetch({ signers: [evm({ account, publicClient: elsewhere })], fetch: recording })(
      `${stack.v2Url}/permit2/weather`,
    ).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'NO_SIGNER' })
    expect((error as Error).message).toMatch(/the publicClient reads eip155:1/)
    expect(proofs).toEqual([])
    expect(calls).toEqual([])
  })

  test('error: a 412 permit2_allowance_required answering the permit (the allowance went between the check and the server) is PAYMENT_REJECTED, counted, never paid again', async () => {
    const { account, token, proofs, recording } = await payer()
    await stack.approvePermit2(account, { token })
    // The reference server's 412, on loopback: its 402 offers Permit2, and it answers every permit
    // with the 412 its facilitator gives when Permit2 has no allowance.
    const offered = await fetch(`${stack.v2Url}/permit2/weather`)
    const required = offered.headers.get('payment-required') as string
    const server = createServer((request, response) => {
      const paid = request.headers['payment-signature'] !== undefined
      const message = { ...(decodeBase64Json(required) as object), error: 'permit2_allowance_required' }
      response.writeHead(paid ? 412 : 402, { 'payment-required': paid ? encodeBase64Json(message) : required })
      response.end('{}')
    })
    const url = await listen(server)
    try {
      const fetchPaid = createPayingFetch({
        signers: [evm({ account, publicClient: stack.publicClient })],
        fetch: recording,
      })
      const error = await fetchPaid(`${url}/permit2/weather`).catch((caught: unknown) => caught)
      expect(error).toMatchObject({ code: 'PAYMENT_REJECTED', details: { reason: 'permit2_allowance_required' } })
      expect((error as Error).message).toMatch(/412/)
      expect(proofs).toHaveLength(1)
      // The server holds a permit it could still settle until its deadline: it stays counted.
      const [total] = (await fetchPaid.spendReport()).totals
      expect((total?.spent ?? 0n) + (total?.reserved ?? 0n) + (total?.unknown ?? 0n)).toBe(10_000n)
    } finally {
      await close(server)
    }
  })

  test('behavior: approvePermit2 sends one approval from the payer wallet, reported as an event, then pays', async () => {
    const { account, token, events, onEvent } = await payer()
    await stack.setBalance(account.address, 10n ** 17n)
    const response = await createPayingFetch({
      signers: [
        evm({
          account,
          publicClient: stack.publicClient,
          approvePermit2: { wallet: stack.walletFor(account) },
        }),
      ],
      onEvent,
    })(`${stack.v2Url}/permit2/weather`)
    expect(response.status).toBe(200)
    const approval = events.find((event) => event.type === 'approval.sent')
    expect(approval).toMatchObject({
      type: 'approval.sent',
      network: 'eip155:84532',
      spender: permit2Address,
      amount: maxUint256,
      url: `${stack.v2Url}/permit2/weather`,
    })
    expect(events.map((event) => event.type)).toEqual([
      'challenge',
      'offer.chosen',
      'approval.sent',
      'payment.sent',
      'receipt',
    ])
    const mined = await stack.getTransactionReceipt((approval as { transaction: Hex }).transaction)
    expect(mined.from.toLowerCase()).toBe(account.address.toLowerCase())
    expect(await stack.balanceOf(token, account.address)).toBe(1_000_000n - 10_000n)
    // The second call finds the allowance and sends no approval.
    await createPayingFetch({
      signers: [
        evm({ account, publicClient: stack.publicClient, approvePermit2: { wallet: stack.walletFor(account) } }),
      ],
      onEvent,
    })(`${stack.v2Url}/permit2/weather`)
    expect(events.filter((event) => event.type === 'approval.sent')).toHaveLength(1)
  })

  test('policy: approvePermit2 with a wallet on another chain sends nothing and signs nothing: ALLOWANCE_REQUIRED', async () => {
    const { account, proofs, recording } = await payer()
    await stack.setBalance(account.address, 10n ** 17n)
    const nonceBefore = await stack.publicClient.getTransactionCount({ address: account.address })
    const elsewhere = createWalletClient({ account, chain: mainnet, transport: http(stack.rpcUrl) })
    const error = await createPayingFetch({
      signers: [evm({ account, publicClient: stack.publicClient, approvePermit2: { wallet: elsewhere } })],
      fetch: recording,
    })(`${stack.v2Url}/permit2/weather`).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'ALLOWANCE_REQUIRED' })
    expect((error as Error).message).toMatch(/chain 1, not 84532/)
    expect(proofs).toEqual([])
    expect(await stack.publicClient.getTransactionCount({ address: account.address })).toBe(nonceBefore)
  })

  test('behavior: the server sponsors an EIP-2612 approval: a payer with no ETH and no allowance pays, and Permit2 is granted only the price', async () => {
    const { account, token, proofs, recording } = await payer()
    const response = await createPayingFetch({
      signers: [evm({ account, publicClient: stack.publicClient })],
      fetch: recording,
    })(`${stack.v2Url}/permit2/eip2612`)
    expect(response.status).toBe(200)
    const info = decoded(proofs[0]).extensions?.eip2612GasSponsoring?.info
    expect(info).toMatchObject({ from: account.address, spender: permit2Address, amount: '10000', version: '1' })
    expect(info?.signature).toMatch(/^0x[0-9a-f]{130}$/)
    expect(await stack.balanceOf(token, account.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.allowance(token, account.address, permit2Address)).toBe(0n)
    expect(await stack.ethBalance(account.address)).toBe(0n)
  })

  test("behavior: the server sponsors the payer's signed approve: the facilitator funds and broadcasts it, then settles", async () => {
    const { account, token, proofs, recording } = await payer({ token: 'unknownToken' })
    const caps = { assets: [{ network: 'eip155:84532', asset: token.address, maxAmount: 10_000n }] }
    const response = await createPayingFetch({
      signers: [evm({ account, publicClient: stack.publicClient })],
      caps,
      fetch: recording,
    })(`${stack.v2Url}/permit2/erc20-approval`)
    expect(response.status).toBe(200)
    const info = decoded(proofs[0]).extensions?.erc20ApprovalGasSponsoring?.info
    expect(info).toMatchObject({ from: account.address, spender: permit2Address, amount: '10000', version: '1' })
    expect(info?.signedTransaction).toMatch(/^0x02/)
    expect(await stack.balanceOf(token, account.address)).toBe(1_000_000n - 10_000n)
  })

  test('policy: over the per-request cap nothing is signed or approved', async () => {
    const { account, proofs, recording, events, onEvent } = await payer()
    await stack.setBalance(account.address, 10n ** 17n)
    await expect(
      createPayingFetch({
        signers: [
          evm({ account, publicClient: stack.publicClient, approvePermit2: { wallet: stack.walletFor(account) } }),
        ],
        caps: { perRequest: { usd: '0.005' } },
        fetch: recording,
        onEvent,
      })(`${stack.v2Url}/permit2/weather`),
    ).rejects.toMatchObject({ code: 'CAP_EXCEEDED' })
    expect(proofs).toEqual([])
    expect(events.some((event) => event.type === 'approval.sent')).toBe(false)
  })

  test('policy: a lost answer is resumed with the same permit bytes, never a second signature; the money moves once', async () => {
    const { account, token, proofs, recording } = await payer()
    await stack.approvePermit2(account, { token })
    let lost = false
    const proxy = await startInterceptingProxy(stack.v2Url, {
      loseAnswer: (request) => !lost && request.headers['payment-signature'] !== undefined && (lost = true),
    })
    try {
      const fetchPaid = createPayingFetch({
        signers: [evm({ account, publicClient: stack.publicClient })],
        fetch: recording,
      })
      const error = await fetchPaid(`${proxy.url}/permit2/weather`).catch((caught: unknown) => caught)
      expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN' })
      const [pending] = await fetchPaid.pendingPayments()
      expect(pending).toBeDefined()
      // The server settled the permit before the answer was lost; x402 has no idempotent replay
      // without payment-identifier, so it refuses the used permit, and nothing moves twice.
      await expect(fetchPaid.resume(pending as NonNullable<typeof pending>)).rejects.toMatchObject({
        code: 'PAYMENT_REJECTED',
      })
      expect(proofs).toHaveLength(2)
      expect(proofs[1]).toBe(proofs[0])
      expect(await stack.balanceOf(token, account.address)).toBe(1_000_000n - 10_000n)
    } finally {
      await proxy.close()
    }
  })

  test('policy: no signature, key or permit piece in any event', async () => {
    const { account, token, proofs, events, recording, onEvent } = await payer()
    await stack.approvePermit2(account, { token })
    await createPayingFetch({
      signers: [evm({ account, publicClient: stack.publicClient })],
      fetch: recording,
      onEvent,
    })(`${stack.v2Url}/permit2/weather`).catch(() => undefined)
    const { signature } = decoded(proofs[0]).payload
    const text = JSON.stringify(events, (_, value) => (typeof value === 'bigint' ? value.toString() : value))
    expect(text).not.toContain(signature.slice(2, 40))
    expect(text).not.toContain(proofs[0]?.slice(0, 40))
  })
})
