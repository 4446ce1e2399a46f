import type { ToolMessage } from '@langchain/core/messages'
import { tool } from '@langchain/core/tools'
import { createAgent, toolRetryMiddleware } from 'langchain'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { evm } from '../../src/evm/index.js'
import { PayfetchToolkit } from '../../src/langchain/index.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'
import { ScriptedChatModel } from '../support/scriptedChatModel.js'

// LangChain's own agent (createAgent) with its retry middleware, driven by a scripted chat model;
// the tools pay a loopback x402 merchant that verifies signatures.
let merchant: Merchant
// The first paid answer to /lost is lost on the wire after the merchant settled it.
let lost = false

beforeAll(async () => {
  merchant = await startMerchant(
    {
      '/lost': (request, response, self) =>
        self.charge(
          request,
          response,
          [requirement()],
          () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"report":"all quiet"}'),
          { loseResponse: () => !lost && (lost = true) },
        ),
    },
    // Retries of one payment id get the first answer, settled once, as x402 servers do.
    { paymentIdentifier: { required: false } },
  )
})

afterAll(async () => {
  await merchant?.close()
})

/** The proofs the merchant received for `path`. */
const proofsTo = (path: string) =>
  merchant.seen.filter((seen) => seen.path === path && seen.headers['payment-signature'])

describe('payfetch/langchain under createAgent', () => {
  test('money: toolRetryMiddleware does not run pay_fetch again after an unknown outcome; resume_payment finishes it, paid once', async () => {
    // A tool that fails unmarked, in the same agent: proves the middleware retries what it may.
    let flakyRuns = 0
    const flaky = tool(
      async () => {
        flakyRuns++
        throw new Error('upstream hiccup')
      },
      { name: 'flaky', description: 'Fails.', schema: z.object({}) },
    )
    const toolkit = new PayfetchToolkit({
      payfetch: { signers: [evm({ account: privateKeyToAccount(generatePrivateKey()) })] },
    })
    const agent = createAgent({
      model: new ScriptedChatModel({
        responses: [
          JSON.stringify([
            { call: 'pay_fetch', args: { url: `${merchant.url}/lost`, max_usd: 0.05 } },
            { call: 'flaky', args: {} },
          ]),
          JSON.stringify([{ call: 'resume_payment', args: { id: '$pending_id' } }]),
          'The report says all quiet.',
        ],
      }),
      tools: [...toolkit.getTools(), flaky],
      middleware: [toolRetryMiddleware({ maxRetries: 2, initialDelayMs: 0, jitter: false, onFailure: 'continue' })],
      // LangChain's agent types do not check under exactOptionalPropertyTypes.
    } as never)

    const settled = merchant.settled.length
    const replayed = merchant.replayed
    const { messages } = await agent.invoke({ messages: [{ role: 'user', content: 'Get the report.' }] })
    const toolMessages = messages.filter((message): message is ToolMessage => message.type === 'tool')
    const answer = (name: string) => {
      const found = toolMessages.find((message) => message.name === name)
      return { status: found?.status, content: JSON.parse(String(found?.content)) }
    }

    // The middleware is on: the unmarked failure ran 1 + 2 times.
    expect(flakyRuns).toBe(3)
    // pay_fetch ran once: one authorization signed, answered with the pending payment to resume.
    expect(answer('pay_fetch')).toMatchObject({
      status: 'error',
      content: { error: { code: 'PAYMENT_OUTCOME_UNKNOWN', paid: 'unknown', pending_id: expect.any(String) } },
    })
    const proofs = proofsTo('/lost')
    expect(new Set(proofs.map((seen) => seen.headers['payment-signature']))).toHaveProperty('size', 1)
    // resume_payment sent that same proof again and got the first answer, settled once.
    expect(answer('resume_payment')).toMatchObject({
      status: 'success',
      content: { status: 200, body: '{"report":"all quiet"}' },
    })
    expect(proofs).toHaveLength(2)
    expect(merchant.replayed).toBe(replayed + 1)
    expect(merchant.settled.length).toBe(settled + 1)
    expect(messages.at(-1)?.content).toBe('The report says all quiet.')
  })
})
