/**
 * Decoding an Opus stream's packets (from Ogg or WebM) into a PcmSink: libopus in WebAssembly at 48 kHz,
 * the header's pre-skip dropped by the decoder, the output gain applied, and the end trimmed to the
 * container's stated length (the encoder pads the last packet).
 */
import { InvalidInputError, UnsupportedFormatError } from '@mmfuse/core/base';
import { OPUS_RATE_HZ, opusPacketSamples } from './opus.js';
import type { OpusHead } from './opus.js';
import type { PcmSink } from './pcm-sink.js';
import { checkDecoded, createOpusDecoder, quietly, release } from './wasm-decoders.js';
import type { OpusDecoderLike } from './wasm-decoders.js';

export class OpusStream {
  private dec: OpusDecoderLike | undefined;
  /** Decoded samples past the pre-skip, before trimming. */
  private decoded = 0;
  private ended = false;

  private constructor(private readonly head: OpusHead, private readonly sink: PcmSink, private readonly totalSamples: number) {}

  /**
   * @param totalSamples 48 kHz samples the stream holds after the pre-skip (the container's length).
   */
  static async open(head: OpusHead, sink: PcmSink, totalSamples: number): Promise<OpusStream> {
    const s = new OpusStream(head, sink, totalSamples);
    s.dec = await createOpusDecoder({ channels: head.channels, streamCount: head.streamCount, coupledStreamCount: head.coupledStreamCount, channelMappingTable: head.channelMapping, preSkip: head.preSkip });
    return s;
  }

  /** Largest packet the decoder's input buffer takes (256 kb/s a channel for 120 ms). */
  private get maxPacketBytes(): number {
    return 32000 * 0.12 * this.head.channels;
  }

  /** Decode one packet; `last` when it is the stream's final packet (its end may be trimmed). */
  decode(packet: Uint8Array, where: string): void {
    const dec = this.dec as OpusDecoderLike;
    opusPacketSamples(packet, where);
    if (packet.length > this.maxPacketBytes) {
      throw new UnsupportedFormatError(`${where}: Opus packet of ${packet.length} bytes is over the ${this.maxPacketBytes} bytes (256 kb/s a channel) the decoder takes`);
    }
    if (this.ended) throw new InvalidInputError(`${where}: audio after the stream's stated end (${this.totalSamples} samples); the container's lengths are inconsistent`);
    const block = quietly('Opus', () => dec.decodeFrame(packet));
    checkDecoded('Opus', block, where);
    let n = block.samplesDecoded;
    const room = this.totalSamples - this.decoded;
    if (n >= room) {
      n = room;
      this.ended = true;
    }
    this.decoded += block.samplesDecoded;
    if (n <= 0) return;
    let channels = block.channelData;
    if (this.head.gain !== 1) channels = channels.map((c) => c.map((x) => x * this.head.gain));
    this.sink.push(channels, n);
  }

  /** Check the stream decoded to its stated length, and free the decoder. */
  finish(what: string): void {
    this.close();
    if (this.decoded < this.totalSamples) {
      throw new InvalidInputError(`truncated ${what}: the container states ${this.totalSamples} samples (${(this.totalSamples / OPUS_RATE_HZ).toFixed(2)} s) but the packets hold only ${this.decoded} (${(this.decoded / OPUS_RATE_HZ).toFixed(2)} s)`);
    }
  }

  close(): void {
    release(this.dec);
    this.dec = undefined;
  }
}
