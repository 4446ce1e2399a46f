import { generateText, stepCountIs } from 'ai'
import { MockLanguageModelV3 } from 'ai/test'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { payfetchAiTools } from '../../src/ai/index.js'
import { evm } from '../../src/evm/index.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// generateText with the AI SDK's mock model: its first step calls pay_fetch, its second answers.
let merchant: Merchant

beforeAll(async () => {
  merchant = await startMerchant({
    '/report': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"report":"all quiet"}'),
      ),
  })
})

afterAll(async () => {
  await merchant?.close()
})

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
}

function scriptedModel(args: Record<string, unknown>) {
  let step = 0
  return new MockLanguageModelV3({
    doGenerate: async () => {
      step++
      const content =
        step === 1
          ? [{ type: 'tool-call' as const, toolCallId: 'call_1', toolName: 'pay_fetch', input: JSON.stringify(args) }]
          : [{ type: 'text' as const, text: 'done' }]
      return {
        content,
        finishReason: { unified: step === 1 ? ('tool-calls' as const) : ('stop' as const), raw: undefined },
        usage,
        warnings: [],
      }
    },
  })
}

describe('payfetch/ai', () => {
  test('behavior: generateText with a mock model calls pay_fetch, which pays once', async () => {
    const settled = merchant.settled.length
    const result = await generateText({
      model: scriptedModel({ url: `${merchant.url}/report` }),
      tools: payfetchAiTools({ payfetch: { signers: [evm({ account: privateKeyToAccount(generatePrivateKey()) })] } }),
      prompt: 'Get the market report.',
      stopWhen: stepCountIs(3),
    })
    expect(result.text).toBe('done')
    const toolResult = result.steps[0]?.toolResults[0]
    expect(toolResult?.output).toMatchObject({
      paid: true,
      body: '{"report":"all quiet"}',
      payment: { amount: '10000' },
    })
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('policy: a refusal reaches the model as the tool error {code, paid: false}; nothing is paid', async () => {
    const settled = merchant.settled.length
    const result = await generateText({
      model: scriptedModel({ url: `${merchant.url}/report`, max_usd: 0.001 }),
      tools: payfetchAiTools({ payfetch: { signers: [evm({ account: privateKeyToAccount(generatePrivateKey()) })] } }),
      prompt: 'Get the market report.',
      stopWhen: stepCountIs(3),
    })
    const errorPart = result.steps[0]?.content.find((part) => part.type === 'tool-error')
    expect(errorPart && JSON.parse(String((errorPart.error as Error).message))).toMatchObject({
      error: { code: 'CAP_EXCEEDED', paid: false },
    })
    expect(merchant.settled.length).toBe(settled)
  })
})
