"""Audit a tagged corpus: every message exactly one tag per axis, recorded once.

Checks are plain functions with one shape (corpus in, findings out); ``run_audit`` runs them.
"""

from classifier.audit.checks import COLUMNS
from classifier.audit.report import CHECKS, SEVERITIES, AuditReport, Summary, run_audit

__all__ = ["CHECKS", "COLUMNS", "SEVERITIES", "AuditReport", "Summary", "run_audit"]
