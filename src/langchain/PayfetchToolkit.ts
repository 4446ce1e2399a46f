import { BaseToolkit } from '@langchain/core/tools'
import { createPayfetchTools, type PayfetchTools, type PayfetchToolsOptions } from '../tools/createPayfetchTools.js'
import { payfetchLangChainTools } from './payfetchLangChainTools.js'

/**
 * A LangChain toolkit of the payfetch tools (`getTools()`), sharing one paying fetch, ledger and
 * session store.
 *
 * @example
 * ```ts
 * import { PayfetchToolkit } from 'payfetch/langchain'
 *
 * const toolkit = new PayfetchToolkit({ payfetch: { signers } })
 * const agent = createAgent({ model, tools: toolkit.getTools() })
 * ```
 */
export class PayfetchToolkit extends BaseToolkit {
  tools: ReturnType<typeof payfetchLangChainTools>
  /** The framework-free tools behind this toolkit. */
  readonly payfetch: PayfetchTools

  constructor(source: PayfetchToolsOptions | PayfetchTools) {
    super()
    this.payfetch = 'tools' in source ? source : createPayfetchTools(source)
    this.tools = payfetchLangChainTools(this.payfetch)
  }
}
