/**
 * Turns any stored or returned value into something JSON can carry, for the HTTP gateway
 * and the CLI: bigints become strings (exact), Maps objects, Sets arrays, byte arrays
 * `{"$bytes": base64}`, Dates ISO strings. The mapping is lossy by nature, which is why
 * the SDK speaks CBOR and only the text interfaces use this.
 */

export function toJsonValue(value: unknown, seen = new Set<object>()): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return null;
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (value instanceof Date) return value.toISOString();
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return { $bytes: Buffer.from(bytes).toString('base64') };
    }
    if (Array.isArray(value)) return value.map((v) => toJsonValue(v, seen));
    if (value instanceof Set) return [...value].map((v) => toJsonValue(v, seen));
    if (value instanceof Map) {
      return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v, seen)]));
    }
    if (value instanceof Error) return { name: value.name, message: value.message };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

export function toJsonText(value: unknown, indent?: number): string {
  return JSON.stringify(toJsonValue(value), null, indent);
}
