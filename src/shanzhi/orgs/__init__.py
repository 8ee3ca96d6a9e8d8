"""Organizations of every kind: handling units and alliance members alike."""
