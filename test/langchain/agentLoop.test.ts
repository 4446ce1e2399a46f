import { type BaseMessage, HumanMessage, type ToolMessage } from '@langchain/core/messages'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { evm } from '../../src/evm/index.js'
import { PayfetchToolkit, payfetchLangChainTools } from '../../src/langchain/index.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'
import { ScriptedChatModel } from '../support/scriptedChatModel.js'

// A scripted tool-calling chat model drives a plain agent loop that pays a loopback x402 merchant
// through the tool.
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

async function runAgent(script: string[]) {
  const toolkit = new PayfetchToolkit({
    payfetch: { signers: [evm({ account: privateKeyToAccount(generatePrivateKey()) })] },
  })
  const tools = toolkit.getTools()
  const model = new ScriptedChatModel({ responses: script }).bindTools(tools)
  const messages: BaseMessage[] = [new HumanMessage('Get the market report.')]
  for (let turn = 0; turn < 5; turn++) {
    const reply = await model.invoke(messages)
    messages.push(reply)
    if (!reply.tool_calls?.length) break
    for (const call of reply.tool_calls) {
      const found = tools.find((candidate) => candidate.name === call.name)
      messages.push((await found!.invoke({ ...call, type: 'tool_call' })) as ToolMessage)
    }
  }
  return messages
}

describe('payfetch/langchain', () => {
  test('behavior: an agent loop pays a local server through pay_fetch and reads the paid body', async () => {
    const settled = merchant.settled.length
    const messages = await runAgent([
      JSON.stringify({ call: 'pay_fetch', args: { url: `${merchant.url}/report`, max_usd: 0.05 } }),
      'The report says all quiet.',
    ])
    const toolMessage = messages[2] as ToolMessage
    expect(toolMessage.status).toBe('success')
    expect(JSON.parse(String(toolMessage.content))).toMatchObject({
      paid: true,
      body: '{"report":"all quiet"}',
      payment: { protocol: 'x402', amount: '10000' },
    })
    expect(messages.at(-1)?.content).toBe('The report says all quiet.')
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('policy: a refusal reaches the model as an error tool message (never re-run), and nothing is paid', async () => {
    const settled = merchant.settled.length
    const messages = await runAgent([
      JSON.stringify({ call: 'pay_fetch', args: { url: `${merchant.url}/report`, max_usd: 0.001 } }),
      'It costs more than I may spend.',
    ])
    const toolMessage = messages[2] as ToolMessage
    expect(toolMessage.status).toBe('error')
    expect(JSON.parse(String(toolMessage.content))).toMatchObject({ error: { code: 'CAP_EXCEEDED', paid: false } })
    expect(merchant.settled.length).toBe(settled)
  })

  test('error: invoked with plain arguments, a failure is thrown marked not retryable for LangChain middleware', async () => {
    const [payFetch] = payfetchLangChainTools({ payfetch: { signers: [] } })
    const error = await payFetch!.invoke({ url: `${merchant.url}/report` }).catch((reason: unknown) => reason)
    expect(error).toMatchObject({ name: 'ToolFailureError', failure: { code: 'NO_SIGNER', paid: false } })
    expect((error as Record<symbol, unknown>)[Symbol.for('langchain.errors.retryable')]).toBe(false)
  })

  test('behavior: the schema LangChain shows the model requires only url (optional fields carry no defaults)', () => {
    const [payFetch] = payfetchLangChainTools({ payfetch: { signers: [] } })
    const bound = new ScriptedChatModel({ responses: [] }).bindTools([payFetch!])
    const tools = (bound as unknown as { config: { tools: { function: { parameters: { required: string[] } } }[] } })
      .config.tools
    expect(tools[0]?.function.parameters.required).toEqual(['url'])
  })
})
