const maxProofHeaderLength = 64 * 1024

/**
 * The name of the first header whose value cannot be sent as a proof, else `undefined`. CR, LF or
 * NUL in a value would let a signer, wallet or server inject headers into the paid request.
 */
export function invalidProofHeader(headers: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(headers))
    if (
      typeof value !== 'string' ||
      value.length === 0 ||
      value.length > maxProofHeaderLength ||
      /[\r\n\0]/.test(value)
    )
      return name
  return undefined
}
