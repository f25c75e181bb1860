"""Word embeddings: fastText training (separate or joint) and .vec/.bin reading and writing."""
