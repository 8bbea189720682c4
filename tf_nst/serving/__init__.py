"""The exported model and its clients.

- `contract`: the TensorFlow-free wire contract (signature, tensor and control names, dtypes, caps,
  what an export fixes), imported by the export, the clients, the Beam driver and the CLI.
- `export_files`: an export's latest version, its info file and its signature defaults.
- `export` (SavedModel signatures) and `client` (in-process, gRPC, REST).
"""
