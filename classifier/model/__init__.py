"""The classifier: text features, linear heads, calibration and thresholds, and model directories.

Modules point one way: ``text``, ``features``, ``heads``, ``thresholds``, ``metrics`` and
``suggestion`` are the parts; ``estimator`` fits and scores with them; ``predictor`` holds the
prediction methods a loaded model uses without scikit-learn, over ``inference`` (features
from plain data) and ``tokenizer`` (spaCy's rules without spaCy); ``store`` saves and loads a
model directory through ``serialise`` and ``schema`` (``legacy`` converts format 1);
``training`` and ``evaluate`` work on corpora above that. Nothing is imported here, so loading
one part does not pull in the others.
"""
