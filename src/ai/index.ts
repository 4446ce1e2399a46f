/**
 * payfetch/ai: the payfetch tools as a Vercel AI SDK tool set. `ai` and `zod` are optional peer
 * dependencies of this subpath.
 *
 * @module
 */
export { payfetchAiTools } from './payfetchAiTools.js'
