"""The use cases of the workbench: what the command line and the desktop app do, as plain
functions that take and return plain data (never ORM rows). Both shells are thin layers on it."""
