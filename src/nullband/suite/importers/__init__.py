"""Importers that turn public benchmark files into nullband suites (and records)."""

from nullband.suite.importers.bfcl import import_bfcl, import_bfcl_dir, to_json_schema
from nullband.suite.importers.common import write_suite
from nullband.suite.importers.taubench import import_taubench

__all__ = ["import_bfcl", "import_bfcl_dir", "import_taubench", "to_json_schema", "write_suite"]
