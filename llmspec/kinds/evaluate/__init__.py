"""`eval.*`: per-example scores through the packaged model, their aggregates with bootstrap
confidence intervals, and the gates that decide promotion."""
