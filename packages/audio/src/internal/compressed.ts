/** Types shared by the compressed-audio readers (MP3, FLAC, Ogg, WebM) and `decodeAudio`. */

/** How the audio inside a container is coded. */
export type AudioCodec = 'pcm' | 'float' | 'alaw' | 'mulaw' | 'mp1' | 'mp2' | 'mp3' | 'flac' | 'vorbis' | 'opus';

/** Options every reader gets, already checked. */
export interface ReaderOptions {
  mono: boolean;
  /** Output rate; undefined keeps the stream's rate. */
  targetRateHz: number | undefined;
  /** Infinity when there is no limit. */
  maxDurationSeconds: number;
}

/** What a reader returns. */
export interface ReaderResult {
  channels: Float32Array[];
  sampleRateHz: number;
  sourceSampleRateHz: number;
  sourceChannels: number;
  durationSeconds: number;
  codec: AudioCodec;
  /** Bits per sample of lossless sources (FLAC); undefined for lossy codecs. */
  bitsPerSample?: number;
}
