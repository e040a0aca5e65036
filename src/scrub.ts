// Replacing known secret values in text. Its own module so pure code (normalize) can use it without
// the logger.

/** Replaces each known secret in `text` with `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && out.includes(secret)) out = out.replaceAll(secret, '***');
  }
  return out;
}
