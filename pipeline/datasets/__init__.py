"""Lines as data: image preparation, sources (generated, folders, scene-text LMDBs), the shard
format and the shard builder (no torch); the training loader and the mixing of splits (torch).
Import the module you need: this package imports nothing by itself."""
