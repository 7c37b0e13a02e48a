/**
 * A random base64url id (RFC 4648 §5, no padding) from `crypto.getRandomValues`.
 *
 * @param bytes random bytes; the default 16 gives 128 bits and 22 characters.
 */
export function randomId(bytes = 16): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let binary = '';
  for (const b of raw) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
