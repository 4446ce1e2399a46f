import type * as z from 'zod/mini'
import type { AskPerson } from './confirmations.js'
import type { ToolFailure } from './ToolFailure.js'

/** MCP's tool hints; frameworks without them ignore them. */
export type ToolAnnotations = {
  readonly title: string
  readonly readOnlyHint: boolean
  readonly destructiveHint: boolean
  readonly idempotentHint: boolean
  readonly openWorldHint: boolean
}

/** Per-call context a framework hands the tool. */
export type ToolCallContext = {
  /** Cancels the call (MCP's request signal, the AI SDK's `abortSignal`). */
  readonly signal?: AbortSignal | undefined
  /** How to ask a person to confirm a payment on this call, when the host can. */
  readonly ask?: AskPerson | undefined
}

/** The answer of one tool call: its output, or a structured failure. Never throws. */
export type ToolResult<Output> =
  | { readonly ok: true; readonly output: Output }
  | { readonly ok: false; readonly error: ToolFailure }

/**
 * One framework-free tool: a name, zod 4 (mini) schemas that LangChain, the AI SDK and MCP all
 * accept, hints, and `run`, which validates its input, applies defaults and never throws.
 */
export type PayfetchTool<
  Input extends z.ZodMiniObject = z.ZodMiniObject,
  Output extends z.ZodMiniObject = z.ZodMiniObject,
> = {
  readonly name: string
  readonly description: string
  readonly inputSchema: Input
  readonly outputSchema: Output
  readonly annotations: ToolAnnotations
  run(input: unknown, context?: ToolCallContext): Promise<ToolResult<z.infer<Output>>>
}
