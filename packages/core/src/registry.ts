import { ConfigError, isMmfuseError } from './errors.js';
import { processGlobal } from './internal/global-state.js';
import { parseOptions } from './options.js';
import type { OptionsLocation, OptionsSchema } from './options.js';
import { RAW_INPUT_KINDS } from './types.js';
import type { EncoderFactory, EncoderRegistration, JsonObject, ModalityEncoder, RawInputSpec } from './types.js';

const KIND_PATTERN = /^[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*$/;

/** Refuse a malformed raw-input declaration (a plugin bug, reported when the plugin registers or is built). */
export function checkRawInputSpec(spec: unknown, where: string): RawInputSpec {
  const s = spec as Partial<RawInputSpec> | null;
  if (s === null || typeof s !== 'object') throw new ConfigError(`${where}: input must be { kind, maxBytes }, got ${JSON.stringify(spec)}`);
  if (!(RAW_INPUT_KINDS as readonly unknown[]).includes(s.kind)) {
    throw new ConfigError(`${where}: input.kind must be one of ${RAW_INPUT_KINDS.join(', ')}, got ${JSON.stringify(s.kind)}`);
  }
  if (typeof s.maxBytes !== 'number' || !Number.isInteger(s.maxBytes) || s.maxBytes < 1) {
    throw new ConfigError(`${where}: input.maxBytes must be a positive integer, got ${JSON.stringify(s.maxBytes)}`);
  }
  if (s.mediaTypes !== undefined && (!Array.isArray(s.mediaTypes) || !s.mediaTypes.every((m) => typeof m === 'string'))) {
    throw new ConfigError(`${where}: input.mediaTypes must be a list of strings`);
  }
  return s as RawInputSpec;
}

/**
 * Maps static names such as `text/rnn` to plugin registrations. Keyed by name, never by `constructor.name`
 * (which minifiers rename). Registering a taken name is refused.
 *
 * A registration may declare its options schema (`options`): `create` then checks the config against it
 * (unknown keys refused with "did you mean", defaults filled in) before the factory sees it, and
 * `@mmfuse/fusion` builds the config's JSON Schema from the registered schemas.
 */
export class EncoderRegistry {
  /** @param entries the map to keep registrations in (the process-wide one for `encoders`). */
  constructor(private readonly entries: Map<string, EncoderRegistration<any>> = new Map()) {}

  /** Register a plugin. Throws `ConfigError` if `kind` is malformed or already taken, or a declaration is malformed. */
  register<TOptions>(registration: EncoderRegistration<TOptions>): void {
    const { kind } = registration;
    if (typeof kind !== 'string' || !KIND_PATTERN.test(kind)) {
      throw new ConfigError(`encoder kind ${JSON.stringify(kind)} must look like "modality/name" (lowercase, e.g. "tabular/mlp")`);
    }
    if (typeof registration.factory !== 'function') {
      throw new ConfigError(`encoder kind "${kind}": factory must be a function`);
    }
    if (typeof registration.modality !== 'string' || !/^[a-z][a-z0-9-]*$/.test(registration.modality)) {
      throw new ConfigError(`encoder kind "${kind}": modality must be a lowercase name such as "tabular", got ${JSON.stringify(registration.modality)}`);
    }
    if (registration.options !== undefined && typeof (registration.options as { safeParse?: unknown }).safeParse !== 'function') {
      throw new ConfigError(`encoder kind "${kind}": options must be a zod schema (use the \`z\` exported by @mmfuse/core)`);
    }
    if (registration.input !== undefined) checkRawInputSpec(registration.input, `encoder kind "${kind}"`);
    if (this.entries.has(kind)) {
      throw new ConfigError(`encoder kind "${kind}" is already registered; pick another name or unregister it first`);
    }
    this.entries.set(kind, { ...registration });
  }

  /** Remove a registration (for tests and hot reload). Returns whether it existed. */
  unregister(kind: string): boolean {
    return this.entries.delete(kind);
  }

  has(kind: string): boolean {
    return this.entries.has(kind);
  }

  get(kind: string): EncoderRegistration<any> {
    const entry = this.entries.get(kind);
    if (entry === undefined) {
      const known = [...this.entries.keys()].sort().join(', ') || '(none)';
      throw new ConfigError(`unknown encoder kind "${kind}"; registered: ${known}. Import the plugin package (e.g. @mmfuse/audio) so it registers itself`);
    }
    return entry;
  }

  /**
   * Check `config` against the plugin's declared options schema (when it declares one) and return the
   * parsed options, defaults filled in. `location.path` prefixes the key paths of errors.
   */
  parseConfig(kind: string, config: unknown, location: OptionsLocation = {}): JsonObject {
    const entry = this.get(kind);
    if (entry.options === undefined) {
      if (config === null || typeof config !== 'object' || Array.isArray(config)) {
        throw new ConfigError(`must be an object, got ${JSON.stringify(config)}`, location.path !== undefined ? { path: location.path } : {});
      }
      return config as JsonObject;
    }
    return parseOptions(entry.options as OptionsSchema, config, location) as JsonObject;
  }

  /** Build a plugin from its kind and config (checked against its options schema first). */
  create(kind: string, config: JsonObject = {}): ModalityEncoder {
    const entry = this.get(kind);
    const options = this.parseConfig(kind, config);
    let encoder: ModalityEncoder;
    try {
      encoder = entry.factory(options);
    } catch (err) {
      if (isMmfuseError(err)) throw err;
      throw new ConfigError(`encoder ${kind} rejected its config: ${(err as Error).message}`, { cause: err });
    }
    if (encoder.kind !== kind) {
      throw new ConfigError(`factory for "${kind}" built a plugin whose kind is "${encoder.kind}"`);
    }
    if (encoder.input !== undefined) checkRawInputSpec(encoder.input, `encoder "${kind}"`);
    return encoder;
  }

  /** The raw-input declaration a plugin registered (what its value is before `prepare`), if any. */
  rawInput(kind: string): RawInputSpec | undefined {
    return this.get(kind).input;
  }

  /** Registered kinds, sorted. */
  kinds(): string[] {
    return [...this.entries.keys()].sort();
  }

  list(): EncoderRegistration<any>[] {
    return this.kinds().map((k) => this.entries.get(k) as EncoderRegistration<any>);
  }
}

/**
 * The process-wide registry that the plugin packages register into. Its entries live in one map on
 * `globalThis` (see `processGlobal`), so a plugin loaded through `require` (the CJS build) registers
 * where an ESM `import` of @mmfuse/core looks, and duplicate installs share it too.
 */
export const encoders = new EncoderRegistry(processGlobal('encoder-registry', 1, () => new Map<string, EncoderRegistration<any>>()));

/**
 * Register into the process-wide registry:
 * `registerEncoder({ kind, modality, options, input, factory, description })`. The older positional form
 * `registerEncoder(kind, modality, factory, description?)` still works (no options schema).
 */
export function registerEncoder<TOptions>(registration: EncoderRegistration<TOptions>): void;
export function registerEncoder(kind: string, modality: string, factory: EncoderFactory, description?: string): void;
export function registerEncoder(first: string | EncoderRegistration<any>, modality?: string, factory?: EncoderFactory, description?: string): void {
  encoders.register(toRegistration(first, modality, factory, description));
}

/** Register only if the name is free; returns false when it was already taken (idempotent module loads). */
export function registerEncoderOnce<TOptions>(registration: EncoderRegistration<TOptions>): boolean;
export function registerEncoderOnce(kind: string, modality: string, factory: EncoderFactory, description?: string): boolean;
export function registerEncoderOnce(first: string | EncoderRegistration<any>, modality?: string, factory?: EncoderFactory, description?: string): boolean {
  const registration = toRegistration(first, modality, factory, description);
  if (encoders.has(registration.kind)) return false;
  encoders.register(registration);
  return true;
}

function toRegistration(first: string | EncoderRegistration<any>, modality?: string, factory?: EncoderFactory, description?: string): EncoderRegistration<any> {
  if (typeof first !== 'string') return first;
  const reg: EncoderRegistration<any> = { kind: first, modality: modality as string, factory: factory as EncoderFactory };
  if (description !== undefined) reg.description = description;
  return reg;
}
