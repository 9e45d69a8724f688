"""Pipeline definition (create_pipeline) and its configuration."""
