import { ToolMessage } from '@langchain/core/messages'
import { type DynamicStructuredTool, tool } from '@langchain/core/tools'
import { createPayfetchTools, type PayfetchTools, type PayfetchToolsOptions } from '../tools/createPayfetchTools.js'
import type { PayfetchTool } from '../tools/PayfetchTool.js'
import { ToolFailureError } from '../tools/ToolFailure.js'

// LangChain's retry middleware re-runs a thrown error unless this mark says not to; set without
// importing LangChain's error helpers so the mark survives any copy of @langchain/core.
const retryable = Symbol.for('langchain.errors.retryable')

/**
 * The payfetch tools as LangChain tools. A success is the tool's JSON output. A failure (a
 * refusal, an unknown outcome, bad input) reaches the model as an error: called with a tool call
 * (an agent loop) the tool returns a `ToolMessage` with `status: 'error'`, which no middleware
 * retries; invoked with plain arguments it throws a `ToolFailureError` marked not retryable.
 *
 * @example
 * ```ts
 * import { payfetchLangChainTools } from 'payfetch/langchain'
 * import { evm } from 'payfetch/evm'
 *
 * const tools = payfetchLangChainTools({ payfetch: { signers: [evm({ account })], caps: { perRequest: { usd: '0.25' } } } })
 * const model = chatModel.bindTools(tools)
 * ```
 */
export function payfetchLangChainTools(source: PayfetchToolsOptions | PayfetchTools): DynamicStructuredTool[] {
  const set = 'tools' in source ? source : createPayfetchTools(source)
  return set.tools.map(toLangChain)
}

function toLangChain(spec: PayfetchTool): DynamicStructuredTool {
  return tool(
    async (input: unknown, config) => {
      const result = await spec.run(input, { signal: config?.signal })
      if (result.ok) return JSON.stringify(result.output)
      const content = JSON.stringify({ error: result.error })
      const id = config?.toolCall?.id
      if (id) return new ToolMessage({ status: 'error', tool_call_id: id, name: spec.name, content })
      const error = new ToolFailureError(result.error)
      Object.defineProperty(error, retryable, { value: false })
      throw error
    },
    {
      name: spec.name,
      description: spec.description,
      // biome-ignore lint/suspicious/noExplicitAny: zod/mini objects are zod 4 schemas; LangChain's overloads name the classic ones
      schema: spec.inputSchema as any,
    },
  ) as unknown as DynamicStructuredTool
}
