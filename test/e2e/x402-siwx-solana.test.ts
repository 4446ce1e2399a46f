import type { Address } from '@solana/kit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type SiwxServer, startSiwxServer } from '../../examples/local-stack/siwxServer.js'
import { type SolanaStack, startSolanaStack } from '../../examples/local-stack/solanaStack.js'
import { createPayingFetch, getReceipt, memorySessions, type PayfetchEvent } from '../../src/index.js'
import { solana } from '../../src/solana/index.js'

// Sign-in-with-x on Solana: the x402 reference server (@x402/express, @x402/svm) with the reference
// extension, its facilitator settling on the LiteSVM. Pay once in USDC, then re-access by a SIWS
// (ed25519) signature: the reference extension verifies it and finds the payment it recorded.
let stack: SolanaStack
let server: SiwxServer

beforeAll(async () => {
  stack = await startSolanaStack()
  server = await startSiwxServer({
    facilitatorUrl: stack.facilitatorUrl,
    solana: { network: stack.network, mint: stack.tokens.usdc.mint },
    payTo: stack.payTo,
  })
})

afterAll(async () => {
  await server?.close()
  await stack?.stop()
})

describe('x402 sign-in-with-x on Solana (SIWS)', () => {
  test('behavior: the first call pays on the LiteSVM; the second signs in instead: no balance change, nothing settled', async () => {
    const key = await stack.newPayer()
    await stack.fund(stack.tokens.usdc, key.address, 1_000_000n)
    const events: PayfetchEvent[] = []
    const fetchPaid = createPayingFetch({
      signers: [solana({ signer: key, rpc: stack.rpcUrl, networks: [stack.network] })],
      sessions: memorySessions(),
      onEvent: (event) => void events.push(event),
    })
    const balance = () => stack.balanceOf(stack.tokens.usdc, key.address as Address)

    const first = await fetchPaid(`${server.url}/report`)
    expect([first.status, await first.json()]).toEqual([200, { report: 'quarterly' }])
    expect(getReceipt(first)).toMatchObject({ protocol: 'x402', network: stack.network, amount: 10_000n })
    expect(await balance()).toBe(990_000n)
    const settlements = stack.settlements.length
    expect(server.storage.hasPaid('/report', key.address)).toBe(true)

    events.length = 0
    const again = await fetchPaid(`${server.url}/report`)
    expect([again.status, await again.json()]).toEqual([200, { report: 'quarterly' }])
    expect(getReceipt(again)).toBeUndefined()
    expect(events.map((event) => event.type)).toEqual(['siwx.accepted'])
    expect(events[0]).toMatchObject({ address: key.address, chainId: stack.network })
    expect(server.events.at(-1)).toMatchObject({ type: 'access_granted', resource: '/report' })
    expect(stack.settlements.length).toBe(settlements)
    expect(await balance()).toBe(990_000n)

    // The entitlement is per path: another path of the same server is paid, never signed for.
    const other = await fetchPaid(`${server.url}/other`)
    expect(getReceipt(other)?.amount).toBe(10_000n)
    expect(await balance()).toBe(980_000n)
  })
})
