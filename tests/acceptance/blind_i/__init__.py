"""Fourth blind pass over SPEC: models and odd inputs the earlier passes did not try."""
