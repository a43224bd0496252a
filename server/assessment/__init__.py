"""Assessment execution: runner, progress bus, scheduler and run liveness."""
