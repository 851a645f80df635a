"""Tagging quality a lead can measure: blind re-tag samples, agreement, taxonomy changes.

``sample`` draws the stratified sample a lead re-tags; ``agreement`` compares the re-tag with
the original tags (kappa per axis, agent and tag); ``taxonomy_diff`` says what a change to
the taxonomy does to the tags already in a corpus.
"""
