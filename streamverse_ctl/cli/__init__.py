"""The command line: one small module per verb. Only this package turns errors into exit codes."""
