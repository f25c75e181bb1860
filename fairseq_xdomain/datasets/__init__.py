"""fairseq datasets of the plugin's tasks (plain fairseq ``FairseqDataset`` subclasses, no task).

- ``mlm_blocks``: masked-LM blocks of the ``xlm_mlm`` task (fresh or fixed masks, size-ordered
  shuffling, evaluation blocks that are all scored) and XLM's language sampling probabilities.
- ``lang_batch``: the batch contract of the ``unmt_xdomain`` task (``collate``: ``net_input``
  with ``src_langs``/``tgt_langs`` LongTensor [B]) and its truncation rule (``with_eos``).
- ``monolingual_noisy``: monolingual sentences of every language with their noisy versions.
- ``parallel_lang``: dev/test translation directions, scored completely.

Both tasks tag every sentence with its language id under one key, ``net_input["src_langs"]``
(LongTensor [B], ids in the task's ``--langs`` order); UNMT batches also carry ``tgt_langs``.
"""
