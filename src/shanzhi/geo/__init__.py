"""Coordinates, the region tree and the spatial index."""
