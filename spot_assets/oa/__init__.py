"""Operational analytics (Spot's spot-oa, spec §4): what an analyst sees beside a suspicious event.

Pure functions over Arrow tables in small modules, Dagster only in the ``*_assets`` modules. Enrichment:
``context`` (internal/external, network names, geolocation), ``reputation`` (plug-ins), ``domains``,
``iana``, ``services`` and ``severity``, put together by ``enrich`` and run by ``enrich_assets`` as the
daily ``<type>_enriched`` assets.
"""
