// Anything thrown, as text: the one place that looks inside an unknown error (graphile-worker's
// coerceError has the same job). A thrown string, number or null must not crash the code reporting it.

/** An Error's message (its name when the message is empty), else the thrown value as a string. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}

/** The `code` of a Node.js system error (EADDRINUSE, ENOENT…), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
