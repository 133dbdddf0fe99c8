"""TF-IDF of text columns: documents tokenised once per frame and column for every encoder of
a shared_preparation block, with the vectorisers' own output."""
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from assay.features.encoders import TextEncoder, _docs, _tfidf
from assay.features.pipeline import shared_preparation

TRAIN = pd.DataFrame({"t": ["Braund, Mr. Owen Harris", "Cumings, Mrs. John Bradley", "Heikkinen, Miss. Laina",
                            None, "Futrelle, Mrs. Jacques Heath", "Allen, Mr. William Henry", "Moran, Mr. James"]})
TEST = pd.DataFrame({"t": ["McCarthy, Mr. Timothy J", None, "Mrs. Mrs. Owen", "", "zzz unseen words only",
                           "Palsson, Master. Gosta Leonard"]})


@pytest.mark.parametrize("svd", [0, 2])
def test_text_encoder_output_equals_the_vectorisers_own(svd):
    enc = TextEncoder(max_features=50, svd_components=svd).fit(TRAIN)
    vec, red, _ = enc.steps_["t"]
    want = vec.transform(_docs(TEST["t"]))
    want = red.transform(want) if red is not None else want.toarray()
    for shared in (False, True):
        if shared:
            with shared_preparation():
                got = enc.transform(TEST)
        else:
            got = enc.transform(TEST)
        got = got.toarray() if hasattr(got, "toarray") else got
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("params", [dict(binary=True), dict(ngram_range=(1, 2)), dict(lowercase=False)])
def test_vectorisers_with_other_settings_get_their_own_tokens(params):
    """Two vectorisers of one block with other analysers or counting do not share tokens."""
    plain = TfidfVectorizer().fit(_docs(TRAIN["t"]))
    other = TfidfVectorizer(**params).fit(_docs(TRAIN["t"]))
    with shared_preparation():
        a, b = _tfidf(plain, TEST, "t"), _tfidf(other, TEST, "t")
    np.testing.assert_allclose(a.toarray(), plain.transform(_docs(TEST["t"])).toarray(), rtol=1e-12)
    np.testing.assert_allclose(b.toarray(), other.transform(_docs(TEST["t"])).toarray(), rtol=1e-12)


def test_equal_document_lists_are_tokenised_once_per_shared_block():
    """The same documents seen as different frame objects (a ColumnTransformer slices its
    input anew for each part) are tokenised once per block; other documents are not served."""
    from assay.features.pipeline import shared_for_values

    calls = []

    def tokenise(docs):
        calls.append(list(docs))
        return [d.split() for d in docs]

    with shared_preparation():
        a = shared_for_values(("tokens",), ["a b", "c"], tokenise)
        b = shared_for_values(("tokens",), ["a b", "c"], tokenise)
        c = shared_for_values(("tokens",), ["a b", "d"], tokenise)
    assert a == b == [["a", "b"], ["c"]] and c == [["a", "b"], ["d"]]
    assert calls == [["a b", "c"], ["a b", "d"]]
    shared_for_values(("tokens",), ["a b", "c"], tokenise)       # outside a block: computed again
    assert len(calls) == 3
