"""Evaluation for `apply`: per-example scores, their aggregates with bootstrap confidence
intervals, and the gates that decide promotion."""
