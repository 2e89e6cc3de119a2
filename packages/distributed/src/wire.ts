/**
 * Sample fields on the wire. Jobs travel as JSON, where a `Uint8Array` (a manifest's `bytes` field) would
 * turn into an object of numbered keys; these functions carry such values as base64 and restore them,
 * naming the fields that were bytes so a JSON value that merely looks like base64 is never converted.
 */

/** Fields of one sample as JSON: values as they were, except `bytes` fields, which are base64. */
export interface WireFields {
  fields: Record<string, unknown>;
  /** Names of the fields that were `Uint8Array`s. Absent when none. */
  bytes?: string[];
}

export function fieldsToWire(fields: Record<string, unknown>): WireFields {
  const out: Record<string, unknown> = {};
  const bytes: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Uint8Array) {
      out[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      bytes.push(k);
    } else {
      out[k] = v;
    }
  }
  return bytes.length > 0 ? { fields: out, bytes } : { fields: out };
}

export function fieldsFromWire(wire: WireFields): Record<string, unknown> {
  if (wire.bytes === undefined || wire.bytes.length === 0) return wire.fields;
  const out: Record<string, unknown> = { ...wire.fields };
  for (const k of wire.bytes) {
    const v = out[k];
    if (typeof v === 'string') out[k] = new Uint8Array(Buffer.from(v, 'base64'));
  }
  return out;
}
