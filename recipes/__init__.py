"""The shell recipes (``*.sh``), shipped as package data of ``fairseq_xdomain.recipes``.

In the repository they stay in ``recipes/``; installed, they are inside the package. Find them
with ``fairseq_xdomain.paths.recipe_path(NAME)`` or run them with ``xdomain-recipe NAME ...``.
"""
