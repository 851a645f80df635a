"""Near-duplicate groups of short texts: the same problem reported by several customers.

Texts equal after ``normalise_text`` are one text. The distinct texts are compared by TF-IDF
cosine (words, English stop words left out, sublinear counts, IDF fitted on the texts
compared), only within their block (a team), and every pair at or above the threshold joins
one group (connected components), so an agent can file one issue for the whole group.

Why TF-IDF words and not MinHash or word pairs: customers describing one bug share its
content words, rarely whole phrases. On the example export, four customers reporting one
problem in their own words score 0.41-0.62 with words alone but 0.12-0.22 with word pairs
added, while no two unrelated bug reports of one team reach 0.40; MinHash on shingles
estimates phrase overlap, which is lower still. The pairwise products run over sparse rows
in chunks, on distinct texts only, within one team; BENCHMARKS.md has the time at a million
messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from classifier.corpus import normalise_text

if TYPE_CHECKING:
    import numpy as np

DEFAULT_SIMILARITY = 0.4
CHUNK = 2048


def near_duplicates(texts: list[str], blocks: np.ndarray, threshold: float) -> np.ndarray:
    """A group number per text (0, 1, ...): texts of one block at ``threshold`` cosine or more
    are linked, and linked texts share a group. Empty texts are groups of their own."""
    import numpy as np
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    folded = pd.Series(normalise_text(texts), dtype=object)
    block_codes = pd.factorize(pd.Series(blocks, dtype=object).fillna(""))[0]
    empty = (folded == "").to_numpy()
    keyed = folded.where(~empty, pd.Series(np.arange(n).astype(str)).radd("\x00"))
    distinct, firsts = pd.factorize(pd.Series(keyed + "\x01" + block_codes.astype(str)))
    representative = np.unique(distinct, return_index=True)[1]  # first text of each code
    rows, cols = _similar_pairs(
        [texts[i] for i in representative],
        block_codes[representative],
        empty[representative],
        threshold,
    )
    size = len(firsts)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return pd.factorize(labels[distinct])[0].astype(np.int64)


def _similar_pairs(
    texts: list[str], blocks: np.ndarray, empty: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of texts in one block with cosine at or above ``threshold``."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    useful = np.flatnonzero(~empty)
    if len(useful) < 2:
        return none
    vectorizer = TfidfVectorizer(
        strip_accents="unicode",
        stop_words="english",
        sublinear_tf=True,
        dtype=np.float32,
    )
    try:
        matrix = vectorizer.fit_transform([texts[i] for i in useful]).tocsr()
    except ValueError:  # nothing but stop words
        return none
    found_rows, found_cols = [], []
    for block in np.unique(blocks[useful]):
        members = np.flatnonzero(blocks[useful] == block)
        if len(members) < 2:
            continue
        part = matrix[members]
        transposed = part.T.tocsr()
        for start in range(0, len(members), CHUNK):
            product = (part[start : start + CHUNK] @ transposed).tocoo()
            keep = (product.data >= threshold - 1e-6) & (product.row + start < product.col)
            found_rows.append(useful[members[product.row[keep] + start]])
            found_cols.append(useful[members[product.col[keep]]])
    if not found_rows:
        return none
    return np.concatenate(found_rows), np.concatenate(found_cols)
