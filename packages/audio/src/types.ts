/**
 * Shared data types of @mmfuse/audio.
 */

/**
 * A time-frequency matrix stored frame by frame: `data[t * bins + b]` is bin `b` of frame `t`.
 * (torchaudio's transforms return `[bins, frames]`; this layout is its transpose, which is what the
 * encoder consumes: a time sequence of feature vectors.)
 */
export interface FeatureMatrix {
  /** `[frames, bins]`, row-major (frame by frame). */
  data: Float32Array;
  /** Number of frames (time steps). */
  frames: number;
  /** Values per frame (frequency bins, mel bins or coefficients). */
  bins: number;
}

/** Mel scale formulas (torchaudio's `mel_scale`). */
export type MelScale = 'htk' | 'slaney';

/** Mel filter normalization (torchaudio's `norm`): `'slaney'` divides each triangle by its width in Hz. */
export type MelNorm = 'slaney' | null;

/** How `spectrogram` pads a centred signal (torchaudio's `pad_mode`). */
export type PadMode = 'reflect' | 'constant' | 'replicate' | 'circular';

/** Mono samples, any precision. */
export type Samples = Float32Array | Float64Array;
