"""Dataset versions as the rows of a database table or query, through SQLAlchemy (PostgreSQL, or any database it
speaks), chosen by `ModelSettings.data_source.kind = "database"`.

The URL, with its credentials, comes only from the environment variable that `data_source.database_url_env` names. Table
mode: the rows of `table` whose `version_column` equals the key, without that column, ordered by the row key
(config.row_key), so that a failure's row number is stable. Query mode: `query` with the parameter `:version`
(order it yourself), and `versions_query` for the keys. The same contract and failure table apply, with the table
(or "query") as the file. The content hash is computed on the rows read (their CSV text), so it changes exactly
when what raw_dataset would read changes. A version is committed in one transaction: there is nothing to settle.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

from mlops_assets.infra.sources.base import DataSource, Fingerprint, RawVersion
from mlops_assets.infra.sources.files import hash_part

if TYPE_CHECKING:
    from mlops_assets.settings import DataSourceSettings


class DatabaseSource(DataSource):
    def __init__(
        self,
        url: str,
        *,
        table: str | None = None,
        version_column: str = "dataset_version",
        query: str | None = None,
        versions_query: str | None = None,
        row_key: list[str] | tuple[str, ...] = (),
    ):
        import sqlalchemy as sa

        if (table is None) == (query is None):
            raise ValueError("the database source needs either `table` or `query` (not both)")
        if query is not None and versions_query is None:
            raise ValueError("the database source's `query` needs a `versions_query` that lists the version keys")
        self.engine = sa.create_engine(url, pool_pre_ping=True)  # one pool for this source's lifetime
        self.table, self.version_column, self.row_key = table, version_column, list(row_key)
        self.query, self.versions_query = query, versions_query
        self.location = f"table {table}" if table else "query"
        self._reflected = None

    @classmethod
    def from_settings(cls, source: DataSourceSettings, row_key: list[str]) -> DatabaseSource:
        url = os.environ.get(source.database_url_env)
        if not url:
            raise ValueError(
                f"the database source reads its URL from ${source.database_url_env}, which is not set "
                "(credentials never go into the configuration)"
            )
        return cls(
            url,
            table=source.table,
            version_column=source.version_column,
            query=source.query,
            versions_query=source.versions_query,
            row_key=row_key,
        )

    def _sa_table(self):
        import sqlalchemy as sa

        if self._reflected is None:
            schema, _, name = self.table.rpartition(".")
            self._reflected = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=self.engine)
        return self._reflected

    def _rows(self, key: str):
        """The SELECT of one version's rows."""
        import sqlalchemy as sa

        if self.query is not None:
            return sa.text(self.query).bindparams(version=key).columns()
        table = self._sa_table()
        columns = [column for column in table.c if column.name != self.version_column]
        order = [table.c[name] for name in self.row_key if name in table.c]
        return sa.select(*columns).where(table.c[self.version_column] == key).order_by(*order)

    def list_versions(self) -> dict[str, str | None]:
        import sqlalchemy as sa

        if self.versions_query is not None:
            statement = sa.text(self.versions_query)
        else:
            statement = sa.select(self._sa_table().c[self.version_column]).distinct()
        with self.engine.connect() as connection:
            return {str(row[0]): None for row in connection.execute(statement) if row[0] is not None}

    def fingerprint(self, key: str) -> Fingerprint:
        """The row count: cheap on the server; an update that keeps the count is found by the content hash."""
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(self._rows(key).subquery())).scalar()
        return Fingerprint(identity=f"rows:{count}")

    def content_hash(self, key: str) -> str:
        return self.read(key).content_hash

    def read(self, key: str) -> RawVersion:
        import pandas as pd

        with self.engine.connect() as connection:
            frame = pd.read_sql(self._rows(key), connection)
        digest = hashlib.sha256()
        hash_part(digest, self.location, [frame.to_csv(index=False).encode()])
        version = RawVersion(key, self.location, [self.location], content_hash=digest.hexdigest())
        version.parts.append((self.location, frame))
        return version

    def close(self) -> None:
        self.engine.dispose()
