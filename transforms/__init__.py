"""Pure Polars functions: reading, normalising, classifying, scoring. No Dagster here."""
