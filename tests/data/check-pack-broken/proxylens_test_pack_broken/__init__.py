"""A check pack that fails at import, as one with a missing dependency or a bug would."""

raise RuntimeError("proxylens-test-pack-broken cannot start: its configuration is missing")
