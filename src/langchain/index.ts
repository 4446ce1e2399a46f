/**
 * payfetch/langchain: the payfetch tools for LangChain JS, one by one or as a toolkit.
 * `@langchain/core` and `zod` are optional peer dependencies of this subpath.
 *
 * @module
 */
export { PayfetchToolkit } from './PayfetchToolkit.js'
export { payfetchLangChainTools } from './payfetchLangChainTools.js'
