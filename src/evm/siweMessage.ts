import type { SiwxChallenge } from '../siwx/SiwxChallenge.js'

/**
 * The EIP-4361 (Sign-In with Ethereum) text of a sign-in-with-x challenge for `address` (EIP-55)
 * on `chainId`. Every field is the server's text verbatim: the server rebuilds this exact text to
 * verify the signature, so a date reformatted here would not verify. Check the challenge first
 * (`checkSiwxChallenge`): a field with a line break would add lines of the server's choosing.
 */
export function siweMessage(challenge: SiwxChallenge, address: string, chainId: number): string {
  const { domain, statement, uri, version, nonce, issuedAt, expirationTime, notBefore, requestId, resources } =
    challenge
  // Header, address, a blank line, then the statement and another blank line (one when absent).
  const lines = [`${domain} wants you to sign in with your Ethereum account:`, address, '']
  lines.push(...(statement === undefined ? [''] : [statement, '']))
  lines.push(`URI: ${uri}`, `Version: ${version}`, `Chain ID: ${chainId}`, `Nonce: ${nonce}`, `Issued At: ${issuedAt}`)
  if (expirationTime !== undefined) lines.push(`Expiration Time: ${expirationTime}`)
  if (notBefore !== undefined) lines.push(`Not Before: ${notBefore}`)
  if (requestId !== undefined) lines.push(`Request ID: ${requestId}`)
  if (resources !== undefined) lines.push('Resources:', ...resources.map((resource) => `- ${resource}`))
  return lines.join('\n')
}
