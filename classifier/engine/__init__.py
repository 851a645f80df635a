"""Corpus commands past one machine: the same library functions, run on a Dask cluster.

``feedtag suggest|audit|export --engine dask [--scheduler ADDRESS]`` read a partitioned dataset (one
task per file, rows numbered as the single-machine path numbers them) on the workers of a Dask
``distributed`` cluster: an existing one named by its scheduler's address, or a
``LocalCluster`` started on this machine. Suggestions are a map over the files with the model
sent to every worker once; the audit runs its row checks per file and its cross-row checks on
the keys shuffled by text hash and id hash; an export selects (and suggests) per file and is
written here in dataset order. The results equal the single-machine results
(tests/test_distributed.py). ``distributed`` is an optional extra:
``pip install 'feedtag[dask]'``.

Nothing here imports Dask at import time: each function does, so a missing extra is one line.
"""

from classifier.engine.audit import DistributedAudit, distributed_audit
from classifier.engine.cluster import engine_client, require_dask
from classifier.engine.export import distributed_export
from classifier.engine.folds import cross_validate_on
from classifier.engine.suggest import SuggestedParts, distributed_suggest

__all__ = [
    "DistributedAudit",
    "SuggestedParts",
    "cross_validate_on",
    "distributed_audit",
    "distributed_export",
    "distributed_suggest",
    "engine_client",
    "require_dask",
]
