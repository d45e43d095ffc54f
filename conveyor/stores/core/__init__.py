"""The store algorithm written once, over a :class:`~conveyor.stores.core.dialect.Dialect`.

The SQL stores (``stores/sqlite``, ``stores/postgres``; ``memory://`` is SQLite in memory)
are a dialect each: their named queries (``queries.sql``), parameter style, clock, JSON
text, locks and error classification. The mixins here hold what a store does with them
(filters, reading, acting on jobs, workers, ...), so a feature or a fix is made once.
"""
