/**
 * Shared by the examples: read an example's `config.json` (the model config plus a `data` section with
 * manifest paths relative to the config file) through `@mmfuse/fusion`'s `readConfigFile`, load manifests,
 * and format results.
 */
import { loadManifest } from '@mmfuse/core';
import type { FieldKind, ManifestSample } from '@mmfuse/core';
import { readConfigFile } from '@mmfuse/fusion';
import type { DataPaths } from '@mmfuse/fusion';

export interface ExampleConfig {
  /** The model config (`inputs`, `fusion`, `output`, `training`), ready for `normalizeConfig`. */
  model: Record<string, unknown>;
  /** Manifest paths from `data`, resolved against the config file's folder. */
  data: DataPaths;
}

/** Read an example's config with the library's one config reader (`readConfigFile`, as the CLI does). */
export async function readExampleConfig(file: string): Promise<ExampleConfig> {
  const { model, data } = await readConfigFile(file);
  return { model, data };
}

/**
 * A copy of a model config that keeps only the named inputs (for single-modality baselines trained with the
 * same budget as the fused model).
 */
export function onlyInputs(model: Record<string, unknown>, keep: string[]): Record<string, unknown> {
  const inputs = model.inputs as Record<string, unknown>;
  return { ...model, inputs: Object.fromEntries(Object.entries(inputs).filter(([k]) => keep.includes(k))) };
}

/** Load a manifest whose `path` fields are the given ones (relative to the manifest's folder). */
export async function loadSamples(file: string, pathFields: string[], label = 'label'): Promise<ManifestSample[]> {
  const fields: Record<string, FieldKind> = { [label]: 'label' };
  for (const f of pathFields) fields[f] = 'path';
  const { samples } = await loadManifest(file, { fields, required: [label] });
  return samples;
}

export function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
