// The one entry point payfetch's `Payment`-scheme tests use: it starts every server, each answers
// with a challenge of its own method, and stop() leaves nothing listening.

import { describe, expect, test } from 'vitest'
import { startPaymentSchemeStack } from '../../examples/local-stack/paymentSchemeStack.js'

const methodOf = async (url: string) => {
  const response = await fetch(url)
  return {
    status: response.status,
    method: /method="([a-z]+)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1],
  }
}

const refused = (url: string, init?: RequestInit) =>
  fetch(url, init).then(
    () => false,
    () => true,
  )

describe('startPaymentSchemeStack', () => {
  test('behavior: starts the mppx, Lightning and Solana servers; each asks in its own method; stop() closes every server and both chains', async () => {
    const stack = await startPaymentSchemeStack()
    console.info(`e2e: the Payment-scheme stack started in ${JSON.stringify(stack.startupMs)} ms (parts in parallel)`)
    const urls = [
      stack.mppx.url,
      stack.mppx.otherOriginUrl,
      stack.lightningCharge.url,
      stack.solana.url,
      stack.solana.rpcUrl,
    ]
    try {
      expect(await methodOf(`${stack.mppx.url}/weather`)).toEqual({ status: 402, method: 'evm' })
      expect(await methodOf(`${stack.mppx.url}/tempo/weather`)).toEqual({ status: 402, method: 'tempo' })
      expect(await methodOf(`${stack.lightningCharge.url}/weather`)).toEqual({ status: 402, method: 'lightning' })
      expect(await methodOf(`${stack.solana.url}/weather`)).toEqual({ status: 402, method: 'solana' })
    } finally {
      await stack.stop()
    }
    const rpc = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":1,"jsonrpc":"2.0","method":"eth_chainId"}',
    }
    for (const url of [...urls, stack.mppx.evm.rpcUrl, stack.mppx.tempo.rpcUrl])
      expect(await refused(url, rpc)).toBe(true)
  })
})
