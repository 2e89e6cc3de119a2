import * as fs from 'node:fs';
import { InvalidInputError, IoError, MmfuseError } from '@mmfuse/core/base';
import type { DecodeWavOptions, DecodedAudio } from './decode-wav.js';
import { decodeFromSource } from './internal/decode-source.js';
import { FileSource } from './internal/byte-source.js';

/**
 * Decode a WAV file from disk, reading its data chunk block by block (a 10-minute file never sits in memory
 * whole). Same formats, options and errors as `decodeWav`; the errors name the file.
 * @throws InvalidInputError when the file does not exist or is not a regular file.
 */
export function decodeWavFile(filePath: string, options: DecodeWavOptions = {}): DecodedAudio {
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InvalidInputError(`audio file not found: ${filePath}`, { file: filePath, cause: err });
    if (code === 'EISDIR') throw new InvalidInputError(`${filePath} is a directory, not a WAV file`, { file: filePath, cause: err });
    throw new IoError(`cannot open ${filePath}: ${(err as Error).message}`, { file: filePath, cause: err });
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new InvalidInputError(`${filePath} is not a regular file`, { file: filePath });
    return decodeFromSource(new FileSource(fd), options);
  } catch (err) {
    if (err instanceof MmfuseError) throw err.locate({ file: filePath });
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}
