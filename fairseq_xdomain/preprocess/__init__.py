"""Corpus preprocessing for fairseq-xdomain (``xdomain-prep``): sample, tokenize, lemmatize,
concatenate, sentencepiece, binarize. Streams; never loads a whole corpus in memory."""
