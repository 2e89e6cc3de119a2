/**
 * Checks of a raw value against a plugin's raw-input declaration (`ModalityEncoder.input`), so that core,
 * fusion, the CLI, the server and the plugins themselves refuse an oversized or mistyped value the same
 * way, before any decoding, without naming a modality.
 */
import { statSync } from 'node:fs';
import { InvalidInputError, LimitExceededError, describeValue } from './errors.js';
import { resolveDataPath } from './paths.js';
import type { PrepareContext, RawInputSpec } from './types.js';

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB (${bytes} bytes)` : `${bytes} bytes`;
}

/**
 * Refuse `raw` when it is larger than `spec.maxBytes` (`LimitExceededError`) or of the wrong kind
 * (`InvalidInputError`), naming the sample and field of `ctx`. For `file` a string is a path: it is
 * resolved against `ctx.baseDir` (as `prepare` would) and its size read with `stat`, nothing else; a
 * missing file is left to `prepare`, which reports it in its own words. Values of other shapes a plugin
 * accepts from the library (e.g. decoded samples) pass unchecked.
 */
export function checkRawInput(raw: unknown, spec: RawInputSpec, ctx: Pick<PrepareContext, 'sample' | 'field' | 'baseDir' | 'allowOutsideBaseDir'>): void {
  const loc = { sample: ctx.sample, field: ctx.field };
  const limit = (size: number, what: string): void => {
    if (size > spec.maxBytes) {
      throw new LimitExceededError(`${what} is ${sizeText(size)}, over the limit of ${sizeText(spec.maxBytes)} (the encoder's maxBytes)`, { ...loc, details: { bytes: size, maxBytes: spec.maxBytes } });
    }
  };
  switch (spec.kind) {
    case 'file':
      if (raw instanceof Uint8Array) { limit(raw.byteLength, 'the file'); return; }
      if (typeof raw === 'string') {
        const file = ctx.baseDir !== undefined ? resolveDataPath(ctx.baseDir, raw, { ...loc, allowOutside: ctx.allowOutsideBaseDir ?? false }) : raw;
        let size: number | undefined;
        try {
          const st = statSync(file);
          if (st.isFile()) size = st.size;
        } catch {
          size = undefined;
        }
        if (size !== undefined) limit(size, `the file ${JSON.stringify(raw)}`);
      }
      return;
    case 'bytes':
      if (!(raw instanceof Uint8Array)) throw new InvalidInputError(`expected bytes (a Uint8Array, or base64 text in a manifest or request), got ${describeValue(raw)}`, loc);
      limit(raw.byteLength, 'the value');
      return;
    case 'text':
      if (typeof raw === 'string') limit(Buffer.byteLength(raw, 'utf8'), 'the text');
      return;
    case 'json': {
      if (raw === undefined) return;
      let text: string | undefined;
      try {
        text = JSON.stringify(raw);
      } catch {
        text = undefined;
      }
      if (text !== undefined) limit(Buffer.byteLength(text, 'utf8'), 'the JSON value');
      return;
    }
  }
}
