/**
 * The WebAssembly codec libraries (mpg123, libFLAC, libvorbis, libopus from the wasm-audio-decoders
 * family), loaded on first use so WAV-only users never load them. Each decode gets its own decoder
 * instance (its own wasm memory), freed when the decode ends, whatever happened.
 *
 * The decoders print codec errors with console.error and return them in an `errors` list; mmfuse turns
 * them into typed errors instead, so `quietly` collects those prints for the duration of one synchronous
 * decoder call (nothing else runs in between) and puts them into the error.
 */
import { InvalidInputError, MmfuseError } from '@mmfuse/core/base';

export interface DecodedBlock {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string; frameNumber?: number; inputBytes?: number }[];
}

export interface MpegDecoderLike { ready: Promise<void>; free(): void; decode(data: Uint8Array): DecodedBlock }
export interface FlacDecoderLike { ready: Promise<void>; free(): void; decode(data: Uint8Array): Promise<DecodedBlock>; flush(): Promise<DecodedBlock> }
export interface VorbisDecoderLike { ready: Promise<void>; free(): void; decode(data: Uint8Array): Promise<DecodedBlock>; flush(): Promise<DecodedBlock> }
export interface OpusDecoderOptions { channels: number; streamCount: number; coupledStreamCount: number; channelMappingTable: number[]; preSkip: number }
export interface OpusDecoderLike { ready: Promise<void>; free(): void; decodeFrame(packet: Uint8Array): DecodedBlock }

export async function createMpegDecoder(): Promise<MpegDecoderLike> {
  const { MPEGDecoder } = await import('mpg123-decoder');
  return ready(new MPEGDecoder() as unknown as MpegDecoderLike, 'mpg123-decoder');
}

export async function createFlacDecoder(): Promise<FlacDecoderLike> {
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  return ready(new FLACDecoder() as unknown as FlacDecoderLike, '@wasm-audio-decoders/flac');
}

export async function createVorbisDecoder(): Promise<VorbisDecoderLike> {
  const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
  return ready(new OggVorbisDecoder() as unknown as VorbisDecoderLike, '@wasm-audio-decoders/ogg-vorbis');
}

export async function createOpusDecoder(options: OpusDecoderOptions): Promise<OpusDecoderLike> {
  const { OpusDecoder } = await import('opus-decoder');
  // The constructor validates the channel layout and throws plain Errors.
  const dec = quietly('Opus', () => new OpusDecoder(options as never) as unknown as OpusDecoderLike);
  return ready(dec, 'opus-decoder');
}

async function ready<T extends { ready: Promise<void> }>(dec: T, pkg: string): Promise<T> {
  try {
    await dec.ready;
  } catch (err) {
    throw new MmfuseError('INTERNAL', `the ${pkg} WebAssembly decoder failed to start: ${(err as Error).message}`, { cause: err });
  }
  return dec;
}

/** Free a decoder, ignoring a failure to free (the instance is garbage either way). */
export function release(dec: { free(): void | Promise<void> } | undefined): void {
  if (dec === undefined) return;
  try {
    void dec.free();
  } catch {
    // A decoder that failed half-way may have nothing left to free; its wasm memory goes with the object.
  }
}

/**
 * Run one synchronous decoder call with console.error captured; a thrown decoder error (a wasm trap, an
 * out-of-bounds copy) becomes an InvalidInputError about the `codec` data.
 */
export function quietly<T>(codec: string, fn: () => T, printed: string[] = []): T {
  const original = console.error;
  console.error = (...args: unknown[]) => { printed.push(args.map(String).join(' ')); };
  try {
    return fn();
  } catch (err) {
    if (err instanceof MmfuseError) throw err;
    throw new InvalidInputError(`the ${codec} decoder failed on this data (${(err as Error)?.message ?? String(err)}); the file is corrupt or not ${codec}`, { cause: err, details: printed.length > 0 ? { decoderMessages: printed.slice(0, 5) } : undefined });
  } finally {
    console.error = original;
  }
}

/** `quietly` for a decoder method that does its work synchronously but returns a promise. */
export async function quietlyAsync<T>(codec: string, fn: () => Promise<T>): Promise<T> {
  const printed: string[] = [];
  const pending = quietly(codec, fn, printed);
  try {
    return await pending;
  } catch (err) {
    if (err instanceof MmfuseError) throw err;
    throw new InvalidInputError(`the ${codec} decoder failed on this data (${(err as Error)?.message ?? String(err)}); the file is corrupt or not ${codec}`, { cause: err, details: printed.length > 0 ? { decoderMessages: printed.slice(0, 5) } : undefined });
  }
}

/** Throw an InvalidInputError when a decoded block reports codec errors. */
export function checkDecoded(codec: string, block: DecodedBlock, where: string): void {
  const first = block.errors[0];
  if (first === undefined) return;
  throw new InvalidInputError(`the ${codec} data is corrupt ${where}: ${first.message}${block.errors.length > 1 ? ` (and ${block.errors.length - 1} more errors)` : ''}`, { details: { decoderErrors: block.errors.slice(0, 5).map((e) => e.message) } });
}
