"""fairseq-xdomain: cross-lingual transfer from domain-mismatched monolingual corpora."""
from setuptools import find_packages, setup

setup(
    name="fairseq-xdomain",
    version="0.1.0",
    description=(
        "Joint pre-training on concatenated domain-mismatched corpora for UBLI, UNMT and "
        "cross-lingual word similarity, as a fairseq plugin"
    ),
    python_requires=">=3.11",
    packages=find_packages(include=["fairseq_xdomain", "fairseq_xdomain.*", "preprocess", "preprocess.*"]),
    package_data={"fairseq_xdomain": ["data/*"]},
    entry_points={
        "console_scripts": [
            "xdomain-prep=preprocess.cli:main",
            "xdomain-synth=fairseq_xdomain.synthetic:main",
            "xdomain-embed=fairseq_xdomain.embeddings.cli:main",
            "xdomain-ubli=fairseq_xdomain.ubli.cli:main",
            "xdomain-stdm=fairseq_xdomain.stdm:main",
            "xdomain-wordsim=fairseq_xdomain.wordsim:main",
            "xdomain-report=fairseq_xdomain.report:main",
            "xdomain-eval-bleu=fairseq_xdomain.eval_bleu:main",
            "xdomain-train=fairseq_xdomain.launch:main",
        ]
    },
)
