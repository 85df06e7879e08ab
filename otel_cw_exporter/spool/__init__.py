"""The durable spool (``spool_dir``): events not delivered yet, kept on disk until CloudWatch stores them.

``store`` (one SQLite file, its schema version), ``files`` (a file per process, its lock, adopting a dead
process's file), ``deadletter`` (what will never be stored, as JSON lines), ``spool`` (one exporter's
files and bounds), ``losses`` (which lost events are kept, which dead-lettered), ``replay`` (the one
thread that sends them again). Imported only when a ``spool_dir`` is configured.
"""
