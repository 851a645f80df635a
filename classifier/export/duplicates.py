"""Near-duplicate groups of short texts: the same problem reported by several customers.

Texts with the same letters (case, accents, digits such as order numbers, punctuation and
spacing aside) are one text. The distinct texts are compared by TF-IDF cosine (words of two
or more letters, English function words left out, ``1 + ln(count)``, IDF fitted on the texts
compared), only within their block (a team). In order of first appearance, a text joins the
group of the first earlier group leader it is at least ``threshold`` similar to, or leads a
group of its own, so every member is like its group's first report and an agent can file one
issue for the whole group.

Why TF-IDF words and not MinHash or word pairs: customers describing one bug share its
content words, rarely whole phrases. On the example export, four customers reporting one
problem in their own words score 0.41-0.62 with words alone but 0.12-0.22 with word pairs
added, while no two unrelated bug reports of one team reach 0.40; MinHash on shingles
estimates phrase overlap, which is lower still. The pairwise products run over sparse rows
in chunks, on distinct texts only, within one team; BENCHMARKS.md has the time at a million
messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DEFAULT_SIMILARITY = 0.4
CHUNK = 2048
# Function words that say nothing about which problem a message reports.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can cannot could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also get got im ive dont doesnt didnt isnt cant wont hi hello
    hey please thanks thank us ll re ve
    """.split()  # noqa: SIM905 (a list literal of 150 words reads worse)
)


def near_duplicates(texts: list[str], blocks: Any, threshold: float) -> np.ndarray:
    """A group number per text (0, 1, ...): texts of one block at ``threshold`` cosine or more
    are linked, and linked texts share a group. Texts without letters are groups of their own."""
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    raw, raw_texts = pd.factorize(pd.Series(texts, dtype=object))  # fold each distinct text once
    folded = _folded(raw_texts.tolist())
    letters = pc.replace_substring_regex(folded, r"[^\p{L}]+", "").to_numpy(zero_copy_only=False)
    block_codes = pd.factorize(pd.Series(blocks, dtype=object).fillna(""))[0]
    key = letters[raw].astype(object)
    empty = key == ""
    key[empty] = np.char.add("\x00", np.arange(n)[empty].astype(str)).astype(object)
    distinct, firsts = pd.factorize(pd.Series(key) + "\x01" + block_codes.astype(str))
    representative = np.unique(distinct, return_index=True)[1]  # first text of each code
    rows, cols = _similar_pairs(
        folded.take(raw[representative]),
        block_codes[representative],
        empty[representative],
        threshold,
    )
    labels = _leaders(rows, cols, len(firsts))
    return pd.factorize(labels[distinct])[0].astype(np.int64)


def _leaders(rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """Group of each text: the first earlier group leader it is similar to, else its own.

    Every member is similar to its group's first text. Connected components would chain
    (a ~ b ~ c puts a and c together however unlike they are): on texts that each share a
    sentence with a few dozen others, they merged 82,171 reports into 27 groups.
    """
    import numpy as np

    group = np.arange(size)
    if not len(rows):
        return group
    order = np.lexsort((rows, cols))
    rows, cols = rows[order], cols[order]
    leader = np.ones(size, dtype=bool)
    starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
    ends = np.r_[starts[1:], len(cols)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        earlier = rows[start:end]
        found = earlier[leader[earlier]]
        if len(found):
            text = cols[start]
            group[text] = found[0]
            leader[text] = False
    return group


def _similar_pairs(
    folded: Any, blocks: np.ndarray, empty: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of texts in one block with cosine at or above ``threshold``."""
    import numpy as np

    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    useful = np.flatnonzero(~empty)
    if len(useful) < 2:
        return none
    matrix = tfidf(folded.take(useful))
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


def tfidf(folded: Any) -> Any:
    """L2-normalised TF-IDF rows (scipy CSR) of folded texts (see :func:`_folded`).

    Words of two or more letters, :data:`STOP_WORDS` left out, ``1 + ln(count)`` times
    scikit-learn's smoothed IDF. Written with Arrow's string kernels and numpy: on the tens
    of thousands of texts of a big corpus, ``TfidfVectorizer``'s tokenizer loop and its import
    took longer than the rest of ``feedtag issues``.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    from scipy.sparse import csr_matrix

    words = pc.split_pattern_regex(folded, r"[^\p{L}]+")
    flat = pc.list_flatten(words)
    doc = pc.list_parent_indices(words).to_numpy()
    stop = pa.array(sorted(STOP_WORDS), type=flat.type)
    keep = pc.and_(
        pc.greater_equal(pc.utf8_length(flat), 2), pc.invert(pc.is_in(flat, value_set=stop))
    )
    terms, vocabulary = pd.factorize(pc.filter(flat, keep).to_numpy(zero_copy_only=False))
    doc = doc[keep.to_numpy(zero_copy_only=False)].astype(np.int64)
    n, size = len(folded), max(len(vocabulary), 1)
    pairs, counts = np.unique(doc * size + terms, return_counts=True)
    rows, cols = pairs // size, pairs % size
    df = np.bincount(cols, minlength=size)
    idf = np.log((1 + n) / (1 + df)) + 1.0
    weight = (1.0 + np.log(counts)) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=weight**2, minlength=n))
    weight = weight / np.where(norms > 0, norms, 1.0)[rows]
    return csr_matrix((weight.astype(np.float32), (rows, cols)), shape=(n, size))


def _folded(texts: list[str]) -> Any:
    """Lower case, accents taken off (NFKD, combining marks dropped), as an Arrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    folded = pc.utf8_lower(pc.utf8_normalize(pa.array(texts, type=pa.large_string()), "NFKD"))
    return pc.replace_substring_regex(folded, r"\p{M}", "")
