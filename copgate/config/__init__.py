"""The config file: UCI or TOML, read into the typed model of ``copgate.policy.model``.

``copgate.config.load`` is the entry point (``load_config``, ``reload_config``).
"""
