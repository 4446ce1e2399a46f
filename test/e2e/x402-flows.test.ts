import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, PayfetchError, type PayfetchEvent } from '../../src/index.js'

// Payment flows (x402 `extra.paymentFlow`) against the x402 2.27 reference server and facilitator on
// anvil: `/upfront/weather` is an `exact` EIP-3009 route the server settles before its handler runs.
let stack: EvmStack

beforeAll(async () => {
  stack = await startEvmStack()
})

afterAll(async () => {
  await stack?.stop()
})

/** A funded payer, the proofs its fetch sent and the events it reported. */
async function payer() {
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  const proofs: string[] = []
  const events: PayfetchEvent[] = []
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const proof = request.headers.get('payment-signature')
    if (proof) proofs.push(proof)
    return fetch(request)
  }
  return { account, proofs, events, recording, onEvent: (event: PayfetchEvent) => events.push(event) }
}

describe('x402 payment flows, settled on a local chain', () => {
  test('policy: an upfront offer without caps.flows is FLOW_NOT_ALLOWED before anything is reserved or signed', async () => {
    const { account, proofs, events, recording, onEvent } = await payer()
    const settled = stack.settlements.length
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], fetch: recording, onEvent })

    const error = await fetchPaid(`${stack.v2Url}/upfront/weather`).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(PayfetchError)
    expect((error as PayfetchError).code).toBe('FLOW_NOT_ALLOWED')
    expect((error as PayfetchError).details).toMatchObject({ flow: 'upfront', amount: '10000' })
    expect(proofs).toEqual([])
    expect(events.map((event) => event.type)).toEqual(['challenge', 'refusal'])
    expect((await fetchPaid.spendReport()).totals).toEqual([])
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n)
    expect(stack.settlements.length).toBe(settled)
  })

  test('behavior: quote() shows the upfront flow and why it would not be paid', async () => {
    const { account } = await payer()
    const quoted = await createPayingFetch({ signers: [evm({ account })] }).quote(`${stack.v2Url}/upfront/weather`)
    expect(quoted.best).toBeUndefined()
    expect(quoted.offers.map(({ offer, refusal }) => ({ flow: offer.flow, refusal: refusal?.code }))).toEqual([
      { flow: 'upfront', refusal: 'FLOW_NOT_ALLOWED' },
    ])
    const allowed = await createPayingFetch({ signers: [evm({ account })], caps: { flows: ['upfront'] } }).quote(
      `${stack.v2Url}/upfront/weather`,
    )
    expect(allowed.best?.flow).toBe('upfront')
  })

  test('behavior: with caps.flows ["upfront"] the offer is paid once; balances move by exactly the price; events name the flow', async () => {
    const { account, proofs, events, recording, onEvent } = await payer()
    const before = await stack.balanceOf(stack.usdc, stack.payTo)
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      caps: { flows: ['upfront'] },
      fetch: recording,
      onEvent,
    })

    const response = await fetchPaid(`${stack.v2Url}/upfront/weather`)

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', flow: 'upfront' })
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(before + 10_000n)
    expect(proofs).toHaveLength(1)
    expect(getReceipt(response)).toMatchObject({ amount: 10_000n, payer: account.address })
    const chosen = events.find((event) => event.type === 'offer.chosen')
    expect(chosen?.type === 'offer.chosen' && chosen.offer.flow).toBe('upfront')
    expect((await fetchPaid.spendReport()).totals).toMatchObject([{ spent: 10_000n, reserved: 0n, unknown: 0n }])
  })

  test('policy: an authorization route needs no caps.flows and names no flow', async () => {
    const { account } = await payer()
    const quoted = await createPayingFetch({ signers: [evm({ account })] }).quote(`${stack.v2Url}/weather`)
    expect(quoted.best).toBeDefined()
    expect(quoted.best?.flow).toBeUndefined()
  })
})
