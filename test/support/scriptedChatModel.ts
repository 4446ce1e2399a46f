import { AIMessage, type BaseMessage } from '@langchain/core/messages'
import { FakeListChatModel } from '@langchain/core/utils/testing'

type Call = { call: string; args: unknown }

/**
 * LangChain's FakeListChatModel whose scripted replies may be tool calls: a JSON `{ call, args }`,
 * or an array of them for parallel calls; any other text is a plain answer. A `$pending_id` in a
 * script is the last `pending_id` a tool message carried, as a model would read it.
 */
export class ScriptedChatModel extends FakeListChatModel {
  private seen: BaseMessage[] = []

  override _generate(...args: Parameters<FakeListChatModel['_generate']>) {
    this.seen = args[0]
    return super._generate(...args)
  }

  override _formatGeneration(text: string) {
    if (!text.startsWith('{') && !text.startsWith('[')) return { message: new AIMessage(text), text }
    const pending = this.seen
      .map((message) => /"pending_id":"([^"]+)"/.exec(String(message.content))?.[1])
      .filter(Boolean)
      .at(-1)
    const script = JSON.parse(text.replace('$pending_id', pending ?? '')) as Call | Call[]
    const calls = Array.isArray(script) ? script : [script]
    const message = new AIMessage({
      content: '',
      tool_calls: calls.map(({ call, args }, index) => ({
        id: `call_${this.i}_${index}`,
        name: call,
        args: args as Record<string, unknown>,
      })),
    })
    return { message, text }
  }

  // The base class binds a fresh FakeListChatModel; keep this script and its position instead.
  override bindTools(tools: Parameters<FakeListChatModel['bindTools']>[0]) {
    const { config } = super.bindTools(tools) as unknown as { config: Record<string, unknown> }
    return this.withConfig(config) as unknown as ReturnType<FakeListChatModel['bindTools']>
  }
}
