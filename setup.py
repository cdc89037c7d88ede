"""Build of the optional C extension (the fast audit engine's scanner); metadata is in
pyproject.toml. Without a C compiler the package still installs: the engine then uses
its pure-Python path (see nullband.traces.native)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "nullband.traces._scan",
            ["src/nullband/traces/_scan.c"],
            optional=True,
            extra_compile_args=["-O3", "-Wall", "-Wextra"],
        )
    ]
)
