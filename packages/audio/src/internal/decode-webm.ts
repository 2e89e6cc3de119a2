/**
 * WebM/Matroska reader for an Opus audio track (what browsers' MediaRecorder writes). A first walk reads
 * the structure and every block's TOC byte without decoding, which gives the exact length (packet
 * durations, less the pre-skip and the last block's DiscardPadding) and refuses over-long files early;
 * the second walk decodes the track's frames with libopus (WebAssembly).
 */
import { InvalidInputError, LimitExceededError, UnsupportedFormatError } from '@mmfuse/core/base';
import type { ByteSource } from './byte-source.js';
import type { ReaderOptions, ReaderResult } from './compressed.js';
import { walkWebm } from './ebml.js';
import type { WebmTrack } from './ebml.js';
import { OPUS_RATE_HZ, opusPacketSamples, parseOpusHead } from './opus.js';
import type { OpusHead } from './opus.js';
import { OpusStream } from './opus-stream.js';
import { PcmSink, checkDeclaredDuration } from './pcm-sink.js';
import { ReadWindow } from './read-window.js';

function chooseTrack(tracks: WebmTrack[]): { track: WebmTrack; head: OpusHead } {
  const audio = tracks.filter((t) => t.type === 2);
  const track = audio[0];
  if (track === undefined) throw new UnsupportedFormatError(`the WebM file has no audio track (${tracks.length} track(s): ${tracks.map((t) => t.codecId || '?').join(', ') || 'none'})`);
  if (track.codecId !== 'A_OPUS') throw new UnsupportedFormatError(`WebM audio codec ${JSON.stringify(track.codecId)} is not supported (Opus, "A_OPUS", only); convert it to Opus, or to WAV, MP3, FLAC or Ogg`);
  if (track.encoded) throw new UnsupportedFormatError('the WebM audio track is compressed or encrypted (ContentEncodings), which is not supported');
  if (track.codecPrivate === undefined) throw new InvalidInputError('corrupt WebM: the Opus track has no CodecPrivate (OpusHead) header');
  return { track, head: parseOpusHead(track.codecPrivate, 'WebM Opus track') };
}

export async function decodeWebm(src: ByteSource, opts: ReaderOptions): Promise<ReaderResult> {
  const win = new ReadWindow(src);
  const max = opts.maxDurationSeconds;
  // Pass 1: layout and length.
  let chosen: { track: WebmTrack; head: OpusHead } | undefined;
  let samples = 0;
  let lastDiscard = 0;
  walkWebm(win, {
    tracks(tracks, info) {
      chosen = chooseTrack(tracks);
      if (info.durationSeconds !== undefined) checkDeclaredDuration(info.durationSeconds, max, 'the WebM Info duration');
    },
    block(track, frames, discardNs, where) {
      const c = chosen as { track: WebmTrack; head: OpusHead };
      if (track !== c.track.number) return;
      for (const f of frames) samples += opusPacketSamples(f, `WebM ${where}`);
      lastDiscard = discardNs;
      // Stop walking a file that is already over the limit.
      if ((samples - c.head.preSkip) / OPUS_RATE_HZ > max) {
        throw new LimitExceededError(`the audio lasts more than ${max} s (the limit; found at ${where}); trim it or raise maxDurationSeconds`, { details: { maxDurationSeconds: max } });
      }
    },
  });
  const { track, head } = chosen as { track: WebmTrack; head: OpusHead };
  if (lastDiscard < 0) throw new InvalidInputError(`corrupt WebM: negative DiscardPadding (${lastDiscard} ns) on the last block`);
  const total = samples - head.preSkip - Math.round((lastDiscard * OPUS_RATE_HZ) / 1e9);
  if (total <= 0) throw new InvalidInputError(`the WebM Opus track holds no audio (${samples} samples, pre-skip ${head.preSkip})`);
  checkDeclaredDuration(total / OPUS_RATE_HZ, max, 'the WebM Opus packets');
  // Pass 2: decode.
  const sink = new PcmSink({ sourceRateHz: OPUS_RATE_HZ, sourceChannels: head.channels, targetRateHz: opts.targetRateHz ?? OPUS_RATE_HZ, mono: opts.mono, maxDurationSeconds: max, boundFrames: total, boundSource: 'the WebM Opus packets' });
  const stream = await OpusStream.open(head, sink, total);
  try {
    walkWebm(win, {
      tracks() {},
      block(number, frames, _discard, where) {
        if (number !== track.number) return;
        frames.forEach((f, i) => stream.decode(f, `WebM ${where}${frames.length > 1 ? ` frame ${i}` : ''}`));
      },
    });
    stream.finish('WebM Opus');
  } finally {
    stream.close();
  }
  return { channels: sink.finish(), sampleRateHz: opts.targetRateHz ?? OPUS_RATE_HZ, sourceSampleRateHz: OPUS_RATE_HZ, sourceChannels: head.channels, durationSeconds: total / OPUS_RATE_HZ, codec: 'opus' };
}
