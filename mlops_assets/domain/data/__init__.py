"""Reading tabular sources, content hashing and atomic writes.

The modules: `sources` (files, directories, daily files, SQL tables), `paths` (the data roots a
source may read), `hashing`, `atomic_files`, and `errors` (`DataSourceError`).
"""

from mlops_assets.domain.data.atomic_files import (
    WRITER_HOST,
    atomic_path,
    temp_files,
    write_parquet_atomic,
    write_text_atomic,
)
from mlops_assets.domain.data.errors import DataSourceError
from mlops_assets.domain.data.hashing import content_hash, directory_sha256
from mlops_assets.domain.data.paths import (
    DATA_ROOTS_ENV,
    allowed_roots,
    check_data_path,
    check_sql_url,
)
from mlops_assets.domain.data.sources import (
    TABLE_SUFFIXES,
    daily_file,
    is_sql_url,
    read_daily,
    read_sql_day,
    read_sql_table,
    read_table_directory,
    read_table_file,
    redact_url,
)

__all__ = [
    "DATA_ROOTS_ENV",
    "TABLE_SUFFIXES",
    "WRITER_HOST",
    "DataSourceError",
    "allowed_roots",
    "atomic_path",
    "check_data_path",
    "check_sql_url",
    "content_hash",
    "daily_file",
    "directory_sha256",
    "is_sql_url",
    "read_daily",
    "read_sql_day",
    "read_sql_table",
    "read_table_directory",
    "read_table_file",
    "redact_url",
    "temp_files",
    "write_parquet_atomic",
    "write_text_atomic",
]
