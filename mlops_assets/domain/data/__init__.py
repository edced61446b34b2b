"""Reading tabular sources, content hashing and atomic writes.

The modules: `sources` (files, directories, daily files, SQL tables), `paths` (the data roots a
source may read), `hashing`, `atomic_files`, and `errors` (`DataSourceError`).
"""

from typing import TYPE_CHECKING

from mlops_assets.domain.lazy_exports import lazy_exports

# Loaded on first use: the code location imports this package's light names only.
__all__, _load = lazy_exports(__name__, __file__)


def __getattr__(name: str) -> object:
    return _load(name)


if TYPE_CHECKING:
    from mlops_assets.domain.data.atomic_files import (
        WRITER_HOST as WRITER_HOST,
        atomic_path as atomic_path,
        temp_files as temp_files,
        write_parquet_atomic as write_parquet_atomic,
        write_text_atomic as write_text_atomic,
    )
    from mlops_assets.domain.data.errors import (
        DataSourceError as DataSourceError,
    )
    from mlops_assets.domain.data.hashing import (
        content_hash as content_hash,
        directory_sha256 as directory_sha256,
    )
    from mlops_assets.domain.data.paths import (
        DATA_ROOTS_ENV as DATA_ROOTS_ENV,
        PathEscapeError as PathEscapeError,
        allowed_roots as allowed_roots,
        check_data_path as check_data_path,
        check_sql_url as check_sql_url,
        checked_table_name as checked_table_name,
        path_under as path_under,
    )
    from mlops_assets.domain.data.sources import (
        TABLE_SUFFIXES as TABLE_SUFFIXES,
        daily_file as daily_file,
        is_sql_url as is_sql_url,
        read_daily as read_daily,
        read_sql_day as read_sql_day,
        read_sql_table as read_sql_table,
        read_table_directory as read_table_directory,
        read_table_file as read_table_file,
        redact_url as redact_url,
    )
