"""The store's error tree: StoreError and what it splits into."""

from dataclasses import dataclass


class StoreError(Exception):
    """Anything the store cannot do; the message names the database and the fix."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer release than this one."""

    def __init__(self, path, found, known):
        super().__init__(
            f"{path}: database schema version {found} is newer than this release knows "
            f"(up to {known}); run the release that wrote it, or restore a backup made "
            f"for this release")
        self.path = str(path)
        self.found = found
        self.known = known


class MigrationError(StoreError):
    """A migration failed; it was rolled back and the database is at the version before."""

    def __init__(self, path, version, cause):
        super().__init__(
            f"{path}: schema migration {version} failed ({cause}); the database was left at "
            f"version {version - 1}, unchanged; check the disk and the file, then restart")
        self.path = str(path)
        self.version = version


class UnknownCallError(StoreError):
    """A CDR operation named a call the store has no open record of."""


@dataclass(frozen=True)
class CsvRowIssue:
    """One problem with a customers CSV: 1-based line, column name ('' for the whole row)."""

    line: int
    column: str
    problem: str

    def __str__(self):
        where = f"line {self.line}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.problem}"


class CustomerImportError(StoreError):
    """A customers CSV had bad rows; nothing of it was imported. `issues` lists them all."""

    def __init__(self, path, issues):
        self.path = str(path)
        self.issues = list(issues)
        shown = "; ".join(str(i) for i in self.issues[:20])
        more = f"; and {len(self.issues) - 20} more" if len(self.issues) > 20 else ""
        super().__init__(f"{path}: {len(self.issues)} bad row(s), nothing imported: "
                         f"{shown}{more}")
