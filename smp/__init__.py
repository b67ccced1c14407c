"""The Service Mesh Performance spec in Python: model, schema, readers, histograms, checks."""
