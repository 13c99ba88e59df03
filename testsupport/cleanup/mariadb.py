"""MariaDB's (and MySQL's) part of the restore: rows compared by count and an MD5 sum, the
AUTO_INCREMENT counters put back last (their ALTER commits implicitly).
https://mariadb.com/kb/en/sql-statements-that-cause-an-implicit-commit/"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from testsupport.cleanup.base import AsRead, Counter, literal


class MariaDB(AsRead):
    def table_check(self, quoted: str, columns: Sequence[str], seeded: bool) -> str:
        if not seeded:
            return f"EXISTS (SELECT 1 FROM {quoted})"
        # The row count and the sum of each row's 64-bit MD5 prefix (exact: DECIMAL): no order, no
        # GROUP_CONCAT (cut at group_concat_max_len). CHECKSUM TABLE is cheaper on big tables (0.31
        # against 1.30 ms for 1000 rows; 0.12 against 0.22 ms for 3, alone, MariaDB 10.11, busy 2-core
        # VM) but a statement of its own, not a part of the one check query, and a 32-bit sum of CRCs.
        row = f"CONCAT_WS(CHAR(31), {', '.join(f'QUOTE({column})' for column in columns)})"
        digest = f"CAST(CONV(LEFT(MD5({row}), 16), 16, 10) AS UNSIGNED)"
        return f"(SELECT CONCAT(COUNT(*), '/', COALESCE(SUM({digest}), 0)) FROM {quoted})"

    def counters(self, connection: Connection) -> list[Counter]:
        """Per AUTO_INCREMENT table: its next id, and the ALTER that puts it back. A rolled-back
        INSERT keeps the id it took, so savepoint tests move them. The ALTER commits implicitly:
        the resets run last in the restore. (MariaDB reads this column live; MySQL 8 caches it
        for information_schema_stats_expiry seconds.)
        https://mariadb.com/kb/en/auto_increment/#setting-or-changing-the-auto_increment-value"""
        quote = connection.dialect.identifier_preparer.quote
        found = connection.exec_driver_sql(
            "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL ORDER BY 1"
        )
        return [
            Counter(
                "(SELECT AUTO_INCREMENT FROM information_schema.TABLES "
                f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {literal(name)})",
                int(value),
                (f"ALTER TABLE {quote(name)} AUTO_INCREMENT = {int(value)}",),
            )
            for name, value in found
        ]

    def empty(self, tables: Sequence[str]) -> list[str]:
        # DELETE, children first: InnoDB refuses TRUNCATE on a table a foreign key references.
        # https://mariadb.com/kb/en/truncate-table/
        return [f"DELETE FROM {name}" for name in tables]
