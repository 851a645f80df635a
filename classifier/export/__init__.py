"""Feedback by team for product teams: one file per tag, digests, and the index."""
