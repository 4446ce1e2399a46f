/**
 * payfetch/discovery: what x402 discovery services (the `bazaar` extension) list, with prices
 * decoded into offers, and as service catalog entries for the agent tools. No dependency; kept out
 * of the root so a paying client does not carry it.
 *
 * @module
 */
export { type DiscoveredResource, type DiscoverOptions, discover } from './discover.js'
export { discoveredServices } from './discoveredServices.js'
