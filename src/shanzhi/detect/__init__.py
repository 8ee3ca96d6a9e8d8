"""Detection: classification, duplicates, hotspots, trends.

`classify` suggests event categories from report text (a scikit-learn model trained from the
shipped `corpus/` at first use and cached under data_dir/models); `duplicates` finds likely
repeats of an open event; `cli` adds `shanzhi detect eval|retrain`.
"""
