import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { type ElicitRequest, ElicitRequestSchema, type ElicitResult } from '@modelcontextprotocol/sdk/types.js'

/** The built CLI: the MCP tests run what `npx -y @payfetch/cli mcp` runs. */
export const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

export type McpSession = {
  readonly client: Client
  /** Everything the server wrote to stderr so far. */
  stderr(): string
  /** Calls a tool: its structured output, or `{ error }` for an `isError` result. Also returns the raw text. */
  call(name: string, args?: Record<string, unknown>): Promise<CallResult>
  close(): Promise<void>
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the fields of the tool they called
export type CallResult = { isError: boolean; value: any; text: string }

/**
 * Spawns `payfetch mcp` over stdio with exactly `env` (hosts pass only what their config lists)
 * and connects the SDK's own client. With `elicit`, the client declares form elicitation.
 */
export async function connectMcp(
  env: Record<string, string>,
  options: { elicit?: (request: ElicitRequest) => Promise<ElicitResult> } = {},
): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cliPath, 'mcp'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stderr: 'pipe',
  })
  let stderr = ''
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const client = new Client(
    { name: 'payfetch-test', version: '1.0.0' },
    { capabilities: options.elicit ? { elicitation: { form: {} } } : {} },
  )
  if (options.elicit) client.setRequestHandler(ElicitRequestSchema, options.elicit)
  await client.connect(transport)
  return {
    client,
    stderr: () => stderr,
    async call(name, args = {}) {
      const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })
      const text = (result.content as { type: string; text: string }[])[0]?.text ?? ''
      const isError = result.isError === true
      return { isError, text, value: isError ? JSON.parse(text).error : result.structuredContent }
    },
    close: () => client.close(),
  }
}
