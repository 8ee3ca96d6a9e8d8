"""The people of the grids: 网格长, 网格员, 微网格长, 民情联络员, 矛盾调解师 — their assignments over time,
their patrol and visit logs, and how well they cover a region."""
