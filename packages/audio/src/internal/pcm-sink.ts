/**
 * Where compressed-audio decoders put their output: decoded blocks (planar float channels at the stream's
 * rate) go straight into the downmix and the streaming resampler, with the duration limit checked on every
 * block, so a long file never exists whole at its own rate.
 *
 * Compressed containers rarely state their exact length up front, but most give a bound (FLAC STREAMINFO,
 * the last Ogg granule position, the frames of an MP3 or a WebM walked before decoding). With a bound the
 * outputs are preallocated and the streaming resampler runs as for WAV; the real length may be shorter
 * (outputs past it are cut; their inputs past the end are zeros in both cases, so the kept outputs equal
 * those of resampling exactly the decoded samples). Without a bound the downmixed blocks are kept at the
 * source rate and resampled at the end.
 */
import { InvalidInputError, LimitExceededError } from '@mmfuse/core/base';
import { StreamingResampler, resampledLength } from './resampler.js';

export interface PcmSinkOptions {
  /** Rate of the decoded blocks. */
  sourceRateHz: number;
  /** Channels of the decoded blocks. */
  sourceChannels: number;
  /** Output rate. */
  targetRateHz: number;
  /** Average the channels into one. */
  mono: boolean;
  /** Refuse more than this many seconds (LimitExceededError as soon as a block crosses it). */
  maxDurationSeconds: number;
  /**
   * Most frames the stream can hold, when the container tells (the decoded length may be shorter).
   * Pushing past it is an InvalidInputError naming `boundSource`.
   */
  boundFrames?: number;
  /** What gave the bound, for the error message (e.g. "the FLAC STREAMINFO block"). */
  boundSource?: string;
  /**
   * How much of the bound may be codec padding that decodes to nothing (an MP3's encoder delay and last
   * frame's padding): the early duration check uses bound - slack, the exact check runs on decoded frames.
   */
  boundSlackFrames?: number;
  /**
   * Preallocate for the bound only when it is at most this (a header can claim any length; the file's
   * size caps what it can really hold). A larger bound is still enforced, just not trusted with memory.
   */
  maxPreallocFrames?: number;
}

/**
 * Refuse a stream whose container states a duration over the limit, before decoding it.
 * @param source What states it, for the message (e.g. "FLAC STREAMINFO").
 */
export function checkDeclaredDuration(seconds: number, maxDurationSeconds: number, source: string): void {
  if (!(seconds > maxDurationSeconds)) return;
  throw new LimitExceededError(`the audio lasts ${seconds.toFixed(2)} s (${source}), over the limit of ${maxDurationSeconds} s; trim it or raise maxDurationSeconds`, { details: { durationSeconds: seconds, maxDurationSeconds } });
}

/** Append-only float storage in fixed-size chunks (no doubling copies); joined once at the end. */
class ChunkedFloats {
  private readonly chunks: Float32Array[] = [];
  private last = new Float32Array(0);
  private used = 0;
  length = 0;
  push(x: Float32Array): void {
    let at = 0;
    while (at < x.length) {
      if (this.used === this.last.length) {
        this.last = new Float32Array(1 << 18);
        this.chunks.push(this.last);
        this.used = 0;
      }
      const n = Math.min(x.length - at, this.last.length - this.used);
      this.last.set(x.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
    }
    this.length += x.length;
  }
  /** Hand each stored run to `fn` in order, releasing chunks as they are consumed. */
  drain(fn: (x: Float32Array) => void): void {
    let left = this.length;
    while (this.chunks.length > 0) {
      const c = this.chunks.shift() as Float32Array;
      fn(c.subarray(0, Math.min(c.length, left)));
      left -= c.length;
    }
  }
}

export class PcmSink {
  private readonly outChannels: number;
  private readonly resampling: boolean;
  private readonly maxFrames: number;
  private frames = 0;
  /** With a bound: preallocated outputs (no resampling) or resamplers. */
  private readonly direct: Float32Array[] = [];
  private readonly resamplers: StreamingResampler[] = [];
  /** Without a bound: the downmixed channels at the source rate. */
  private readonly pending: ChunkedFloats[] = [];
  private mix: Float32Array = new Float32Array(0);
  /** The bound the outputs were preallocated for (undefined: kept at the source rate, resampled at the end). */
  private readonly prealloc: number | undefined;

  constructor(private readonly o: PcmSinkOptions) {
    this.outChannels = o.mono ? 1 : o.sourceChannels;
    this.resampling = o.targetRateHz !== o.sourceRateHz;
    this.maxFrames = Number.isFinite(o.maxDurationSeconds) ? Math.floor(o.maxDurationSeconds * o.sourceRateHz) : Number.POSITIVE_INFINITY;
    if (o.boundFrames !== undefined) this.checkLimit(Math.max(0, o.boundFrames - (o.boundSlackFrames ?? 0)), true);
    const bound = o.boundFrames !== undefined && o.boundFrames <= (o.maxPreallocFrames ?? Number.POSITIVE_INFINITY) ? o.boundFrames : undefined;
    this.prealloc = bound;
    if (bound !== undefined) {
      for (let c = 0; c < this.outChannels; c++) {
        if (this.resampling) this.resamplers.push(new StreamingResampler(o.sourceRateHz, o.targetRateHz, bound));
        else this.direct.push(new Float32Array(bound));
      }
    } else {
      for (let c = 0; c < this.outChannels; c++) this.pending.push(new ChunkedFloats());
    }
  }

  /** Channels each pushed block must have. */
  get channelsIn(): number {
    return this.o.sourceChannels;
  }

  /** Frames pushed so far. */
  get framesPushed(): number {
    return this.frames;
  }

  private checkLimit(frames: number, declared: boolean): void {
    if (frames <= this.maxFrames) return;
    const seconds = frames / this.o.sourceRateHz;
    const max = this.o.maxDurationSeconds;
    if (declared) checkDeclaredDuration(seconds, max, this.o.boundSource ?? 'its header');
    throw new LimitExceededError(`the audio lasts more than ${max} s (the limit; decoding stopped at ${seconds.toFixed(2)} s); trim it or raise maxDurationSeconds`, { details: { maxDurationSeconds: max } });
  }

  /** Append `frames` frames of planar channels (each at least `frames` long). */
  push(channels: readonly Float32Array[], frames: number): void {
    if (frames === 0) return;
    if (channels.length !== this.o.sourceChannels) {
      throw new InvalidInputError(`the decoder produced ${channels.length} channel(s) where the stream declares ${this.o.sourceChannels}; the file is corrupt`);
    }
    const total = this.frames + frames;
    this.checkLimit(total, false);
    const bound = this.o.boundFrames;
    if (bound !== undefined && total > bound) {
      throw new InvalidInputError(`the stream decodes to more than the ${bound} frames ${this.o.boundSource ?? 'its header'} declares; the file is corrupt`);
    }
    for (let i = 0; i < channels.length; i++) {
      const ch = channels[i] as Float32Array;
      for (let k = 0; k < frames; k++) {
        const v = ch[k] as number;
        if (!Number.isFinite(v)) throw new InvalidInputError(`the decoder produced a non-finite sample (${v}) in channel ${i} at ${((this.frames + k) / this.o.sourceRateHz).toFixed(3)} s; the file is corrupt`);
      }
    }
    const blocks: Float32Array[] = [];
    if (this.o.mono) {
      if (this.mix.length < frames) this.mix = new Float32Array(frames);
      const m = this.mix.subarray(0, frames);
      if (channels.length === 1) m.set((channels[0] as Float32Array).subarray(0, frames));
      else {
        m.fill(0);
        for (const ch of channels) for (let k = 0; k < frames; k++) (m[k] as number) += ch[k] as number;
        const inv = 1 / channels.length;
        for (let k = 0; k < frames; k++) m[k] = (m[k] as number) * inv;
      }
      blocks.push(m);
    } else {
      for (let c = 0; c < this.outChannels; c++) blocks.push((channels[c] as Float32Array).subarray(0, frames));
    }
    for (let c = 0; c < this.outChannels; c++) {
      const b = blocks[c] as Float32Array;
      if (this.prealloc === undefined) (this.pending[c] as ChunkedFloats).push(b);
      else if (this.resampling) (this.resamplers[c] as StreamingResampler).push(b);
      else (this.direct[c] as Float32Array).set(b, this.frames);
    }
    this.frames = total;
  }

  /** The output channels at the target rate. */
  finish(): Float32Array[] {
    const { sourceRateHz: from, targetRateHz: to } = this.o;
    const frames = this.frames;
    if (this.prealloc === undefined) {
      return this.pending.map((p) => {
        if (!this.resampling) {
          const out = new Float32Array(frames);
          let at = 0;
          p.drain((x) => { out.set(x, at); at += x.length; });
          return out;
        }
        const r = new StreamingResampler(from, to, frames);
        p.drain((x) => r.push(x));
        return r.finish();
      });
    }
    const length = this.resampling ? resampledLength(frames, from, to) : frames;
    const full = this.resampling ? this.resamplers.map((r) => r.finish()) : this.direct;
    // A view when little is cut (no second copy of a long output), a copy otherwise.
    return full.map((x) => (x.length - length <= 65536 ? x.subarray(0, length) : x.slice(0, length)));
  }
}
