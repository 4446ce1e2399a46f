import type { Protocol } from './Protocol.js'
import { x402 } from './x402/index.js'

/**
 * The protocols every paying fetch speaks. Others come with the signers that can pay them
 * (`lightning()` brings L402; `evm()`, `solana()`, `lightning()` and `tempo()` bring the `Payment`
 * scheme), so apps that never pay them never bundle their decoders.
 */
export const defaultProtocols: readonly Protocol[] = [x402]
