"""Policy as data: default files here; a district overrides any of them in SHANZHI_POLICY_DIR."""
