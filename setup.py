# cffi's setuptools hook cannot be declared in pyproject.toml (python-cffi/cffi#55).
from setuptools import setup

setup(cffi_modules=["native/build_dsp.py:ffibuilder"])
