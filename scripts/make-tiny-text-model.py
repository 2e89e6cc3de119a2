#!/usr/bin/env python3
"""Make tests/fixtures/text/tiny-bert: a tiny random BERT-style encoder for the text/pretrained tests.

Writes a transformers.js model folder (onnx/model.onnx, config.json, tokenizer.json, tokenizer_config.json)
and reference.json: for a few sentences, the WordPiece ids (computed here by a small independent
implementation of BERT's basic + WordPiece tokenization) and torch's last_hidden_state, mean and CLS
embeddings. Run with Debian's PyTorch: /usr/bin/python3 scripts/make-tiny-text-model.py
"""
import json
import math
import os
import unicodedata

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'text', 'tiny-bert')
HIDDEN, LAYERS, HEADS, FFN, MAX_POS = 32, 2, 4, 64, 64
SEED = 20261130

SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WORDS = ('my card has not arrived yet where is new how do i top up with apple pay want to cancel a transfer '
         'still after weeks the bank account money you can what why when it this that for in on of and be '
         'refund payment exchange rate fee charged declined pin atm cash withdrawal verify identity phone '
         'lost stolen app help please me get use number change limit').split()
SUFFIXES = ['##ed', '##ing', '##er', '##ly', '##al', '##ion', '##ment']
CHARS = list('abcdefghijklmnopqrstuvwxyz0123456789')
PUNCT = list('.,!?\'"-()£$€%&:;/')
HAN = list('我的信用卡还没到钱银行')
vocab_list = SPECIAL + sorted(set(WORDS)) + [c for c in CHARS if c not in WORDS] + ['##' + c for c in CHARS] + SUFFIXES + PUNCT + HAN
assert len(vocab_list) == len(set(vocab_list))
VOCAB = {t: i for i, t in enumerate(vocab_list)}


# ---------- reference tokenization (BERT basic tokenizer + greedy longest-match WordPiece) ----------
def is_cjk(ch):
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith('P')


def basic_tokenize(text):
    text = ''.join(' ' if ch.isspace() else ch for ch in text if not unicodedata.category(ch).startswith('C') or ch.isspace())
    text = ''.join(f' {ch} ' if is_cjk(ch) else ch for ch in text)
    text = unicodedata.normalize('NFD', text.lower())
    text = ''.join(ch for ch in text if unicodedata.category(ch) != 'Mn')
    out = []
    for word in text.split():
        cur = ''
        for ch in word:
            if is_punct(ch):
                if cur:
                    out.append(cur)
                out.append(ch)
                cur = ''
            else:
                cur += ch
        if cur:
            out.append(cur)
    return out


def wordpiece(word):
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            sub = word[start:end] if start == 0 else '##' + word[start:end]
            if sub in VOCAB:
                found = sub
                break
            end -= 1
        if found is None:
            return ['[UNK]']
        pieces.append(found)
        start = end
    return pieces


def encode(text):
    tokens = ['[CLS]'] + [p for w in basic_tokenize(text) for p in wordpiece(w)] + ['[SEP]']
    return tokens, [VOCAB[t] for t in tokens]


# ---------- the model: BERT encoder written with torch.nn ----------
class Embeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(len(VOCAB), HIDDEN)
        self.position = nn.Embedding(MAX_POS, HIDDEN)
        self.token_type = nn.Embedding(2, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, input_ids, token_type_ids):
        pos = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)  # [1, T]
        return self.norm(self.word(input_ids) + self.position(pos) + self.token_type(token_type_ids))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.out = nn.Linear(HIDDEN, HIDDEN)
        self.norm1 = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.ff1 = nn.Linear(HIDDEN, FFN)
        self.ff2 = nn.Linear(FFN, HIDDEN)
        self.norm2 = nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, x, bias):  # x [B, T, C], bias [B, 1, 1, T]
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(HIDDEN, dim=2)
        q = q.view(b, t, HEADS, c // HEADS).transpose(1, 2)  # [B, H, T, c/H]
        k = k.view(b, t, HEADS, c // HEADS).transpose(1, 2)
        v = v.view(b, t, HEADS, c // HEADS).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(c // HEADS) + bias, dim=-1)  # [B, H, T, T]
        y = (att @ v).transpose(1, 2).reshape(b, t, c)  # [B, T, C]
        x = self.norm1(x + self.out(y))  # BERT is post-norm
        return self.norm2(x + self.ff2(nn.functional.gelu(self.ff1(x))))


class TinyBert(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = Embeddings()
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])

    def forward(self, input_ids, attention_mask, token_type_ids):
        bias = (1.0 - attention_mask.to(torch.float32))[:, None, None, :] * -10000.0  # [B, 1, 1, T]
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, bias)
        return x


def main():
    torch.manual_seed(SEED)
    model = TinyBert()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.2)  # larger than BERT's 0.02 so attention is far from uniform
    model.eval()
    os.makedirs(os.path.join(OUT, 'onnx'), exist_ok=True)

    ids = torch.tensor([encode('my card has not arrived')[1]])
    torch.onnx.export(
        model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(OUT, 'onnx', 'model.onnx'),
        input_names=['input_ids', 'attention_mask', 'token_type_ids'], output_names=['last_hidden_state'],
        dynamic_axes={n: {0: 'batch', 1: 'sequence'} for n in ['input_ids', 'attention_mask', 'token_type_ids', 'last_hidden_state']},
        opset_version=14, do_constant_folding=True)

    config = {'model_type': 'bert', 'architectures': ['BertModel'], 'vocab_size': len(VOCAB), 'hidden_size': HIDDEN,
              'num_hidden_layers': LAYERS, 'num_attention_heads': HEADS, 'intermediate_size': FFN,
              'max_position_embeddings': MAX_POS, 'type_vocab_size': 2, 'layer_norm_eps': 1e-12, 'hidden_act': 'gelu'}
    special = [{'id': VOCAB[t], 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True} for t in SPECIAL]
    tokenizer = {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': special,
        'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True, 'strip_accents': None, 'lowercase': True},
        'pre_tokenizer': {'type': 'BertPreTokenizer'},
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 0}},
                     {'Sequence': {'id': 'B', 'type_id': 1}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 1}}],
            'special_tokens': {t: {'id': t, 'ids': [VOCAB[t]], 'tokens': [t]} for t in ['[CLS]', '[SEP]']},
        },
        'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
        'model': {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##', 'max_input_chars_per_word': 100, 'vocab': VOCAB},
    }
    tokenizer_config = {'tokenizer_class': 'BertTokenizer', 'do_lower_case': True, 'model_max_length': MAX_POS,
                        'cls_token': '[CLS]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'unk_token': '[UNK]', 'mask_token': '[MASK]'}
    for name, obj in [('config.json', config), ('tokenizer.json', tokenizer), ('tokenizer_config.json', tokenizer_config)]:
        with open(os.path.join(OUT, name), 'w', encoding='utf-8') as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
            f.write('\n')

    sentences = ['My card has not arrived yet!', 'How do I top up with Apple Pay?', 'Refunds declined, exchanging money',
                 '我的信用卡 card 还没到', 'zebra quokka']
    cases = []
    with torch.no_grad():
        for s in sentences:
            tokens, tid = encode(s)
            x = torch.tensor([tid])
            h = model(x, torch.ones_like(x), torch.zeros_like(x))[0]  # [T, C]
            cases.append({'text': s, 'tokens': tokens, 'ids': tid,
                          'last_hidden_state': {'dtype': 'float32', 'shape': list(h.shape), 'data': [float(f'{v:.7g}') for v in h.flatten().tolist()]},
                          'mean': [float(f'{v:.7g}') for v in h.mean(0).tolist()],
                          'cls': [float(f'{v:.7g}') for v in h[0].tolist()]})
    ref = {'generator': 'scripts/make-tiny-text-model.py', 'torch': torch.__version__, 'seed': SEED,
           'note': 'ids from an independent Python BERT basic+WordPiece tokenizer; embeddings from torch in float32, batch 1, no padding',
           'cases': cases}
    with open(os.path.join(OUT, 'reference.json'), 'w', encoding='utf-8') as f:
        json.dump(ref, f, ensure_ascii=False)
        f.write('\n')
    print(f'wrote {OUT}: vocab {len(VOCAB)}, onnx {os.path.getsize(os.path.join(OUT, "onnx", "model.onnx"))} bytes')


if __name__ == '__main__':
    main()
