"""`index.*`: corpus documents -> chunks -> embeddings -> a LanceDB table, incrementally."""
