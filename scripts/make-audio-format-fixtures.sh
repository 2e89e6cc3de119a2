#!/usr/bin/env bash
# Regenerates tests/fixtures/audio-formats/: tiny files (a few KB) of one known signal in every compressed
# format decodeAudio reads, so the library path is tested without ffmpeg. The signal: 0.3 s of a 1 kHz
# sine at amplitude 0.5, 16 kHz mono (a temporary WAV), encoded with Debian's ffmpeg, sox and opus-tools.
# Usage: bash scripts/make-audio-format-fixtures.sh
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/audio-formats"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
ff -f lavfi -i "sine=frequency=1000:sample_rate=16000:duration=0.3" -af "volume=4" -ac 1 -c:a pcm_s16le -bitexact "$tmp/tone.wav"
ff -i "$tmp/tone.wav" -c:a libmp3lame -b:a 32k -bitexact "$out/tone.mp3"
sox "$tmp/tone.wav" "$out/tone.flac"   # libFLAC (ffmpeg's own FLAC encoder barely compresses a pure tone)
ff -i "$tmp/tone.wav" -c:a libvorbis -q:a 0 -bitexact "$out/tone.ogg"
opusenc --quiet --bitrate 24 "$tmp/tone.wav" "$out/tone.opus"
ff -i "$tmp/tone.wav" -c:a libopus -b:a 24k -bitexact "$out/tone.webm"
ls -l "$out"
