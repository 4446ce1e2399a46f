import { type Address, getAddressEncoder, getProgramDerivedAddress } from '@solana/kit'
import { associatedTokenProgram } from './programs.js'

/**
 * The associated token account of `owner` for `mint`: the program-derived address
 * `[owner, tokenProgram, mint]` of the associated token account program. Token and Token-2022
 * accounts of the same owner and mint live at different addresses.
 */
export async function findAssociatedTokenAddress(
  owner: Address,
  mint: Address,
  tokenProgram: Address,
): Promise<Address> {
  const encoder = getAddressEncoder()
  const [address] = await getProgramDerivedAddress({
    programAddress: associatedTokenProgram,
    seeds: [encoder.encode(owner), encoder.encode(tokenProgram), encoder.encode(mint)],
  })
  return address
}
