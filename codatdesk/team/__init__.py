"""Team mode: one PostgreSQL for the finance team, one server for Codat, every desktop live."""
