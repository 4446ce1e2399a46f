/**
 * payfetch/tempo: the Tempo signer for the `Payment` scheme's `tempo` charge (TIP-20 transfers in a
 * Tempo transaction the server broadcasts, fee-sponsored or paid in the charge's stablecoin), built
 * on viem, this entry's peer dependency (a viem with `viem/tempo`).
 *
 * @module
 */

export { type TempoOptions, tempo } from './tempo.js'
export type { TempoClient } from './tempoClients.js'
