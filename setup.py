"""fairseq-xdomain: cross-lingual transfer from domain-mismatched monolingual corpora.

Layout: the source tree reads the way it imports (``fairseq_xdomain/preprocess/`` is
``fairseq_xdomain.preprocess``); only ``recipes/`` sits beside the package in the repository and is
installed as ``fairseq_xdomain.recipes`` (the shell recipes as package data), so nothing lands in
site-packages under a generic top-level name.

Documentation: ``docs/*.md`` is installed as ``fairseq_xdomain/docs/`` (package data) and printed
by ``xdomain-docs NAME``, so every ``docs/X.md`` an error or ``--help`` names is on a pip user's
machine. Licence: MIT (``LICENSE``, shipped in the wheel); the paper is cited in the README (the
long description) and in ``CITATION.cff``.

Dependencies: ``install_requires`` are ranges around the tested set in ``requirements.txt``
(torch as a range, so that an installed CUDA torch is kept). fairseq itself is not declared: it
is the ``ve-fairseq`` wheel, installed with ``--no-deps`` from ``requirements-fairseq.txt``
(its ``torchaudio`` requirement would pull a CUDA torch); its own runtime dependencies are
declared here instead, and a missing fairseq is reported in one line (README, "Install").
"""
from pathlib import Path

from setuptools import find_packages, setup

# Licence: MIT (LICENSE). fairseq itself is MIT, torch BSD-3, the other dependencies MIT/BSD/
# Apache-2.0/PSF/MPL-2.0 (tqdm, certifi: used unmodified), all compatible with distributing this
# package under MIT; MUSE (CC BY-NC 4.0) and XLM code are not copied (docs/design.md).
PAPER = ("Daniel Edmiston, Phillip Keung, Noah A. Smith. Domain Mismatch Doesn't Always Prevent "
         "Cross-lingual Transfer Learning. LREC 2022. arXiv:2211.16671")

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
    "filelock>=3.12",  # one run per work/results folder (common/folder_lock.py)
]

setup(
    name="fairseq-xdomain",
    version="0.1.0",
    description=(
        "Joint pre-training on concatenated domain-mismatched corpora for UBLI, UNMT and "
        "cross-lingual word similarity, as a fairseq plugin"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author="The fairseq-xdomain developers",
    license="MIT",
    license_files=["LICENSE"],
    # no repository address is published: the paper is the project's page; the documentation is
    # shipped in the package (docs/*.md as fairseq_xdomain.docs, opened by `xdomain-docs NAME`)
    url="https://arxiv.org/abs/2211.16671",
    project_urls={
        "Paper": "https://arxiv.org/abs/2211.16671",
    },
    keywords="cross-lingual transfer, domain mismatch, bilingual lexicon induction, "
             "unsupervised machine translation, fairseq",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Operating System :: POSIX :: Linux",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Text Processing :: Linguistic",
    ],
    python_requires=">=3.11",
    packages=[
        *find_packages(include=["fairseq_xdomain", "fairseq_xdomain.*"]),
        "fairseq_xdomain.recipes",
        "fairseq_xdomain.docs",
    ],
    package_dir={"fairseq_xdomain.recipes": "recipes", "fairseq_xdomain.docs": "docs"},
    package_data={"fairseq_xdomain": ["data/*", "configs/*/*.yaml"],
                  "fairseq_xdomain.recipes": ["*.sh", "*.yaml"],
                  "fairseq_xdomain.docs": ["*.md"]},
    install_requires=INSTALL_REQUIRES,
    # faiss is optional (CSLS kNN falls back to torch); faiss-gpu users install their own build
    extras_require={"faiss": ["faiss-cpu>=1.7"]},
    entry_points={
        "console_scripts": [
            "xdomain-prep=fairseq_xdomain.preprocess.cli:main",
            "xdomain-synth=fairseq_xdomain.synthetic:main",
            "xdomain-embed=fairseq_xdomain.embeddings.cli:main",
            "xdomain-ubli=fairseq_xdomain.ubli.commands.cli:main",
            "xdomain-stdm=fairseq_xdomain.stdm:main",
            "xdomain-wordsim=fairseq_xdomain.wordsim:main",
            "xdomain-report=fairseq_xdomain.report:main",
            "xdomain-eval-bleu=fairseq_xdomain.eval_bleu:main",
            "xdomain-user-dir=fairseq_xdomain.paths:user_dir_main",
            "xdomain-recipe=fairseq_xdomain.paths:recipe_main",
            "xdomain-docs=fairseq_xdomain.paths:docs_main",
            "xdomain-train=fairseq_xdomain.launch:main",
            "xdomain-run=fairseq_xdomain.experiments.cli:main",
        ]
    },
)
