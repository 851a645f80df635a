"""The classifier: text features, linear heads, calibration and thresholds, and model directories.

Modules point one way: ``text``, ``features``, ``heads``, ``thresholds``, ``metrics`` and
``suggestion`` are the parts; ``estimator`` fits and scores with them; ``store`` saves and loads
an estimator; ``training`` and ``evaluate`` work on corpora above that. Nothing is imported here,
so loading one part does not pull in the others.
"""
