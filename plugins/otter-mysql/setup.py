"""otter-mysql: the compiled row decoder is optional (``optional=True``): without a C compiler and the
Python headers, pip still installs the package and ``otter_mysql.rowcodec`` uses generated Python."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("otter_mysql._rowdecode", ["otter_mysql/_rowdecode.c"], optional=True,
                             extra_compile_args=["-O2"])])
