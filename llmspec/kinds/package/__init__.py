"""`package.*`: the app logged as an MLflow pyfunc model (runtime package, settings,
adapter) and registered; `settings` writes the runtime's app contract from a spec."""
