"""The box's database: CDRs, the event log KPIs are computed from, voicemails, customers.

Store (db.py) is a connection for reading and for writing off the tick; StoreWriter
(writer.py) is what the engine writes through from the tick. See README.md.
"""

from appliance.store.db import (CALL_CLOSED_ON_RESTART, Cdr, Customer, Event, ImportReport,
                                Store, Voicemail, normalize_number)
from appliance.store.errors import (CsvRowIssue, CustomerImportError, MigrationError,
                                    SchemaTooNewError, StoreError, UnknownCallError)
from appliance.store.writer import StoreWriter

__all__ = ["CALL_CLOSED_ON_RESTART", "Cdr", "Customer", "Event", "ImportReport", "Store",
           "Voicemail",
           "normalize_number", "CsvRowIssue", "CustomerImportError", "MigrationError",
           "SchemaTooNewError", "StoreError", "UnknownCallError", "StoreWriter"]
