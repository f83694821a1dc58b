"""esign kernel and signature engine: settings, database, blob store, audit log; sign and verify PDFs."""

__version__ = "0.1.0"
