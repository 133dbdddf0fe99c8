"""Small column encoders used by the preprocessors in `assay.features.pipeline`.

Each one is a plain scikit-learn transformer over a DataFrame slice (the columns
handed to it by a ColumnTransformer) and learns only from the rows it is fit on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

_MISSING = "__nan__"


def _frame(X) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)


class DatetimeParts(TransformerMixin, BaseEstimator):
    """Expand each datetime column into year, month, day, dayofweek, [hour], unix seconds.

    The hour is emitted only for columns whose training rows carry a time of day.
    NaT becomes NaN in every part (imputation, if any, is the next step's job).
    """

    def fit(self, X, y=None):
        X = _frame(X)
        self.columns_ = list(X.columns)
        self.has_time_ = {}
        for c in self.columns_:
            s = _to_naive(X[c]).dropna()
            self.has_time_[c] = bool(len(s)) and bool((s != s.dt.normalize()).any())
        return self

    def transform(self, X):
        X = _frame(X)
        parts = []
        for c in self.columns_:
            s = _to_naive(X[c])
            cols = [s.dt.year, s.dt.month, s.dt.day, s.dt.day_of_week]
            if self.has_time_[c]:
                cols.append(s.dt.hour)
            cols.append((s - pd.Timestamp(0)).dt.total_seconds())
            parts.extend(np.asarray(p, dtype="float64") for p in cols)
        if not parts:
            return np.zeros((len(X), 0))
        return np.column_stack(parts)

    def get_feature_names_out(self, input_features=None):
        names = []
        for c in self.columns_:
            parts = ["year", "month", "day", "dayofweek"] + (["hour"] if self.has_time_[c] else []) + ["unix"]
            names += [f"{c}_{p}" for p in parts]
        return np.asarray(names, dtype=object)


def _to_naive(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, errors="coerce")
    if getattr(s.dt, "tz", None) is not None:       # tz-aware: compare in UTC
        s = s.dt.tz_convert(None)
    return s


class FrequencyEncoder(TransformerMixin, BaseEstimator):
    """Replace each category by its share of the training rows (target-free).

    Missing is a level of its own; a level unseen at fit time maps to 0.
    """

    def fit(self, X, y=None):
        X = _frame(X)
        self.columns_ = list(X.columns)
        self.freqs_ = {
            c: X[c].astype(object).fillna(_MISSING).value_counts(normalize=True).to_dict() for c in self.columns_
        }
        return self

    def transform(self, X):
        X = _frame(X)
        out = np.zeros((len(X), len(self.columns_)))
        for j, c in enumerate(self.columns_):
            vals = X[c].astype(object).fillna(_MISSING)
            out[:, j] = vals.map(self.freqs_[c]).astype("float64").fillna(0.0).to_numpy()
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{c}_freq" for c in self.columns_], dtype=object)


class TextEncoder(TransformerMixin, BaseEstimator):
    """TF-IDF per text column with a capped vocabulary, optionally reduced by TruncatedSVD.

    ``svd_components=0`` keeps the sparse TF-IDF matrix (linear models); otherwise
    each column becomes at most that many dense SVD components (trees). A column
    whose training rows hold no usable token contributes no output columns.
    """

    def __init__(self, max_features: int = 2000, svd_components: int = 0, seed: int = 0):
        self.max_features = max_features
        self.svd_components = svd_components
        self.seed = seed

    def fit(self, X, y=None):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        X = _frame(X)
        self.columns_ = list(X.columns)
        self.steps_ = {}
        for c in self.columns_:
            docs = _docs(X[c])
            vec = TfidfVectorizer(max_features=self.max_features, sublinear_tf=True, dtype=np.float64)
            try:
                m = vec.fit_transform(docs)
            except ValueError:          # empty vocabulary: nothing to learn from
                self.steps_[c] = (None, None, 0)
                continue
            svd, width = None, m.shape[1]
            k = min(self.svd_components, m.shape[1] - 1, m.shape[0] - 1)
            if self.svd_components and k >= 1:
                svd = TruncatedSVD(n_components=k, n_iter=3, random_state=self.seed).fit(m)
                width = k
            self.steps_[c] = (vec, svd, width)
        return self

    def transform(self, X):
        X = _frame(X)
        blocks = []
        for c in self.columns_:
            vec, svd, width = self.steps_[c]
            if vec is None:
                continue
            if len(X) == 0:
                blocks.append(sp.csr_matrix((0, width)))
                continue
            m = _tfidf(vec, X, c)
            blocks.append(sp.csr_matrix(svd.transform(m)) if svd is not None else m)
        if not blocks:
            return np.zeros((len(X), 0))
        out = sp.hstack(blocks, format="csr")
        # Dense when reduced by SVD (trees want arrays); sparse TF-IDF otherwise.
        return out if not self.svd_components else out.toarray()

    def get_feature_names_out(self, input_features=None):
        names = []
        for c in self.columns_:
            vec, svd, width = self.steps_[c]
            if vec is None:
                continue
            if svd is not None:
                names += [f"{c}_svd{i}" for i in range(width)]
            else:
                names += [f"{c}_tfidf_{w}" for w in vec.get_feature_names_out()]
        return np.asarray(names, dtype=object)


_ANALYSER = ("input", "encoding", "decode_error", "strip_accents", "lowercase", "preprocessor", "tokenizer",
             "stop_words", "token_pattern", "ngram_range", "analyzer")


def _tfidf(vec, X: pd.DataFrame, col) -> sp.csr_matrix:
    """`vec.transform` of column `col` (a fitted TfidfVectorizer), with the documents
    tokenised once per list of documents and analyser for every vectoriser of a
    `shared_preparation` block: an ensemble's fold models each hold their own vocabulary over
    the same rows, and tokenising was most of their text cost. The counts then come from the
    vocabulary as CountVectorizer builds them and go through the vectoriser's own TF-IDF
    weighting (tests/features check the result against `vec.transform`)."""
    from assay.features.pipeline import shared_for_values

    weighting = getattr(vec, "_tfidf", None)
    if weighting is None:                       # a scikit-learn without the attribute
        return vec.transform(_docs(X[col]))
    params = vec.get_params()
    key = ("tokens",) + tuple(repr(params[k]) for k in _ANALYSER)
    analyse = vec.build_analyzer()
    tokens = shared_for_values(key, _docs(X[col]), lambda docs: [analyse(d) for d in docs])
    vocab = vec.vocabulary_
    indptr, indices, values = [0], [], []
    for doc in tokens:
        counts: dict[int, int] = {}
        for t in doc:
            j = vocab.get(t)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        indices.extend(counts)
        values.extend(counts.values())
        indptr.append(len(indices))
    m = sp.csr_matrix((np.asarray(values, dtype=vec.dtype), np.asarray(indices, dtype=np.int32),
                       np.asarray(indptr, dtype=np.int64)), shape=(len(tokens), len(vocab)))
    m.sort_indices()
    if vec.binary:
        m.data.fill(1)
    return weighting.transform(m, copy=False)


def _docs(s: pd.Series) -> list[str]:
    return s.astype(object).where(s.notna(), "").map(str).tolist()


TARGET_ORDER_PRIOR = 10.0   # rows of the overall target distribution mixed into each level's


def target_order(values: pd.Series, y, task: str, prior: float = TARGET_ORDER_PRIOR) -> list:
    """The levels of one categorical column, ordered by the target so that an ordinal code
    carries the target's direction: a tree's threshold split on the code then cuts the
    levels as a categorical split would (for a binary target or a regression this order
    contains the best two-way partition -- Fisher 1958 -- and for K classes the first
    principal component of the levels' class distributions is the usual extension, Wright &
    Koenig 2019). Each level's statistic is smoothed toward the overall one with `prior`
    rows, so rare levels sit near the middle; ties keep the sorted order. Missing values are
    not a level (they stay missing). Fitted on the training rows only, like any encoder."""
    codes, levels = pd.factorize(values, sort=True, use_na_sentinel=True)
    keep = codes >= 0
    if len(levels) < 2:
        return list(levels)
    codes = codes[keep]
    y = np.asarray(y)[keep]
    counts = np.bincount(codes, minlength=len(levels)).astype(float)
    if task == "multiclass":
        k = int(np.max(y)) + 1 if len(y) else 1
        onehot = np.zeros((len(y), k))
        onehot[np.arange(len(y)), y.astype(int)] = 1.0
        sums = np.zeros((len(levels), k))
        np.add.at(sums, codes, onehot)
        overall = onehot.mean(axis=0)
        dist = (sums + prior * overall) / (counts[:, None] + prior)
        centred = dist - (counts[:, None] * dist).sum(axis=0) / counts.sum()
        _, _, vt = np.linalg.svd(centred * np.sqrt(counts)[:, None], full_matrices=False)
        stat = centred @ vt[0]
    else:
        y = y.astype(float)
        sums = np.bincount(codes, weights=y, minlength=len(levels))
        stat = (sums + prior * y.mean()) / (counts + prior)
    return [levels[i] for i in np.argsort(stat, kind="stable")]
