/** The contracts of the prediction server: the model behind it and what it answers. */
import type { Outcome, RawInputSpec } from '@mmfuse/core';

/** One input field of the model behind the server. */
export interface PredictorField {
  /** Modality type, shown by `/healthz`. */
  modality: string;
  /**
   * What the raw value is, from the encoder: `text` arrives as a string, `json` as the JSON value sent,
   * `file` and `bytes` as bytes (`Buffer`: base64 in JSON, a part in multipart), each held to `maxBytes`.
   */
  input: RawInputSpec;
}

/** One sample to predict: field name → value (strings for text, `Buffer`s for files and bytes, JSON as sent). */
export interface PredictRequest {
  /** Sample name for error messages: the request's `id`, or `request-N`. */
  id: string;
  fields: Record<string, unknown>;
}

/** What a prediction answers; serialized as JSON as it is. */
export interface PredictResponse {
  label: unknown;
  probabilities?: Record<string, number> | number[];
  contributions?: Record<string, number>;
  modalitiesUsed?: string[];
  [key: string]: unknown;
}

/**
 * The model behind the server. The server only needs the input fields and a batch call, so it can be
 * tested with a fake and run with `FusionModel`.
 */
export interface Predictor {
  /** Input field → its modality and raw-input declaration. */
  readonly fields: Readonly<Record<string, PredictorField>>;
  /**
   * Predict a batch. Returns one outcome per request, in order; a refused request carries the typed error
   * that refused it (answered with the error's own JSON and the status of its code), the others are answered.
   */
  predictBatch(requests: PredictRequest[]): Promise<Outcome<PredictResponse>[]>;
  /** Shown by `/healthz` (labels, engine, ...). */
  describe?(): Record<string, unknown>;
}
