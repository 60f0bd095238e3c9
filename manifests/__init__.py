"""The default suites, shipped inside gp2bm as the package ``gp2bm.spec.suites``.

pyproject.toml maps that package to this folder: an editable install reads (and ``gp2bm
pin`` writes) the files here; ``pip install .`` copies them into the installed package.
"""
