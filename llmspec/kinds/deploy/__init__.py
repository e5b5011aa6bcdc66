"""`deploy.*`: Kubernetes, KServe, image-build, Spark and MLflow-server artifacts, rendered and
validated."""
