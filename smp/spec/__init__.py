"""SMP as the specification writes it: reading every shape it has had, and canonical export.

:mod:`smp.spec.read` reads documents (results, bundles, test, mesh and environment
configurations) in MeshMark's names, the current protos' (snake_case or
lowerCamelCase), the v0.1 proto's, the legacy sample's and Meshery's test
configuration; :mod:`smp.spec.export` writes the spec's own messages in the
proto3 JSON mapping, with MeshMark's extra figures in labels and an extension
document. The tables of names are :mod:`smp.spec.fields` and :mod:`smp.spec.names`.
"""
