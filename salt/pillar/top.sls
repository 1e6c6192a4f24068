# Pillar top file. The secrets registry holds names, paths and commands only (no secret
# material), so every minion may read it.
base:
  '*':
    - secrets_registry
