/**
 * payfetch/ky: a ky instance whose fetch pays, with a retry guard so ky's retries never pay
 * twice. `ky` (1.x) is an optional peer dependency of this subpath.
 *
 * @module
 */
export { type PaidKyLimits, payLimits, withPayments } from './withPayments.js'
