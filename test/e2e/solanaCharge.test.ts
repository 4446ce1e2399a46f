// Proves the hand-built Solana `charge` server (draft-solana-charge-00) with a client that is not
// payfetch: Faremeter's MPP client (@faremeter/fetch `wrap` + @faremeter/payment-solana/charge
// 0.22.0), in pull mode (sponsored and not) and push mode. The malicious transactions at the end
// are built here by hand, per the draft's client construction, to show what the server refuses.

import { wrap } from '@faremeter/fetch'
import { createMPPSolanaChargeClient, createMPPSolanaNativeChargeClient } from '@faremeter/payment-solana/charge'
import {
  type Address,
  appendTransactionMessageInstructions,
  compileTransaction,
  createNoopSigner,
  createTransactionMessage,
  getBase64EncodedWireTransaction,
  type Instruction,
  type KeyPairSigner,
  partiallySignTransaction,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type Transaction,
} from '@solana/kit'
import { findAssociatedTokenPda, getTransferCheckedInstruction } from '@solana-program/token'
import { FailedTransactionMetadata } from 'litesvm'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { SolanaToken } from '../../examples/local-stack/solanaChain.js'
import {
  devnetUsdcMint,
  type SolanaChargeStack,
  startSolanaChargeStack,
} from '../../examples/local-stack/solanaChargeStack.js'

let stack: SolanaChargeStack

beforeAll(async () => {
  const started = performance.now()
  stack = await startSolanaChargeStack()
  console.info(`e2e: the Solana charge stack started in ${(performance.now() - started).toFixed(0)} ms`)
})

afterAll(async () => {
  await stack?.stop()
})

const fromBase64url = (value: string | null | undefined) =>
  JSON.parse(Buffer.from(value ?? '', 'base64url').toString('utf8'))
const toBase64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const challengeOf = (response: Response) =>
  Object.fromEntries(
    [...(response.headers.get('www-authenticate') ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(
      ([, name, value]) => [name, value],
    ),
  ) as Record<string, string>

/** Faremeter's wallet shape over a kit keypair: it signs what Faremeter builds. */
const walletOf = (payer: KeyPairSigner) => ({
  network: 'devnet',
  publicKey: payer.address,
  partiallySignTransaction: (transaction: Transaction) => partiallySignTransaction([payer.keyPair], transaction),
})

/** Faremeter's paying fetch, without its retries (which would pay again on a refusal). */
function faremeter(
  payer: KeyPairSigner,
  options: { mint?: Address; broadcast?: boolean; native?: boolean } = {},
): typeof fetch {
  const wallet = walletOf(payer) as Parameters<typeof createMPPSolanaChargeClient>[0]['wallet']
  const handler = options.native
    ? createMPPSolanaNativeChargeClient({ wallet, rpc: stack.rpcUrl, broadcast: options.broadcast ?? false })
    : createMPPSolanaChargeClient({
        wallet,
        mint: options.mint ?? devnetUsdcMint,
        rpc: stack.rpcUrl,
        broadcast: options.broadcast ?? false,
      })
  return wrap(fetch, { handlers: [], mppHandlers: [handler], retryCount: 0, returnPaymentFailure: true })
}

async function fundedPayer(token: SolanaToken = stack.tokens.usdc, sol = 0n) {
  const payer = await stack.newPayer()
  await stack.fund(token, payer.address, 1_000_000_000n)
  if (sol > 0n) stack.airdrop(payer.address, sol)
  return payer
}

/** The `Authorization` a client sends for `payload`, echoing the challenge of a fresh 402 verbatim. */
const credentialFor = (challenge: Record<string, string>, payload: Record<string, unknown>) =>
  `Payment ${toBase64url({ challenge, payload })}`

/** A transfer transaction built by hand the way the draft's client construction describes it. */
async function handBuilt(
  payer: KeyPairSigner,
  request: { amount: string; recipient: Address; methodDetails: { feePayerKey: Address; recentBlockhash: string } },
  extra: Instruction[] = [],
  amount = BigInt(request.amount),
) {
  const token = stack.tokens.usdc
  const [source] = await findAssociatedTokenPda({
    owner: payer.address,
    mint: token.mint,
    tokenProgram: token.tokenProgram,
  })
  const [destination] = await findAssociatedTokenPda({
    owner: request.recipient,
    mint: token.mint,
    tokenProgram: token.tokenProgram,
  })
  const transfer = getTransferCheckedInstruction({
    source,
    mint: token.mint,
    destination,
    authority: createNoopSigner(payer.address),
    amount,
    decimals: 6,
  })
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayer(request.methodDetails.feePayerKey, m),
    (m) =>
      setTransactionMessageLifetimeUsingBlockhash(
        { blockhash: request.methodDetails.recentBlockhash as never, lastValidBlockHeight: 0n },
        m,
      ),
    (m) => appendTransactionMessageInstructions([transfer, ...extra], m),
  )
  return getBase64EncodedWireTransaction(await partiallySignTransaction([payer.keyPair], compileTransaction(message)))
}

describe('Solana charge server, paid with Faremeter', () => {
  test('behavior: the 402 carries the draft request: amount, mint, recipient, and methodDetails with decimals, token program, fee payer and blockhash', async () => {
    const response = await fetch(`${stack.url}/weather`)
    expect(response.status).toBe(402)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const challenge = challengeOf(response)
    expect(challenge).toMatchObject({ realm: stack.realm, method: 'solana', intent: 'charge' })
    expect(fromBase64url(challenge.request)).toEqual({
      amount: '10000',
      currency: devnetUsdcMint,
      recipient: stack.payTo,
      description: 'weather report',
      methodDetails: {
        network: 'devnet',
        decimals: 6,
        tokenProgram: 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA',
        feePayer: true,
        feePayerKey: stack.feePayer,
        recentBlockhash: stack.svm.latestBlockhash(),
      },
    })
    const sol = fromBase64url(challengeOf(await fetch(`${stack.url}/sol`)).request)
    expect(sol).toEqual({
      amount: '10000000',
      currency: 'sol',
      recipient: stack.payTo,
      methodDetails: { network: 'devnet', recentBlockhash: stack.svm.latestBlockhash() },
    })
  })

  test('behavior: pull mode, sponsored: Faremeter signs as transfer authority only; the server co-signs and sends; the payer needs no SOL', async () => {
    const payer = await fundedPayer()
    const payToBefore = await stack.balanceOf(stack.tokens.usdc, stack.payTo)
    const feePayerBefore = stack.lamports(stack.feePayer)
    const response = await faremeter(payer)(`${stack.url}/weather`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', temperature: 21, chain: 'solana' })
    expect(await stack.balanceOf(stack.tokens.usdc, payer.address)).toBe(1_000_000_000n - 10_000n)
    expect(await stack.balanceOf(stack.tokens.usdc, stack.payTo)).toBe(payToBefore + 10_000n)
    expect(stack.lamports(payer.address)).toBe(0n)
    expect(stack.lamports(stack.feePayer)).toBeLessThan(feePayerBefore)

    const receipt = fromBase64url(response.headers.get('payment-receipt'))
    expect(receipt).toEqual({
      method: 'solana',
      challengeId: stack.outcomes.at(-1)?.challengeId,
      reference: expect.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{86,88}$/),
      status: 'success',
      timestamp: expect.any(String),
    })
    expect(stack.chain.transaction(receipt.reference)).not.toBeInstanceOf(FailedTransactionMetadata)
    expect(stack.chain.transaction(receipt.reference)).not.toBeNull()
    const credential = fromBase64url(stack.requests.to('/weather').at(-1)?.headers.authorization?.slice(8))
    expect(credential.payload.type).toBe('transaction')
  })

  test('behavior: push mode on /unsponsored: Faremeter broadcasts through the RPC and presents the signature', async () => {
    const payer = await fundedPayer(stack.tokens.usdc, 1_000_000_000n)
    const callsBefore = stack.rpcCalls.length
    const response = await faremeter(payer, { broadcast: true })(`${stack.url}/unsponsored`)
    expect(response.status).toBe(200)
    expect(stack.rpcCalls.slice(callsBefore)).toContain('sendTransaction')
    const credential = fromBase64url(stack.requests.to('/unsponsored').at(-1)?.headers.authorization?.slice(8))
    expect(credential.payload).toEqual({ type: 'signature', signature: expect.any(String) })
    expect(fromBase64url(response.headers.get('payment-receipt')).reference).toBe(credential.payload.signature)
    expect(await stack.balanceOf(stack.tokens.usdc, payer.address)).toBe(1_000_000_000n - 10_000n)
  })

  test('behavior: pull mode, not sponsored: the payer is the fee payer and pays the fee in SOL', async () => {
    const payer = await fundedPayer(stack.tokens.usdc, 1_000_000_000n)
    const response = await faremeter(payer)(`${stack.url}/unsponsored`)
    expect(response.status).toBe(200)
    expect(stack.lamports(payer.address)).toBeLessThan(1_000_000_000n)
    expect(await stack.balanceOf(stack.tokens.usdc, payer.address)).toBe(1_000_000_000n - 10_000n)
  })

  test('behavior: /no-blockhash sends no recentBlockhash; Faremeter reads one from the RPC', async () => {
    const challenge = challengeOf(await fetch(`${stack.url}/no-blockhash`))
    expect(fromBase64url(challenge.request).methodDetails.recentBlockhash).toBeUndefined()
    const payer = await fundedPayer()
    const callsBefore = stack.rpcCalls.length
    expect((await faremeter(payer)(`${stack.url}/no-blockhash`)).status).toBe(200)
    expect(stack.rpcCalls.slice(callsBefore)).toContain('getLatestBlockhash')
  })

  test('behavior: Token-2022 (9 decimals) and native SOL routes', async () => {
    const payer = await fundedPayer(stack.tokens.token2022)
    expect((await faremeter(payer, { mint: stack.tokens.token2022.mint })(`${stack.url}/token-2022`)).status).toBe(200)
    expect(await stack.balanceOf(stack.tokens.token2022, payer.address)).toBe(1_000_000_000n - 2_500_000n)

    const solPayer = await stack.newPayer()
    stack.airdrop(solPayer.address, 1_000_000_000n)
    const payToBefore = stack.lamports(stack.payTo)
    expect((await faremeter(solPayer, { native: true })(`${stack.url}/sol`)).status).toBe(200)
    expect(stack.lamports(stack.payTo)).toBe(payToBefore + 10_000_000n)
  })

  test('error: replays are refused: the same credential (challenge consumed) and the same transaction under a fresh challenge (signature consumed)', async () => {
    const payer = await fundedPayer()
    await faremeter(payer)(`${stack.url}/weather`)
    const credential = fromBase64url(stack.requests.to('/weather').at(-1)?.headers.authorization?.slice(8))
    const balance = await stack.balanceOf(stack.tokens.usdc, payer.address)

    const again = await fetch(`${stack.url}/weather`, {
      headers: { authorization: `Payment ${toBase64url(credential)}` },
    })
    expect(again.status).toBe(402)
    expect(await again.json()).toMatchObject({
      type: 'https://paymentauth.org/problems/invalid-challenge',
      detail: 'this challenge has already been used',
    })
    const fresh = challengeOf(await fetch(`${stack.url}/weather`))
    const rewrapped = await fetch(`${stack.url}/weather`, {
      headers: { authorization: credentialFor(fresh, credential.payload) },
    })
    expect(rewrapped.status).toBe(402)
    expect(await rewrapped.json()).toMatchObject({
      type: 'https://paymentauth.org/problems/verification-failed',
      detail: 'Signature already consumed',
    })
    expect(await stack.balanceOf(stack.tokens.usdc, payer.address)).toBe(balance)
  })

  test('error: Faremeter pays in the mint it was configured with, whatever the challenge names; the server refuses the wrong mint', async () => {
    const payer = await fundedPayer(stack.tokens.localToken)
    const response = await faremeter(payer, { mint: stack.tokens.localToken.mint })(`${stack.url}/weather`)
    expect(response.status).toBe(402)
    expect(await response.json()).toMatchObject({
      type: 'https://paymentauth.org/problems/verification-failed',
      detail: expect.stringMatching(/^a token transfer does not match the challenge/),
    })
    expect(await stack.balanceOf(stack.tokens.localToken, payer.address)).toBe(1_000_000_000n)
  })

  test('error: Faremeter reads RFC 3339 `expires` as Unix seconds (NaN), so it signs for /expired; the server refuses and nothing moves', async () => {
    const payer = await fundedPayer()
    const response = await faremeter(payer)(`${stack.url}/expired`)
    expect(response.status).toBe(402)
    expect(await response.json()).toMatchObject({
      type: 'https://paymentauth.org/problems/invalid-challenge',
      detail: expect.stringMatching(/^challenge expired at /),
    })
    expect(await stack.balanceOf(stack.tokens.usdc, payer.address)).toBe(1_000_000_000n)
  })

  test('error: push mode is refused on a sponsored route, before anything is looked up', async () => {
    const payer = await fundedPayer(stack.tokens.usdc, 1_000_000_000n)
    // Faremeter refuses to broadcast a sponsored challenge itself, so the signature is presented by hand.
    await faremeter(payer, { broadcast: true })(`${stack.url}/unsponsored`)
    const { signature } = fromBase64url(stack.requests.to('/unsponsored').at(-1)?.headers.authorization?.slice(8))
      .payload as { signature: string }
    const challenge = challengeOf(await fetch(`${stack.url}/weather`))
    const response = await fetch(`${stack.url}/weather`, {
      headers: { authorization: credentialFor(challenge, { type: 'signature', signature }) },
    })
    expect(await response.json()).toMatchObject({
      detail: 'type="signature" cannot be used when feePayer is true',
    })
  })

  test('error: hand-built transactions the draft says to refuse: a wrong amount, an extra transfer, the fee payer in an instruction, a bundle', async () => {
    const payer = await fundedPayer()
    type Request = {
      amount: string
      recipient: Address
      methodDetails: { feePayerKey: Address; recentBlockhash: string }
    }
    const attempt = async (build: (request: Request) => Promise<string> | Record<string, unknown>) => {
      const challenge = challengeOf(await fetch(`${stack.url}/weather`))
      const built = await build(fromBase64url(challenge.request))
      const payload = typeof built === 'string' ? { type: 'transaction', transaction: built } : built
      return fetch(`${stack.url}/weather`, { headers: { authorization: credentialFor(challenge, payload) } })
    }
    const refusal = async (response: Promise<Response>) => {
      const answer = await response
      expect(answer.status).toBe(402)
      return (await answer.json()).detail as string
    }
    const usdc = stack.tokens.usdc
    const [elsewhere] = await findAssociatedTokenPda({
      owner: (await stack.newPayer()).address,
      mint: usdc.mint,
      tokenProgram: usdc.tokenProgram,
    })
    const [payerAta] = await findAssociatedTokenPda({
      owner: payer.address,
      mint: usdc.mint,
      tokenProgram: usdc.tokenProgram,
    })
    const extraTransfer = (authority: Address) =>
      getTransferCheckedInstruction({
        source: payerAta,
        mint: usdc.mint,
        destination: elsewhere,
        authority: createNoopSigner(authority),
        amount: 1n,
        decimals: 6,
      })

    expect(await refusal(attempt((request) => handBuilt(payer, request, [], 1n)))).toMatch(
      /does not match the challenge/,
    )
    expect(await refusal(attempt((request) => handBuilt(payer, request, [extraTransfer(payer.address)])))).toMatch(
      /does not match the challenge/,
    )
    expect(
      await refusal(
        attempt((request) => handBuilt(payer, request, [extraTransfer(request.methodDetails.feePayerKey)])),
      ),
    ).toBe('an instruction uses the server fee payer')
    expect(await refusal(attempt(() => ({ type: 'bundle', transactions: [] })))).toMatch(/^payload must be/)
    expect(await stack.balanceOf(usdc, payer.address)).toBe(1_000_000_000n)
    // The same builder, used honestly, is accepted: the refusals above are the defects, not the builder.
    expect((await attempt((request) => handBuilt(payer, request))).status).toBe(200)
    expect(await stack.balanceOf(usdc, payer.address)).toBe(1_000_000_000n - 10_000n)
  })
})
