"""otter-mysql: the compiled part (row decoder, SQL literals, event construction) is optional
(``optional=True``): without a C compiler and the Python headers pip still installs the package, and
``otter_mysql.rowcodec``/``dialect``/``handover`` use their Python code instead."""

from glob import glob

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "otter_mysql._rowdecode",
            sorted(glob("otter_mysql/_native/*.c")),
            depends=sorted(glob("otter_mysql/_native/*.h")),
            optional=True,
            extra_compile_args=["-O2"],
            libraries=["z"],  # CRC32 of binlog events (binlog.c)
        )
    ]
)
