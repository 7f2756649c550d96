"""The page kinds, one module each; dashboards.catalogue lists them in build order."""
