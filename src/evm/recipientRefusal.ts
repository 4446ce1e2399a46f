const zeroAddress = /^0x0{40}$/

/**
 * Why an EVM payment from `payer` may not go to `to`, or `undefined`. The zero address burns what a
 * token lets through (or reverts after the server held the signature); the payer itself moves
 * nothing, yet the payment would be counted as spent. Both are a server's mistake or trick: refused
 * before anything is reserved or signed.
 */
export function recipientRefusal(to: string, payer: string, what = 'the recipient'): string | undefined {
  if (zeroAddress.test(to)) return `${what} is the zero address`
  if (to.toLowerCase() === payer.toLowerCase()) return `${what} is the paying account itself`
  return undefined
}
