"""Stages 7-8: the resource graph with content digests, and the plan against recorded state."""
