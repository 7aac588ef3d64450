"""SQLite storage: migrations, the catalog (sources, numbers, pools) and the call log."""
