"""The exported model and its clients: `export` (SavedModel signatures) and `client` (gRPC / REST / in-process)."""
