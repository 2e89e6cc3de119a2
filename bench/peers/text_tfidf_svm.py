#!/usr/bin/env python3
"""Banking77 peer for bench/text.bench.ts: TF-IDF (word 1-2-grams + character 2-5-grams within word
boundaries) + linear SVM with scikit-learn. Prints one JSON object: accuracy, macro-F1, training and
prediction time, versions. Usage: /usr/bin/python3 bench/peers/text_tfidf_svm.py <dataset folder>
"""
import csv
import json
import os
import sys
import time

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC


def read(path):
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    return [r['text'] for r in rows], [r['category'] for r in rows]


def main():
    folder = sys.argv[1]
    x_train, y_train = read(os.path.join(folder, 'train.csv'))
    x_test, y_test = read(os.path.join(folder, 'test.csv'))
    model = make_pipeline(
        make_union(
            TfidfVectorizer(analyzer='word', ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
            TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 5), sublinear_tf=True, min_df=2, lowercase=True),
        ),
        LinearSVC(C=0.5),
    )
    t0 = time.perf_counter()
    model.fit(x_train, y_train)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = model.predict(x_test)
    predict_s = time.perf_counter() - t1
    print(json.dumps({
        'name': f'TF-IDF word 1-2 + char_wb 2-5 grams + LinearSVC (scikit-learn {sklearn.__version__})',
        'accuracy': accuracy_score(y_test, pred),
        'macroF1': f1_score(y_test, pred, average='macro'),
        'trainSeconds': train_s,
        'predictSeconds': predict_s,
        'train': len(x_train),
        'test': len(x_test),
        'threads': 1,
    }))


if __name__ == '__main__':
    main()
