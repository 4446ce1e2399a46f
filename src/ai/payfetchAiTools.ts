import { type Tool, tool } from 'ai'
import { createPayfetchTools, type PayfetchTools, type PayfetchToolsOptions } from '../tools/createPayfetchTools.js'
import { ToolFailureError } from '../tools/ToolFailure.js'

/**
 * The payfetch tools as an AI SDK tool set, keyed by name, for `generateText({ tools })`. A
 * failure is thrown as a `ToolFailureError` whose message is `{"error":{code,message,paid}}`,
 * which the SDK hands the model as the tool's error text. For a person's approval, use the SDK's
 * own `toolApproval` on `pay_fetch` and `call_service`.
 *
 * @example
 * ```ts
 * import { generateText } from 'ai'
 * import { payfetchAiTools } from 'payfetch/ai'
 *
 * const { text } = await generateText({
 *   model,
 *   tools: payfetchAiTools({ payfetch: { signers, caps: { perRequest: { usd: '0.25' } } } }),
 *   prompt: 'Buy the market report at https://api.example.com/report and summarize it.',
 * })
 * ```
 */
export function payfetchAiTools(source: PayfetchToolsOptions | PayfetchTools): Record<string, Tool> {
  const set = 'tools' in source ? source : createPayfetchTools(source)
  return Object.fromEntries(
    set.tools.map((spec) => [
      spec.name,
      tool({
        description: spec.description,
        inputSchema: spec.inputSchema,
        outputSchema: spec.outputSchema,
        execute: async (input: unknown, { abortSignal }) => {
          const result = await spec.run(input, { signal: abortSignal })
          if (!result.ok) throw new ToolFailureError(result.error)
          return result.output
        },
      }) as Tool,
    ]),
  )
}
