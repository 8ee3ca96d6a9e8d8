"""Deterministic demo data: a synthetic district modelled on Ningbo's 海曙区 (330203).

`shanzhi.demo.district.build_district(seed)` returns the five-level region tree
(district → 17 towns/streets → 164 villages → 572 grids → 2,229 micro-grids) as GeoJSON
Feature dicts, parents before children; `shanzhi.demo.names` makes the village and grid names.
"""
