import { l402 } from './l402/index.js'
import type { Protocol } from './Protocol.js'
import { x402 } from './x402/index.js'

/** The protocols every paying fetch speaks, in the order their challenges are read. */
export const defaultProtocols: readonly Protocol[] = [x402, l402]
