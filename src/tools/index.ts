/**
 * payfetch/tools: framework-free agent tools (`pay_fetch`, `quote_fetch`, `spend_report`,
 * `pending_payments`, `resume_payment`, `list_services`, `call_service`) with zod 4 schemas that
 * LangChain, the AI SDK and MCP share. `zod` is an optional peer dependency of this subpath.
 *
 * @module
 */
export { type AskPerson, type ConfirmMode, type ConfirmPrompt, parseConfirmMode } from './confirmations.js'
export { createPayfetchTools, type PayfetchTools, type PayfetchToolsOptions } from './createPayfetchTools.js'
export { type IdempotencyStore, type IdempotentRecord, memoryIdempotency } from './IdempotencyStore.js'
export type { PayfetchTool, ToolAnnotations, ToolCallContext, ToolResult } from './PayfetchTool.js'
export { parseServiceCatalog, type ServiceEntry, type ServiceRequest } from './serviceCatalog.js'
export {
  type ConfirmationQuote,
  failureKind,
  isToolFailureError,
  type ToolFailure,
  type ToolFailureCode,
  ToolFailureError,
  toToolFailure,
} from './ToolFailure.js'
export * from './toolSchemas.js'
