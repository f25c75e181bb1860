"""Unsupervised bilingual lexicon induction: adversarial mapping, Procrustes, CSLS, evaluation.

Plain numpy/PyTorch; importing it does not import fairseq. The fairseq task/criterion/model
(``muse_ubli``/``muse_adversarial``/``muse_mapping``) are thin adapters over these functions.
"""
