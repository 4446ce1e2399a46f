import type { Address } from '@solana/kit'
import { Keypair, VersionedTransaction, type Transaction as Web3Transaction } from '@solana/web3.js'
import { FailedTransactionMetadata } from 'litesvm'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeBase64Json } from '../../examples/local-stack/http.js'
import {
  type SolanaStack,
  type SolanaToken,
  startSolanaRpc,
  startSolanaStack,
} from '../../examples/local-stack/solanaStack.js'
import { createPayingFetch, getReceipt, type PayfetchEvent, type Signer } from '../../src/index.js'
import { solana, walletAdapter } from '../../src/solana/index.js'

// payfetch against the x402 reference server (@x402/express + @x402/svm's server scheme) and a real
// facilitator (@x402/svm's ExactSvmScheme) settling on a LiteSVM that verifies every signature;
// mints and blockhashes are read over HTTP from a JSON-RPC shim over the same LiteSVM.
let stack: SolanaStack

beforeAll(async () => {
  const started = performance.now()
  stack = await startSolanaStack()
  console.info(
    `e2e: the Solana stack (LiteSVM, mints, RPC, facilitator, 3 servers) started in ${(performance.now() - started).toFixed(0)} ms`,
  )
})

afterAll(async () => {
  await stack?.stop()
})

/** A fresh payer holding `funds` of `token` and no SOL, its signer, and the proofs its fetch sent. */
async function payer(options: { funds?: bigint; token?: SolanaToken } = {}) {
  const key = await stack.newPayer()
  const token = options.token ?? stack.tokens.usdc
  if (options.funds !== 0n) await stack.fund(token, key.address, options.funds ?? 1_000_000n)
  const proofs: string[] = []
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const proof = request.headers.get('payment-signature') ?? request.headers.get('x-payment')
    if (proof) proofs.push(proof)
    return fetch(request)
  }
  return { key, proofs, recording, signer: solana({ signer: key, rpc: stack.rpcUrl, networks: [stack.network] }) }
}

const balance = (token: SolanaToken, owner: Address) => stack.balanceOf(token, owner)

/** Checks the settlement really happened on the LiteSVM under the receipt's signature. */
function expectSettled(reference: string | undefined) {
  expect(reference).toMatch(/^[1-9A-HJ-NP-Za-km-z]{64,88}$/)
  const processed = stack.chain.transaction(reference as string)
  expect(processed).not.toBeNull()
  expect(processed).not.toBeInstanceOf(FailedTransactionMetadata)
}

describe('x402 on Solana, settled on LiteSVM', () => {
  test('behavior: pays the v2 reference server in USDC at its devnet address under default caps; balances move by exactly the price', async () => {
    const { key, proofs, recording, signer } = await payer()
    const events: PayfetchEvent[] = []
    const fetchPaid = createPayingFetch({ signers: [signer], fetch: recording, onEvent: (event) => events.push(event) })
    const before = {
      payer: await balance(stack.tokens.usdc, key.address),
      payTo: await balance(stack.tokens.usdc, stack.payTo),
    }
    const settlementsBefore = stack.settlements.length

    const started = performance.now()
    const response = await fetchPaid(`${stack.v2Url}/weather`)
    const elapsed = performance.now() - started

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', temperature: 21, chain: 'solana' })
    expect(await balance(stack.tokens.usdc, key.address)).toBe(before.payer - 10_000n)
    expect(await balance(stack.tokens.usdc, stack.payTo)).toBe(before.payTo + 10_000n)
    expect(stack.lamports(key.address)).toBe(0n)
    expect(stack.settlements.length).toBe(settlementsBefore + 1)

    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({
      protocol: 'x402',
      network: stack.network,
      asset: stack.tokens.usdc.mint,
      amount: 10_000n,
      payTo: stack.payTo,
      payer: key.address,
    })
    expect(receipt?.reference).toBe(stack.settlements.at(-1)?.transaction)
    expectSettled(receipt?.reference)
    expect(proofs).toHaveLength(1)
    const proof = decodeBase64Json(proofs[0] as string) as {
      x402Version: number
      accepted: { extra: { feePayer: string } }
      payload: { transaction: string }
    }
    expect(proof.x402Version).toBe(2)
    expect(proof.accepted.extra.feePayer).toBe(stack.feePayer)
    expect(Object.keys(proof.payload)).toEqual(['transaction'])
    expect(events.map((event) => event.type)).toContain('receipt')
    console.info(
      `e2e: one paid x402 v2 call on Solana (402, mint + blockhash reads, sign, verify, settle on LiteSVM) took ${elapsed.toFixed(0)} ms`,
    )
  })

  test('behavior: a server that sends extra.recentBlockhash saves the client its blockhash read', async () => {
    const { key } = await payer()
    const rpc = await startSolanaRpc(stack.svm) // the client's own endpoint, to count only its calls
    try {
      const fetchPaid = createPayingFetch({
        signers: [solana({ signer: key, rpc: rpc.url, networks: [stack.network] })],
      })
      const timings: number[] = []
      for (let call = 0; call < 3; call++) {
        const started = performance.now()
        expect((await fetchPaid(`${stack.v2BlockhashUrl}/weather`)).status).toBe(200)
        timings.push(performance.now() - started)
      }
      expect(rpc.calls).toEqual(['getAccountInfo']) // the mint, once; no getLatestBlockhash
      expect(await balance(stack.tokens.usdc, key.address)).toBe(1_000_000n - 30_000n)
      console.info(
        `e2e: paid Solana calls with a server blockhash and a warm mint cache: ${timings.map((ms) => ms.toFixed(0)).join(', ')} ms`,
      )
    } finally {
      await rpc.close()
    }
  })

  test('policy: a local mint is refused by default caps, and paid when listed in caps.assets with a maxAmount', async () => {
    const { key, proofs, recording, signer } = await payer({ token: stack.tokens.localToken })
    const url = `${stack.v2Url}/local`
    await expect(createPayingFetch({ signers: [signer], fetch: recording })(url)).rejects.toMatchObject({
      code: 'ASSET_NOT_ALLOWED',
    })
    expect(proofs).toEqual([])
    const tooLow = { assets: [{ network: stack.network, asset: stack.tokens.localToken.mint, maxAmount: 49_999n }] }
    await expect(createPayingFetch({ signers: [signer], fetch: recording, caps: tooLow })(url)).rejects.toMatchObject({
      code: 'CAP_EXCEEDED',
    })
    expect(proofs).toEqual([])
    const caps = { assets: [{ network: stack.network, asset: stack.tokens.localToken.mint, maxAmount: 50_000n }] }
    const response = await createPayingFetch({ signers: [signer], caps })(url)
    expect(response.status).toBe(200)
    expect(await balance(stack.tokens.localToken, key.address)).toBe(1_000_000n - 50_000n)
    expectSettled(getReceipt(response)?.reference)
  })

  test('behavior: a Token-2022 mint (9 decimals) is paid through the reference server and facilitator', async () => {
    const { key, signer } = await payer({ token: stack.tokens.token2022, funds: 10_000_000_000n })
    const caps = { assets: [{ network: stack.network, asset: stack.tokens.token2022.mint, maxAmount: 2_500_000n }] }
    const before = await balance(stack.tokens.token2022, stack.payTo)
    const response = await createPayingFetch({ signers: [signer], caps })(`${stack.v2Url}/token-2022`)
    expect(response.status).toBe(200)
    expect(await balance(stack.tokens.token2022, key.address)).toBe(10_000_000_000n - 2_500_000n)
    expect(await balance(stack.tokens.token2022, stack.payTo)).toBe(before + 2_500_000n)
    expectSettled(getReceipt(response)?.reference)
  })

  test('behavior: a memo the server names is carried, and the facilitator checks it', async () => {
    const { key, signer } = await payer()
    const response = await createPayingFetch({ signers: [signer] })(`${stack.v2Url}/invoice`)
    expect(response.status).toBe(200)
    expect(await balance(stack.tokens.usdc, key.address)).toBe(1_000_000n - 20_000n)
    expectSettled(getReceipt(response)?.reference)
  })

  test('behavior: pays an x402 v1 server (solana-devnet, X-PAYMENT), settled by the reference v1 facilitator', async () => {
    const { key, proofs, recording, signer } = await payer()
    const response = await createPayingFetch({ signers: [signer], fetch: recording })(`${stack.v1Url}/weather`)
    expect(response.status).toBe(200)
    expect(await balance(stack.tokens.usdc, key.address)).toBe(1_000_000n - 10_000n)
    expect(decodeBase64Json(proofs[0] as string)).toMatchObject({
      x402Version: 1,
      scheme: 'exact',
      network: 'solana-devnet',
      payload: { transaction: expect.any(String) },
    })
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ network: stack.network, amount: 10_000n })
    expectSettled(receipt?.reference)
  })

  test('behavior: a POST body reaches the paid handler byte for byte', async () => {
    const { signer } = await payer()
    const body = new TextEncoder().encode(JSON.stringify({ query: 'weather', city: 'Zürich', pad: 'x'.repeat(5000) }))
    const response = await createPayingFetch({ signers: [signer] })(`${stack.v2Url}/echo`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    })
    expect(response.status).toBe(200)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(body)
  })

  test('policy: over the per-request cap nothing is signed, settled or moved', async () => {
    const { key, proofs, recording, signer } = await payer({ funds: 10_000_000n })
    const settlementsBefore = stack.settlements.length
    await expect(
      createPayingFetch({ signers: [signer], fetch: recording })(`${stack.v2Url}/pricey`),
    ).rejects.toMatchObject({ code: 'CAP_EXCEEDED' })
    expect(proofs).toEqual([])
    expect(stack.settlements.length).toBe(settlementsBefore)
    expect(await balance(stack.tokens.usdc, key.address)).toBe(10_000_000n)
  })

  test('policy: the same signed transaction sent again is refused and moves nothing', async () => {
    const { key, proofs, recording, signer } = await payer()
    await createPayingFetch({ signers: [signer], fetch: recording })(`${stack.v2Url}/weather`)
    const after = await balance(stack.tokens.usdc, key.address)
    const replay = await fetch(`${stack.v2Url}/weather`, { headers: { 'payment-signature': proofs[0] as string } })
    expect(replay.status).toBe(402)
    expect(await balance(stack.tokens.usdc, key.address)).toBe(after)
  })

  test('error: a payer without tokens gets PAYMENT_REJECTED with the facilitator’s reason, and pays once', async () => {
    const { proofs, recording, signer } = await payer({ funds: 0n })
    const error = await createPayingFetch({ signers: [signer], fetch: recording })(`${stack.v2Url}/weather`).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED' })
    expect(String((error as { details: { reason?: string } }).details.reason)).toMatch(
      /simulation|insufficient|account/i,
    )
    expect(proofs).toHaveLength(1)
  })

  test('error: a signer for another cluster cannot pay, and nothing is signed (NO_SIGNER)', async () => {
    const { key, proofs, recording } = await payer()
    const mainnetOnly = solana({ signer: key, rpc: stack.rpcUrl })
    await expect(
      createPayingFetch({ signers: [mainnetOnly], fetch: recording })(`${stack.v2Url}/weather`),
    ).rejects.toMatchObject({ code: 'NO_SIGNER' })
    expect(proofs).toEqual([])
  })
})

describe('x402 on Solana with @solana/web3.js 1.x payers', () => {
  async function fundedKeypair(): Promise<Keypair> {
    const keypair = Keypair.generate()
    await stack.fund(stack.tokens.usdc, keypair.publicKey.toBase58() as Address, 100_000n)
    return keypair
  }

  async function payOnce(signer: Signer, owner: string) {
    const response = await createPayingFetch({ signers: [signer] })(`${stack.v2Url}/weather`)
    expect(response.status).toBe(200)
    expect(await balance(stack.tokens.usdc, owner as Address)).toBe(90_000n)
    expect(getReceipt(response)?.payer).toBe(owner)
    expectSettled(getReceipt(response)?.reference)
  }

  test('behavior: a web3.js Keypair pays once, for real', async () => {
    const keypair = await fundedKeypair()
    await payOnce(
      solana({ signer: keypair, rpc: stack.rpcUrl, networks: [stack.network] }),
      keypair.publicKey.toBase58(),
    )
  })

  test('behavior: a wallet adapter over a real web3.js VersionedTransaction pays once, for real', async () => {
    const keypair = await fundedKeypair()
    let prompts = 0
    const wallet = {
      publicKey: keypair.publicKey,
      async signTransaction<T extends Web3Transaction | VersionedTransaction>(transaction: T): Promise<T> {
        prompts++
        if (transaction instanceof VersionedTransaction) transaction.sign([keypair])
        return transaction
      },
    }
    await payOnce(
      solana({ signer: walletAdapter(wallet, VersionedTransaction), rpc: stack.rpcUrl, networks: [stack.network] }),
      keypair.publicKey.toBase58(),
    )
    expect(prompts).toBe(1)
  })
})
