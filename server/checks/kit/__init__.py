"""The check API: what a check is, how it is evaluated, registered and configured."""
