"""Category suggestions for event reports: char n-grams + jieba words into a linear model.

The model is trained from the corpus shipped in ``detect/corpus/train.jsonl`` plus, optionally,
an extra JSONL file of corrections (``{"text", "code"}`` per line). Training takes seconds, so
we train at first use and persist the result with pickle under
``data_dir/models/classifier.pkl``, keyed by a hash of the training data: a new corpus, a new
corrections file or a new scikit-learn version simply retrains instead of loading a stale model.

Why both feature sets: character 1–3-grams are robust to typos and dialect spellings
("木有", "介边") that a word segmenter mangles, while jieba words keep multi-character terms
("消防车道", "飞线") together so they outweigh the template noise of hotline transcripts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import pickle
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jieba
import numpy as np
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import precision_recall_fscore_support
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from shanzhi.config import get_settings
from shanzhi.detect.policy import detect_policy
from shanzhi.errors import InvalidInput
from shanzhi.events.catalog import catalog, category_name

# jieba announces its dictionary loading on stderr at first use; nobody needs that in a CLI.
jieba.setLogLevel(logging.WARNING)

CORPUS_DIR = Path(__file__).parent / "corpus"
TRAIN_PATH = CORPUS_DIR / "train.jsonl"
HELDOUT_PATH = CORPUS_DIR / "heldout.jsonl"
# A blind set by a writer who saw only the catalog, never the corpora: a second, outside check.
OUTSIDER_PATH = CORPUS_DIR / "outsider.jsonl"
MAX_CHARS = 2000
# Bump when the features change in code, so a persisted model built with the old ones retrains.
FEATURES_VERSION = 2
_CJK = re.compile(r"[\u4e00-\u9fff]")

_lock = threading.Lock()
_cached: Model | None = None


@dataclass(frozen=True)
class Suggestion:
    code: str
    name: str
    probability: float
    uncertain: bool

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "probability": round(self.probability, 4),
                "uncertain": self.uncertain}


@dataclass
class Model:
    pipeline: Pipeline
    key: str
    extra: Path | None
    n_train: int
    train_seconds: float
    sklearn_version: str = sklearn.__version__

    @cached_property
    def codes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    @cached_property
    def names(self) -> list[str]:
        return [category_name(c) for c in self.codes]


@dataclass(frozen=True)
class CategoryScore:
    code: str
    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    n: int
    top1: float
    top3: float
    macro_f1: float
    per_category: list[CategoryScore] = field(default_factory=list)
    # (true code, predicted code, count), most frequent first
    confusions: list[tuple[str, str, int]] = field(default_factory=list)

    def summary(self) -> str:
        return f"top1={self.top1:.3f} top3={self.top3:.3f} macro_f1={self.macro_f1:.3f} n={self.n}"


def _words(text: str) -> list[str]:
    # Module-level (not a lambda) so the fitted vectorizer pickles.
    # Dictionary words only (HMM=False): the HMM's guesses at unknown words cost 3× the time and
    # add nothing the character n-grams do not already see.
    return [w for w in jieba.lcut(text, HMM=False) if w.strip()]


def _build_pipeline() -> Pipeline:
    # Char 1–2-grams beat 1–3-grams in 3-fold CV on the training set (0.857 vs 0.846 top1 at
    # 4k reports): trigrams mostly memorise whole training phrases. Words get half the weight
    # of characters for the same reason.
    features = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)),
            ("words", TfidfVectorizer(tokenizer=_words, token_pattern=None, lowercase=False,
                                      sublinear_tf=True)),
        ],
        transformer_weights={"chars": 1.0, "words": 0.5},
    )
    # LinearSVC generalises better than logistic regression here (C chosen by 3-fold CV on the
    # training set: 0.5 and 1 tie, 0.3 and 0.1 lose); the sigmoid calibration
    # gives it probabilities so "uncertain" means something.
    clf = CalibratedClassifierCV(LinearSVC(C=0.5), method="sigmoid", cv=3)
    return Pipeline([("features", features), ("clf", clf)])


def check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text is empty", "事件描述为空")
    if len(text) > MAX_CHARS:
        raise InvalidInput(f"text is longer than {MAX_CHARS} characters",
                           f"事件描述超过 {MAX_CHARS} 字")
    if not _CJK.search(text):
        raise InvalidInput("text contains no Chinese characters", "事件描述中没有中文")
    return text.strip()


def read_jsonl(path: Path) -> list[tuple[str, str]]:
    """Rows of (text, code); a malformed line is an InvalidInput naming its line number."""
    if not path.is_file():
        raise InvalidInput(f"file not found: {path}", f"找不到文件：{path}")
    known = {c.code for c in catalog().categories}
    rows: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text, code = obj["text"], str(obj["code"])
                if not isinstance(text, str):
                    raise TypeError("text")
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInput(
                    f"{path.name} line {no}: expected {{\"text\": ..., \"code\": ...}} ({exc})",
                    f"{path.name} 第 {no} 行格式错误：应为 {{\"text\": …, \"code\": …}}",
                ) from None
            if code not in known:
                raise InvalidInput(f"{path.name} line {no}: unknown category {code}",
                                   f"{path.name} 第 {no} 行：未知的事件类别 {code}")
            try:
                rows.append((check_text(text), code))
            except InvalidInput as exc:
                raise InvalidInput(f"{path.name} line {no}: {exc.message}",
                                   f"{path.name} 第 {no} 行：{exc.message_zh}") from None
    if not rows:
        raise InvalidInput(f"{path.name} has no examples", f"{path.name} 中没有样本")
    return rows


def _keyword_rows() -> list[tuple[str, str]]:
    # The catalog's keywords are residents' own words for each matter: short extra examples.
    return [(word, c.code) for c in catalog().categories for word in c.keywords]


def _key(extra: Path | None) -> str:
    h = hashlib.sha256()
    h.update(f"{FEATURES_VERSION}/{sklearn.__version__}".encode())
    h.update(TRAIN_PATH.read_bytes())
    h.update(repr(_keyword_rows()).encode())
    if extra is not None:
        h.update(b"\0extra\0")
        h.update(extra.read_bytes())
    return h.hexdigest()


def model_path() -> Path:
    return get_settings().data_dir / "models" / "classifier.pkl"


def train(extra: Path | None = None) -> Model:
    """Train from the shipped corpus (+ `extra` corrections), save, and use it from now on."""
    global _cached
    rows = read_jsonl(TRAIN_PATH) + _keyword_rows() + (read_jsonl(extra) if extra is not None else [])
    started = time.perf_counter()
    pipeline = _build_pipeline()
    pipeline.fit([t for t, _ in rows], [c for _, c in rows])
    model = Model(pipeline=pipeline, key=_key(extra), extra=extra, n_train=len(rows),
                  train_seconds=time.perf_counter() - started)
    path = model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # per process: two trainers never share one
    with tmp.open("wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)  # atomic, so a concurrent reader never sees half a file
    with _lock:
        _cached = model
    return model


def _load() -> Model | None:
    path = model_path()
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
        if not isinstance(model, Model):
            return None
        extra = model.extra if model.extra is not None and model.extra.is_file() else None
        if model.extra is not None and extra is None:
            return None  # the corrections it was trained with are gone: retrain
        return model if model.key == _key(extra) else None
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
        # unreadable, or written by an incompatible version of this module: retrain
        return None


def get_model() -> Model:
    """The model in memory, else the persisted one if its training data is unchanged, else train."""
    global _cached
    with _lock:
        if _cached is not None:
            return _cached
        loaded = _load()
        if loaded is not None:
            _cached = loaded
            return loaded
    return train()


def reset_cache() -> None:
    global _cached
    with _lock:
        _cached = None


def _suggestions(model: Model, probs: np.ndarray, resemblance: float, k: int) -> list[Suggestion]:
    codes, names = model.codes, model.names
    order = np.argsort(-probs)[:k]
    policy = detect_policy().classify
    uncertain = bool(probs[order[0]] < policy.uncertain_below or resemblance < policy.resemblance_below)
    return [Suggestion(code=codes[i], name=names[i], probability=float(probs[i]),
                       uncertain=uncertain) for i in order]


def scores(model: Model, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(the calibrated model's predict_proba, how much each text resembles its best category).

    sklearn's CalibratedClassifierCV calls one small, input-validated calibrator per class and
    fold (54 × 3 here), which costs ~10 ms a text. The arithmetic is the same: per fold, the
    base model's margins through each class's sigmoid, normalized per row; then the fold mean.
    The resemblance is the best class's sigmoid before that normalization: text about nothing
    in the catalog ("今天天气不错") resembles no class, though normalizing still crowns one.
    """
    features, clf = model.pipeline[:-1].transform(texts), model.pipeline[-1]
    folds = getattr(clf, "calibrated_classifiers_", None)
    if not folds or any(len(f.calibrators) != len(clf.classes_) for f in folds):
        probs = model.pipeline.predict_proba(texts)  # a fold missed a class: let sklearn map it
        return probs, probs.max(axis=1)
    total = np.zeros((len(texts), len(clf.classes_)))
    raw = np.zeros_like(total)
    for fold in folds:
        a = np.array([c.a_ for c in fold.calibrators])
        b = np.array([c.b_ for c in fold.calibrators])
        p = expit(-(fold.estimator.decision_function(features) * a + b))
        raw += p
        total += _normalized(p)
    return total / len(folds), (raw / len(folds)).max(axis=1)


def _normalized(p: np.ndarray) -> np.ndarray:
    rows = p.sum(axis=-1, keepdims=True)
    return np.where(rows == 0, 1.0 / p.shape[-1], p / np.where(rows == 0, 1, rows))


def probabilities(model: Model, texts: list[str]) -> np.ndarray:
    return scores(model, texts)[0]


class OneText:
    """The calibrated model's probabilities for one text, without sklearn's per-call overhead.

    sklearn's transform validates input and builds sparse matrices for each call: ~4 ms for one
    short text, most of a single suggestion's cost. The arithmetic is small: the same analyzers
    (so the same n-grams and jieba words), sublinear tf × idf, L2 per block, the union's weights,
    then all folds' margins at once from their stacked coefficients gathered at the text's
    features. `probabilities` stays the reference; the tests hold the two equal.
    """

    def __init__(self, model: Model) -> None:
        union = model.pipeline.named_steps["features"]
        weights = union.transformer_weights or {}
        self.blocks = []
        offset = 0
        for name, vectorizer in union.transformer_list:
            self.blocks.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_,
                                weights.get(name, 1.0), offset))
            offset += len(vectorizer.vocabulary_)
        folds = model.pipeline[-1].calibrated_classifiers_
        self.n_classes = len(model.codes)
        self.coef = np.hstack([f.estimator.coef_.T for f in folds]).astype(np.float64)  # features × (folds·classes)
        self.intercept = np.concatenate([f.estimator.intercept_ for f in folds])
        self.a = np.concatenate([[c.a_ for c in f.calibrators] for f in folds])
        self.b = np.concatenate([[c.b_ for c in f.calibrators] for f in folds])
        self.n_folds = len(folds)

    def __call__(self, text: str) -> np.ndarray:
        return self.scores(text)[0]

    def scores(self, text: str) -> tuple[np.ndarray, float]:
        cols: list[int] = []
        vals: list[float] = []
        for analyze, vocabulary, idf, weight, offset in self.blocks:
            idx: list[int] = []
            tf: list[float] = []
            for term, n in Counter(analyze(text)).items():
                i = vocabulary.get(term)
                if i is not None:
                    idx.append(i)
                    tf.append(1.0 + math.log(n))  # sublinear tf, as the vectorizer has it
            if not idx:
                continue
            v = np.array(tf) * idf[idx]
            v *= weight / np.sqrt(v @ v)
            cols += [offset + i for i in idx]
            vals += v.tolist()
        margins = np.asarray(vals) @ self.coef[cols] + self.intercept if cols else self.intercept.copy()
        p = expit(-(margins * self.a + self.b)).reshape(self.n_folds, self.n_classes)
        return _normalized(p).mean(axis=0), float(p.mean(axis=0).max())


_scorers: dict[int, OneText] = {}


def _one_text(model: Model) -> OneText | None:
    """The fast scorer of this model (None when a fold missed a class: sklearn maps that case)."""
    folds = getattr(model.pipeline[-1], "calibrated_classifiers_", None)
    if not folds or any(len(f.calibrators) != len(model.codes) for f in folds):
        return None
    scorer = _scorers.get(id(model))
    if scorer is None:
        _scorers.clear()  # one model in use at a time
        scorer = _scorers[id(model)] = OneText(model)
    return scorer


def suggest_many(texts: list[str], k: int = 3) -> list[list[Suggestion]]:
    if k < 1:
        raise InvalidInput("k must be at least 1", "k 至少为 1")
    clean = [check_text(t) for t in texts]
    if not clean:
        return []
    model = get_model()
    if len(clean) == 1 and (scorer := _one_text(model)) is not None:
        return [_suggestions(model, *scorer.scores(clean[0]), k)]
    probs, resemblance = scores(model, clean)
    return [_suggestions(model, row, float(r), k) for row, r in zip(probs, resemblance, strict=True)]


def suggest(text: str, k: int = 3) -> list[Suggestion]:
    return suggest_many([text], k)[0]


def evaluate(path: Path) -> Report:
    rows = read_jsonl(path)
    model = get_model()
    codes = model.codes
    probs = probabilities(model, [t for t, _ in rows])
    truth = [c for _, c in rows]
    top = np.argsort(-probs, axis=1)[:, :3]
    pred = [codes[i] for i in top[:, 0]]
    top1 = sum(p == t for p, t in zip(pred, truth, strict=True)) / len(rows)
    top3 = sum(t in {codes[i] for i in r} for r, t in zip(top, truth, strict=True)) / len(rows)
    labels = sorted(set(truth))
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    per = [CategoryScore(code=c, name=category_name(c), precision=float(p[i]), recall=float(r[i]),
                         f1=float(f[i]), support=int(s[i])) for i, c in enumerate(labels)]
    confused = Counter((t, q) for t, q in zip(truth, pred, strict=True) if t != q)
    return Report(n=len(rows), top1=top1, top3=top3, macro_f1=float(np.mean(f)),
                  per_category=per,
                  confusions=[(t, q, n) for (t, q), n in confused.most_common(10)])
