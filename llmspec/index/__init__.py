"""The retrieval index: corpus documents -> chunks -> embeddings -> a LanceDB table."""
