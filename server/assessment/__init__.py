"""Assessment execution: domain types, check registry, runner, progress bus, scheduler."""
