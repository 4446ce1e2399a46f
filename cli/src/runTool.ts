import type { PayfetchTools, ToolResult } from 'payfetch/tools'

/** Runs one of the payfetch tools by name, as the MCP server would. */
export function runTool(tools: PayfetchTools, name: string, input: unknown): Promise<ToolResult<unknown>> {
  const tool = tools.get(name)
  if (!tool) throw new Error(`No tool named ${name}.`)
  return tool.run(input)
}
