"""The warehouse: its schema and the guard against unmigrated databases (schema, db), bulk
writes, the catalog of canonical architectures, ground truth with its repeats, files by URI and
sha256 (artifacts), the one lookup of every named thing, populating spaces, and stored sub-spaces.
Builds on wsdb.base and wsdb.spaces."""
