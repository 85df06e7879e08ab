"""The provable audit trail: events numbered and chained by their writer, and the check of a stored trail.

``chain`` is the text format (sealing and reading one event), ``writer`` the exporter's side (numbers,
chains, announcements of its drops and of the SDK's queue-full drops), ``verifier`` the check
``otel-cw-exporter verify`` runs. See the README's "A provable audit trail".
"""
