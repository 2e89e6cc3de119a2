/**
 * @mmfuse/speech: speech synthesis for training data (Flite built in, espeak-ng as an external program),
 * phoneme transcripts in a fixed inventory, corpus synthesis, and CTC pretraining of `audio/phonetic`.
 */
export type { EngineName, SpeechEngine, SynthesizedAudio, VoiceInfo, VoiceSettings } from './types.js';
export { EspeakNgEngine, ESPEAK_ACCENTS, ESPEAK_VARIANTS } from './espeak-ng.js';
export type { EspeakNgOptions } from './espeak-ng.js';
export { FliteEngine } from './flite.js';
export { getEngine, listVoices } from './engines.js';
export { parseVoiceId, splitVoices, voiceGrid, voiceId } from './voices.js';
export type { SplitVoicesOptions, VoiceGridOptions } from './voices.js';
export { PHONEMES, PHONEME_INVENTORY, normalizeArpabet, normalizeEspeakIpa, phonemeIds, phonemesOf } from './phonemes.js';
export { phonemize } from './phonemize.js';
export type { PhonemizeOptions, PhonemizerName } from './phonemize.js';
export { synthesizeCorpus } from './synthesize-corpus.js';
export type { SynthesisFailure, SynthesizeCorpusOptions, SynthesizeCorpusResult } from './synthesize-corpus.js';
export { pretrainSpeechEncoder } from './pretrain-speech-encoder.js';
export type { PretrainEpoch, PretrainResult, PretrainSpeechEncoderOptions } from './pretrain-speech-encoder.js';
export { evaluateSpeechEncoder } from './evaluate-speech-encoder.js';
export type { EvaluateSpeechEncoderOptions, SpeechEvaluation } from './evaluate-speech-encoder.js';
export { corruptPhonemes, ctcAuxLoss, phonemeTextLoss } from './loss-terms.js';
export type { CtcAuxLossOptions, PhonemeNoiseOptions, PhonemeTextLossOptions } from './loss-terms.js';
export { bigramLogProbability, buildLexicon, checkLexicon, countBigrams, countTrigrams, decodeWords, trigramLogProbability, lexiconWords, resolveDecodeOptions } from './word-decoder.js';
export type { DecodeWordsOptions, Lexicon } from './word-decoder.js';
export { resolveCtcWordSearchOptions, searchCtcWords, searchCtcWordsNBest } from './ctc-word-search.js';
export type { CtcPosteriors, CtcWordHypothesis, CtcWordSearchOptions } from './ctc-word-search.js';
export { SpeechRecognizer } from './speech-recognizer.js';
export type { RecognizerInput, SpeechRecognizerOptions, Transcript } from './speech-recognizer.js';
