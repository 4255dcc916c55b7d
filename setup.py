"""What pyproject.toml cannot say: the package copgate.data is the source tree's lists/.

Everything else (name, version, dependencies, package data) is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["copgate", "copgate.*"]), "copgate.data"],
    package_dir={"copgate.data": "lists"},
)
