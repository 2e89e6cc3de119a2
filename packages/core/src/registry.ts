import { ConfigError } from './errors.js';
import type { EncoderFactory, EncoderRegistration, JsonObject, ModalityEncoder } from './types.js';

const KIND_PATTERN = /^[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*$/;

/**
 * Maps static names such as `text/rnn` to plugin factories. Keyed by name, never by `constructor.name`
 * (which minifiers rename). Registering a taken name is refused.
 */
export class EncoderRegistry {
  private readonly entries = new Map<string, EncoderRegistration>();

  /** Register a plugin. Throws `ConfigError` if `kind` is malformed or already taken. */
  register(registration: EncoderRegistration): void {
    const { kind } = registration;
    if (!KIND_PATTERN.test(kind)) {
      throw new ConfigError(`encoder kind ${JSON.stringify(kind)} must look like "modality/name" (lowercase, e.g. "tabular/mlp")`);
    }
    if (typeof registration.factory !== 'function') {
      throw new ConfigError(`encoder kind "${kind}": factory must be a function`);
    }
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

  get(kind: string): EncoderRegistration {
    const entry = this.entries.get(kind);
    if (entry === undefined) {
      const known = [...this.entries.keys()].sort().join(', ') || '(none)';
      throw new ConfigError(`unknown encoder kind "${kind}"; registered: ${known}. Import the plugin package (e.g. @mmfuse/audio) so it registers itself`);
    }
    return entry;
  }

  /** Build a plugin from its kind and config. */
  create(kind: string, config: JsonObject = {}): ModalityEncoder {
    const entry = this.get(kind);
    const encoder = entry.factory(config);
    if (encoder.kind !== kind) {
      throw new ConfigError(`factory for "${kind}" built a plugin whose kind is "${encoder.kind}"`);
    }
    return encoder;
  }

  /** Registered kinds, sorted. */
  kinds(): string[] {
    return [...this.entries.keys()].sort();
  }

  list(): EncoderRegistration[] {
    return this.kinds().map((k) => this.entries.get(k) as EncoderRegistration);
  }
}

/** The process-wide registry that the plugin packages register into. */
export const encoders = new EncoderRegistry();

/** Register into the process-wide registry. */
export function registerEncoder(kind: string, modality: string, factory: EncoderFactory, description?: string): void {
  encoders.register(description === undefined ? { kind, modality, factory } : { kind, modality, factory, description });
}

/** Register only if the name is free; returns false when it was already taken (idempotent module loads). */
export function registerEncoderOnce(kind: string, modality: string, factory: EncoderFactory, description?: string): boolean {
  if (encoders.has(kind)) return false;
  registerEncoder(kind, modality, factory, description);
  return true;
}
