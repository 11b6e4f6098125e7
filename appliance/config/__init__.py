"""The box's configuration: one TOML file, validated as a whole before anything starts."""
