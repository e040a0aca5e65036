// The page envelope both API versions share: { items, next_page_token?, total_size? }.
import { z } from 'zod';
import { ApiError } from './http.ts';

export interface PageParams {
  projectId: string;
  organizationId?: string | undefined;
  pageSize: number;
  pageToken?: string | undefined;
}

export interface Page {
  /** Items as received; each is validated on its own by normalize. */
  items: unknown[];
  /** Absent, null or empty upstream = last page. */
  nextPageToken: string | undefined;
  totalSize: number | undefined;
}

const envelopeSchema = z.looseObject({
  items: z.array(z.unknown()),
  next_page_token: z.string().nullish(),
  total_size: z.number().nullish(),
});

/**
 * A 200 whose body is not a page is treated like a garbled response: retryable. So is a page with
 * more items than `maxItems` (the page_size asked for): the API did not do what was asked, and a
 * page of any size would otherwise be normalized and stored in one piece.
 */
export function parsePage(body: unknown, maxItems = Infinity): Page {
  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'body';
    throw new ApiError(
      `HTTP 200 with a body that is not a page (${where}: ${issue?.message ?? 'invalid'})`,
      'invalid-body',
      200,
      undefined,
      true,
    );
  }
  const { items, next_page_token: next, total_size: total } = parsed.data;
  if (items.length > maxItems) throw tooManyItems(maxItems);
  return { items, nextPageToken: next ? next : undefined, totalSize: total ?? undefined };
}

function tooManyItems(maxItems: number): ApiError {
  return new ApiError(`HTTP 200 with more items than the ${maxItems} asked for (page_size)`, 'invalid-body', 200, undefined, true);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ITEMS_KEY = Buffer.from('items');

/**
 * A body inspector for getJson that counts the elements of the top-level `items` array as the bytes
 * arrive and refuses the body as soon as there are more than `maxItems`, before it is buffered whole
 * and parsed (a 45 MB page parses into several hundred MB of objects). It only needs JSON's
 * structure: strings, escapes and nesting. UTF-8 multi-byte sequences never contain ASCII bytes, so
 * raw bytes are safe to scan. An `items` key spelled with escapes is not recognized here; parsePage
 * still counts after parsing, so this is an early exit, never the only check.
 */
export function itemLimit(maxItems: number): (chunk: Uint8Array) => void {
  let depth = 0;
  let topIsObject = false;
  let inString = false;
  let escaped = false;
  /** At depth 1 of the top-level object, the next string is a key. */
  let expectKey = false;
  let readingKey = false;
  let keyMatched = 0;
  let keyIsItems = false;
  /** After a top-level ':', before the first byte of its value. */
  let awaitingValue = false;
  let inItems = false;
  let expectElement = false;
  let count = 0;
  return (chunk) => {
    // A view, not a copy: Buffer's indexOf is a native byte search.
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const end = bytes.length;
    const find = (byte: number, from: number) => {
      const at = bytes.indexOf(byte, from);
      return at < 0 ? end : at;
    };
    let nextQuote = -1;
    let nextBackslash = -1;
    for (let i = 0; i < end; i++) {
      if (inString && !escaped && !readingKey) {
        // Most of a page is string content: jump to the next byte that can end or escape it.
        if (nextQuote < i) nextQuote = find(QUOTE, i);
        if (nextBackslash < i) nextBackslash = find(BACKSLASH, i);
        i = Math.min(nextQuote, nextBackslash);
        if (i === end) break;
      }
      const byte = bytes[i] as number;
      if (inString) {
        if (escaped) {
          escaped = false;
        } else if (byte === BACKSLASH) {
          escaped = true;
          keyMatched = -1;
        } else if (byte === QUOTE) {
          inString = false;
          if (readingKey) keyIsItems = keyMatched === ITEMS_KEY.length;
          readingKey = false;
        } else if (readingKey && keyMatched >= 0) {
          keyMatched = byte === ITEMS_KEY[keyMatched] ? keyMatched + 1 : -1;
        }
        continue;
      }
      // JSON whitespace: space, tab, line feed, carriage return.
      if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
      if (inItems && depth === 2 && expectElement && byte !== 0x5d) {
        expectElement = false;
        if (++count > maxItems) throw tooManyItems(maxItems);
      }
      if (awaitingValue) {
        awaitingValue = false;
        if (keyIsItems && byte === 0x5b) {
          inItems = true;
          expectElement = true;
          count = 0;
        }
      }
      switch (byte) {
        case QUOTE:
          inString = true;
          if (depth === 1 && topIsObject && expectKey) {
            expectKey = false;
            readingKey = true;
            keyMatched = 0;
          }
          break;
        case 0x7b: // {
          depth += 1;
          if (depth === 1) topIsObject = expectKey = true;
          break;
        case 0x5b: // [
          depth += 1;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          if (inItems && depth === 2) inItems = false;
          depth -= 1;
          break;
        case 0x2c: // ,
          if (depth === 1 && topIsObject) expectKey = true;
          if (inItems && depth === 2) expectElement = true;
          break;
        case 0x3a: // :
          if (depth === 1 && topIsObject) awaitingValue = true;
          break;
      }
    }
  };
}
