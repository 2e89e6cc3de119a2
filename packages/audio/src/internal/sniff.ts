/**
 * Container detection by magic bytes (never by file extension: uploads and manifests lie about names).
 */
import { InvalidInputError, UnsupportedFormatError } from '@mmfuse/core/base';
import { parseMpegHeader } from './mpeg-header.js';

/** Containers `decodeAudio` reads. */
export type AudioContainer = 'wav' | 'mp3' | 'flac' | 'ogg' | 'webm';

/** Bytes `sniffAudioContainer` needs from the start of a file. */
export const SNIFF_BYTES = 16;

function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, Math.min(to, bytes.length)));
}

/** Formats people send that are not decoded here, recognised so the error names them. */
function knownUnsupported(head: Uint8Array): string | undefined {
  const four = ascii(head, 0, 4);
  if (ascii(head, 4, 8) === 'ftyp') return 'MP4/M4A (AAC or ALAC in an MPEG-4 container)';
  if (four === 'FORM' && /^AIF[FC]$/.test(ascii(head, 8, 12))) return 'AIFF';
  if (ascii(head, 0, 5) === '#!AMR') return 'AMR';
  if (four === 'caff') return 'Core Audio Format (CAF)';
  if (four === '.snd') return 'Sun/NeXT AU';
  if (four === 'MAC ') return "Monkey's Audio (APE)";
  if (four === 'wvpk') return 'WavPack';
  if (four === 'MThd') return 'MIDI';
  if (four === 'RF64' || four === 'BW64') return 'RF64/BW64 (64-bit WAV)';
  if (head[0] === 0xff && ((head[1] ?? 0) & 0xf6) === 0xf0) return 'AAC (ADTS stream)';
  if (head[0] === 0x30 && head[1] === 0x26 && head[2] === 0xb2 && head[3] === 0x75) return 'ASF/WMA';
  return undefined;
}

function describeBytes(head: Uint8Array): string {
  const hex = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = ascii(head, 0, 4).replace(/[^\x20-\x7e]/g, '.');
  return `bytes ${hex} (${JSON.stringify(text)})`;
}

/**
 * The container of the bytes that start a file.
 * @throws InvalidInputError for empty or unrecognised data; UnsupportedFormatError for a recognised
 *   format that is not decoded here (MP4/AAC, AIFF, ...).
 */
export function sniffAudioContainer(head: Uint8Array): AudioContainer {
  if (head.length === 0) throw new InvalidInputError('the audio data is empty (0 bytes)');
  const four = ascii(head, 0, 4);
  // RIFF/RIFX files that are not WAVE (AVI, WebP) are left to the WAV decoder, whose error names the form.
  if (four === 'RIFF' || four === 'RIFX') return 'wav';
  if (four === 'fLaC') return 'flac';
  if (four === 'OggS') return 'ogg';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'webm';
  if (ascii(head, 0, 3) === 'ID3') return 'mp3';
  if (head.length >= 4 && parseMpegHeader(head, 0) !== undefined) return 'mp3';
  const other = knownUnsupported(head);
  if (other !== undefined) throw new UnsupportedFormatError(`the audio is ${other}, which is not supported; convert it to WAV, MP3, FLAC, Ogg (Vorbis or Opus) or WebM (Opus)`);
  throw new InvalidInputError(`not an audio file mmfuse reads (WAV, MP3, FLAC, Ogg Vorbis/Opus, WebM Opus): it starts with ${describeBytes(head)}`);
}

/**
 * Media types of the containers read here, with the aliases clients send (browsers label a WebM or Ogg
 * recording with the codec: `audio/webm;codecs=opus`, whose base type is listed).
 */
export const AUDIO_MEDIA_TYPES: readonly string[] = [
  'audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave',
  'audio/mpeg', 'audio/mp3', 'audio/x-mp3', 'audio/mpeg3',
  'audio/flac', 'audio/x-flac',
  'audio/ogg', 'audio/opus', 'audio/vorbis', 'application/ogg',
  'audio/webm', 'video/webm', 'audio/x-matroska',
];
