"""The data layer: read a table (`io`), infer its schema and task (`schema`), check and
coerce it to canonical dtypes (`validate`), and split it for validation (`split`)."""
