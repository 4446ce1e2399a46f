import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { AskPerson, ConfirmPrompt, PayfetchTool, ToolFailure } from 'payfetch/tools'
import { printable } from './printable.js'

/**
 * An MCP server whose tools are the payfetch tools. Results carry `structuredContent` and the
 * same JSON as text; failures are `isError` results with `{"error": {code, message, paid}}`.
 * Payments are confirmed by elicitation when the client supports forms. With `broken` (unusable
 * settings) every tool answers that failure, so the model can say which variable to fix.
 */
export function createMcpServer(
  tools: readonly PayfetchTool[],
  options: { version: string; broken?: ToolFailure | undefined },
): McpServer {
  const server = new McpServer({ name: 'payfetch', version: options.version })
  const { broken } = options
  // The SDK answers arguments its schema refuses (and an unknown tool) with bare text before any
  // handler runs; the host gets payfetch's failure shape instead, which says nothing was paid.
  // Anything else it reports there (an output it refused) came after the tool ran: paid unknown.
  ;(server as unknown as { createToolError(message: string): unknown }).createToolError = (message: string) => {
    const refused = /^MCP error -32602: /.test(message)
    const failure: ToolFailure = refused
      ? { code: 'INVALID_INPUT', message: message.replace(/^MCP error -32602: /, '').slice(0, 1000), paid: false }
      : { code: 'INTERNAL', message: message.slice(0, 1000), paid: 'unknown' }
    return { isError: true, content: [{ type: 'text' as const, text: JSON.stringify({ error: failure }) }] }
  }

  const ask: AskPerson = async (prompt) => {
    if (!server.server.getClientCapabilities()?.elicitation) return undefined
    try {
      const answer = await server.server.elicitInput({
        mode: 'form',
        message: describePayment(prompt),
        requestedSchema: {
          type: 'object',
          properties: { approve: { type: 'boolean', title: 'Pay', description: describePayment(prompt) } },
          required: ['approve'],
        },
      })
      return answer.action === 'accept' && answer.content?.approve === true
    } catch {
      return undefined
    }
  }

  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.annotations.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema,
        annotations: tool.annotations,
      },
      async (args: unknown, extra: { signal: AbortSignal }) => {
        const result = broken
          ? { ok: false as const, error: broken }
          : await tool.run(args, { signal: extra.signal, ask })
        if (result.ok)
          return {
            content: [{ type: 'text' as const, text: JSON.stringify(result.output) }],
            structuredContent: result.output as Record<string, unknown>,
          }
        return { isError: true, content: [{ type: 'text' as const, text: JSON.stringify({ error: result.error }) }] }
      },
    )
  }
  return server
}

function describePayment(prompt: ConfirmPrompt): string {
  const amount = prompt.amount_usd
    ? `$${prompt.amount_usd}`
    : `${prompt.amount} atomic units of ${prompt.symbol ?? prompt.asset}`
  const deposit = prompt.deposit
    ? `, after depositing ${prompt.deposit_usd ? `$${prompt.deposit_usd}` : `${prompt.deposit} atomic units`} into a payment channel`
    : ''
  // Terminal MCP hosts print this to the person: the server's words must not run as escapes there.
  return printable(
    `Pay ${amount}${deposit} (${prompt.protocol} on ${prompt.network}) to ${prompt.payee} for ${prompt.method} ${prompt.url}?`,
  )
}
