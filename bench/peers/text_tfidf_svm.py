#!/usr/bin/env python3
"""Classic text-classification peers for bench/text.bench.ts, with scikit-learn:

- TF-IDF (word 1-2-grams + character 2-5-grams within word boundaries, sublinear tf) + LinearSVC(C=0.5);
- multinomial naive Bayes on word 1-2-gram counts, its smoothing alpha chosen by 5-fold cross-validation
  on the training data only (from 0.01, 0.03, 0.1, 0.3, 1).

Usage: /usr/bin/python3 bench/peers/text_tfidf_svm.py JOB.json

JOB.json: {"tasks": [{"name", "train": [[text, label], ...], "tests": {"name": [[text, label], ...]},
"outOfScope": {"test": [[text, label], ...], "inScopeLabels": [...]}?}]}. Prints one JSON object:
{"versions", "tasks": {name: {model: {"trainSeconds", "tests": {name: {"accuracy", "macroF1",
"predictSeconds", "n"}}, "outOfScope"?: {"auroc", "inScopeAccuracy"}}}}}. Out-of-scope scores: the top
decision value (SVM) or the top class probability (naive Bayes); AUROC of "out of scope" against it.
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC


def svm():
    return make_pipeline(
        make_union(
            TfidfVectorizer(analyzer='word', ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
            TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 5), sublinear_tf=True, min_df=2, lowercase=True),
        ),
        LinearSVC(C=0.5),
    )


def naive_bayes(y):
    # Folds limited by the rarest class (the bot has 11 training texts per intent).
    _, counts = np.unique(y, return_counts=True)
    folds = max(2, min(5, int(counts.min())))
    pipe = make_pipeline(CountVectorizer(analyzer='word', ngram_range=(1, 2), lowercase=True), MultinomialNB())
    return GridSearchCV(pipe, {'multinomialnb__alpha': [0.01, 0.03, 0.1, 0.3, 1.0]}, cv=StratifiedKFold(folds, shuffle=True, random_state=0))


def top_score(model, texts):
    if hasattr(model, 'predict_proba'):
        return model.predict_proba(texts).max(axis=1)
    return model.decision_function(texts).max(axis=1)


def run_task(task):
    x_train = [t for t, _ in task['train']]
    y_train = [l for _, l in task['train']]
    out = {}
    for name, build in (('svm', lambda: svm()), ('nb', lambda: naive_bayes(y_train))):
        model = build()
        t0 = time.perf_counter()
        model.fit(x_train, y_train)
        result = {'trainSeconds': time.perf_counter() - t0, 'tests': {}}
        if name == 'nb':
            result['alpha'] = model.best_params_['multinomialnb__alpha']
        for test_name, rows in task['tests'].items():
            x = [t for t, _ in rows]
            y = [l for _, l in rows]
            t1 = time.perf_counter()
            pred = model.predict(x)
            result['tests'][test_name] = {
                'accuracy': accuracy_score(y, pred), 'macroF1': f1_score(y, pred, average='macro'),
                'predictSeconds': time.perf_counter() - t1, 'n': len(x),
            }
        oos = task.get('outOfScope')
        if oos is not None:
            known = set(oos['inScopeLabels'])
            x = [t for t, _ in oos['test']]
            y = [l for _, l in oos['test']]
            is_oos = np.array([l not in known for l in y])
            score = top_score(model, x)
            pred = model.predict(x)
            inscope = [(p, l) for p, l, o in zip(pred, y, is_oos) if not o]
            result['outOfScope'] = {
                'auroc': roc_auc_score(is_oos, -score),
                'inScopeAccuracy': sum(p == l for p, l in inscope) / max(1, len(inscope)),
            }
        out[name] = result
    return out


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        job = json.load(f)
    tasks = {task['name']: run_task(task) for task in job['tasks']}
    print(json.dumps({
        'versions': {'sklearn': sklearn.__version__},
        'names': {
            'svm': f'TF-IDF word 1-2 + char_wb 2-5 grams + LinearSVC (scikit-learn {sklearn.__version__})',
            'nb': f'word 1-2-gram counts + multinomial naive Bayes, alpha by 5-fold CV (scikit-learn {sklearn.__version__})',
        },
        'tasks': tasks,
        'threads': 1,
    }))


if __name__ == '__main__':
    main()
