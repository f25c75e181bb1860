"""fairseq-xdomain: cross-lingual transfer from domain-mismatched monolingual corpora.

Layout: the repository keeps ``fairseq_xdomain/``, ``preprocess/`` and ``recipes/`` side by side;
installed, ``preprocess/`` is ``fairseq_xdomain.preprocess`` and ``recipes/`` is
``fairseq_xdomain.recipes`` (the shell recipes as package data), so nothing lands in
site-packages under a generic top-level name.

Dependencies: ``install_requires`` are ranges around the tested set in ``requirements.txt``
(torch as a range, so that an installed CUDA torch is kept). fairseq itself is not declared: it
is the ``ve-fairseq`` wheel, installed with ``--no-deps`` from ``requirements-fairseq.txt``
(its ``torchaudio`` requirement would pull a CUDA torch); its own runtime dependencies are
declared here instead, and a missing fairseq is reported in one line (README, "Install").
"""
from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "torch>=2.6,<3",  # torch.load(weights_only) default of 2.6 is handled by fairseq_xdomain.compat
    # fairseq 0.12.3's own runtime dependencies (fairseq is installed --no-deps; no torchaudio)
    "cffi>=1.15",
    "cython>=3.0",
    "hydra-core>=1.3.2,<1.4",
    "omegaconf>=2.3,<2.4",
    "numpy>=2.0,<3",
    "regex>=2023.1",
    "bitarray>=2.8",
    "packaging>=23",
    # what fairseq-xdomain imports itself
    "sacrebleu>=2.3,<3",
    "scikit-learn>=1.3",
    "scipy>=1.11",
    "tqdm>=4.60",
    "fasttext-wheel>=0.9.2,<0.10",
    "sentencepiece>=0.1.99",
    "sacremoses>=0.1",
    "pymorphy3>=2.0",
    "pymorphy3-dicts-ru>=2.4",
    "matplotlib>=3.7",
    "PyYAML>=6.0",
]

setup(
    name="fairseq-xdomain",
    version="0.1.0",
    description=(
        "Joint pre-training on concatenated domain-mismatched corpora for UBLI, UNMT and "
        "cross-lingual word similarity, as a fairseq plugin"
    ),
    python_requires=">=3.11",
    packages=[
        *find_packages(include=["fairseq_xdomain", "fairseq_xdomain.*"]),
        *("fairseq_xdomain." + p for p in find_packages(include=["preprocess", "preprocess.*"])),
        "fairseq_xdomain.recipes",
    ],
    package_dir={
        "fairseq_xdomain.preprocess": "preprocess",
        "fairseq_xdomain.recipes": "recipes",
    },
    package_data={"fairseq_xdomain": ["data/*", "configs/*/*.yaml"], "fairseq_xdomain.recipes": ["*.sh", "*.yaml"]},
    install_requires=INSTALL_REQUIRES,
    # faiss is optional (CSLS kNN falls back to torch); faiss-gpu users install their own build
    extras_require={"faiss": ["faiss-cpu>=1.7"]},
    entry_points={
        "console_scripts": [
            "xdomain-prep=fairseq_xdomain.preprocess.cli:main",
            "xdomain-synth=fairseq_xdomain.synthetic:main",
            "xdomain-embed=fairseq_xdomain.embeddings.cli:main",
            "xdomain-ubli=fairseq_xdomain.ubli.cli:main",
            "xdomain-stdm=fairseq_xdomain.stdm:main",
            "xdomain-wordsim=fairseq_xdomain.wordsim:main",
            "xdomain-report=fairseq_xdomain.report:main",
            "xdomain-eval-bleu=fairseq_xdomain.eval_bleu:main",
            "xdomain-user-dir=fairseq_xdomain.paths:user_dir_main",
            "xdomain-recipe=fairseq_xdomain.paths:recipe_main",
            "xdomain-train=fairseq_xdomain.launch:main",
            "xdomain-run=fairseq_xdomain.experiments.cli:main",
        ]
    },
)
