import type { Hex } from 'viem'
import { privateKeyToAddress, sign, signMessage } from 'viem/accounts'
import { PayfetchError } from '../errors/PayfetchError.js'
import type { EvmAccount } from './account.js'
import { typedDataDigest } from './typedDataDigest.js'

/**
 * An account over a private key, for `evm({ account })`: it hashes EIP-712 data itself, keeping each
 * token's domain separator (`typedDataDigest`), and signs the digest. The signature is the one viem's
 * `privateKeyToAccount` makes (RFC 6979 is deterministic), 0.1 to 0.3 ms sooner per payment
 * (`bench/hotpath.md`). It signs no transactions: for a server-sponsored Permit2 approval, pass viem's
 * `privateKeyToAccount` instead.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { evm, privateKeyAccount } from 'payfetch/evm'
 *
 * const account = privateKeyAccount(process.env.PAYER_KEY as `0x${string}`)
 * const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` when the key is not 32 bytes of `0x` hex in the curve's
 * range (the message never quotes it).
 */
export function privateKeyAccount(privateKey: Hex): EvmAccount {
  let address: EvmAccount['address'] | undefined
  try {
    address = privateKeyToAddress(privateKey)
  } catch {} // viem's error may quote the key: it is not passed on
  if (!/^0x[0-9a-fA-F]{64}$/.test(String(privateKey)) || !address)
    throw new PayfetchError('INVALID_OPTIONS', 'privateKeyAccount() needs a secp256k1 private key: 32 bytes of 0x hex.')
  return {
    address,
    signTypedData: async (parameters) => sign({ hash: typedDataDigest(parameters), privateKey, to: 'hex' }),
    signMessage: async ({ message }) => signMessage({ message, privateKey }),
  }
}
