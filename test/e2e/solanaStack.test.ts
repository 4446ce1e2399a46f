// Proves the local Solana payment stack with the x402 reference client (@x402/fetch + @x402/svm),
// so payfetch's own e2e tests can trust it: a failure here is the harness, not payfetch.

import { createSolanaRpc } from '@solana/kit'
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import { ExactSvmScheme } from '@x402/svm/exact/client'
import { FailedTransactionMetadata } from 'litesvm'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  devnetUsdcMint,
  type SolanaStack,
  solanaDevnet,
  startSolanaStack,
} from '../../examples/local-stack/solanaStack.js'

let stack: SolanaStack

beforeAll(async () => {
  stack = await startSolanaStack()
})

afterAll(async () => {
  await stack?.stop()
})

describe('local Solana stack', () => {
  test('behavior: the RPC shim answers @solana/kit’s own client from the LiteSVM (mint, blockhash, slot)', async () => {
    const rpc = createSolanaRpc(stack.rpcUrl)
    const { value: mint } = await rpc.getAccountInfo(devnetUsdcMint, { encoding: 'base64' }).send()
    expect(mint?.owner).toBe('TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA')
    expect(Buffer.from(mint?.data[0] as string, 'base64')[44]).toBe(6)
    const { value: latest } = await rpc.getLatestBlockhash().send()
    expect(latest.blockhash).toBe(stack.svm.latestBlockhash())
    expect(typeof (await rpc.getSlot().send())).toBe('bigint')
  })

  test('behavior: the reference server asks for devnet USDC with the facilitator as fee payer', async () => {
    const response = await fetch(`${stack.v2Url}/weather`)
    expect(response.status).toBe(402)
    const required = decodePaymentRequiredHeader(response.headers.get('payment-required') as string)
    expect(required.accepts[0]).toMatchObject({
      scheme: 'exact',
      network: solanaDevnet,
      amount: '10000',
      asset: devnetUsdcMint,
      payTo: stack.payTo,
      extra: { feePayer: stack.feePayer },
    })
    const withBlockhash = decodePaymentRequiredHeader(
      (await fetch(`${stack.v2BlockhashUrl}/weather`)).headers.get('payment-required') as string,
    )
    expect(withBlockhash.accepts[0]?.extra).toMatchObject({
      feePayer: stack.feePayer,
      recentBlockhash: stack.svm.latestBlockhash(),
    })
  })

  test('behavior: the reference client (@x402/fetch + @x402/svm) pays it, and the facilitator settles on the LiteSVM', async () => {
    const payer = await stack.newPayer()
    await stack.fund(stack.tokens.usdc, payer.address, 1_000_000n)
    const client = x402Client.fromConfig({
      schemes: [{ network: 'solana:*', client: new ExactSvmScheme(payer, { rpcUrl: stack.rpcUrl }) }],
    })
    const response = await wrapFetchWithPayment(fetch, client)(`${stack.v2Url}/weather`)
    expect(response.status).toBe(200)
    const settled = decodePaymentResponseHeader(response.headers.get('payment-response') as string)
    expect(settled).toMatchObject({ success: true, network: solanaDevnet, payer: payer.address })
    expect(stack.chain.transaction(settled.transaction)).not.toBeInstanceOf(FailedTransactionMetadata)
    expect(await stack.balanceOf(stack.tokens.usdc, payer.address)).toBe(990_000n)
    expect(stack.lamports(payer.address)).toBe(0n)
  })
})
