"""Packaging for `apply`: the app logged as an MLflow pyfunc model and registered."""
